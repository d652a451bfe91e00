// The nodes page: re-read it every few seconds so heartbeats and running jobs stay current.
// The page's own HTML is the source, so there is one way of drawing a node.
(function () {
  "use strict";

  var box = document.getElementById("nodes");
  if (!box) {
    return;
  }
  var seconds = Number(box.getAttribute("data-refresh-seconds")) || 5;

  function refresh() {
    if (document.hidden) {
      return;  // nobody is looking: skip this round
    }
    fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        // Logged out meanwhile: the answer is the login page; leave the page as it is.
        if (!response.ok || new URL(response.url).pathname !== window.location.pathname) {
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (!html) {
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("nodes");
        if (fresh) {
          box.replaceChildren.apply(box, Array.from(fresh.childNodes));
        }
      }, function () { /* offline: try again next round */ });
  }

  window.setInterval(refresh, seconds * 1000);
})();
