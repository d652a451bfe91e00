// The job form: show the argument fields of the chosen task only. Without this script every
// task's fields are shown and the server uses the chosen task's.
(function () {
  "use strict";

  var form = document.getElementById("job-form");
  if (!form) {
    return;
  }
  var select = form.querySelector("select[name=task]");
  var groups = form.querySelectorAll("fieldset[data-task]");

  function showChosen() {
    groups.forEach(function (group) {
      var chosen = group.getAttribute("data-task") === select.value;
      group.hidden = !chosen;
      // Hidden inputs are not sent, so only the chosen task's arguments reach the server.
      group.disabled = !chosen;
    });
  }

  select.addEventListener("change", showChosen);
  showChosen();
})();
