// Small enhancements shared by every page. Loaded as a file because the
// Content-Security-Policy refuses inline scripts.
(function () {
  "use strict";

  // <form data-confirm="Question?">: ask before submitting (revoke, delete, ...).
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  function selectContents(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function announce(button, text) {
    var status = document.getElementById(button.getAttribute("aria-controls") + "-status");
    if (status) {
      status.textContent = text;
    }
  }

  // <button data-copy-target="#id">: copy that element's text. The Clipboard API exists only
  // on HTTPS or localhost; elsewhere select the text so the user can copy it by hand.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) {
      return;
    }
    var target = document.querySelector(button.getAttribute("data-copy-target"));
    if (!target) {
      return;
    }
    var text = target.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { announce(button, "Copied to the clipboard."); },
        function () { selectContents(target); announce(button, "Selected: press Ctrl+C to copy."); }
      );
    } else {
      selectContents(target);
      announce(button, "Selected: press Ctrl+C to copy.");
    }
  });
})();
