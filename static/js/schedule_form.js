// /schedules/new: the "next 5 fire times" preview, computed by the server
// (GET /jobs/api/schedules/preview/) as the cron or the time zone is typed.
(function () {
  "use strict";

  var live = window.JobschedLive;
  var form = document.getElementById("schedule-form");
  var section = document.getElementById("cron-preview");
  if (!live || !form || !section) {
    return;
  }
  var list = section.querySelector("[data-preview-list]");
  var problem = section.querySelector("[data-preview-problem]");
  var cron = form.querySelector("#cron");
  var zone = form.querySelector("#timezone");
  var asked = 0;

  function show(lines, message) {
    list.textContent = "";
    lines.forEach(function (line) {
      list.appendChild(live.el("li", null, line));
    });
    problem.hidden = !message;
    problem.textContent = message || "";
  }

  function refresh() {
    var ticket = ++asked;  // only the answer to the latest question is shown
    var query = "?cron=" + encodeURIComponent(cron.value) +
      "&timezone=" + encodeURIComponent(zone.value || "UTC");
    live.api("GET", "/schedules/preview/" + query).then(function (result) {
      if (ticket !== asked) {
        return;
      }
      if (result.ok) {
        show(result.body.local, "");
      } else {
        var errors = (result.body && result.body.errors) || {};
        show([], errors.cron || errors.timezone || live.errorMessage(result));
      }
    });
  }

  var later = null;
  function soon() {
    window.clearTimeout(later);
    later = window.setTimeout(refresh, 300);
  }
  cron.addEventListener("input", soon);
  zone.addEventListener("input", soon);
})();
