// The live pages' connection: Socket.IO for change hints, the REST API for the state itself.
//
// Socket.IO events can be lost (a dropped connection, a restart), so a page never trusts
// them alone: it re-reads what it shows over the API once at load and again after every
// (re)connect, and applies events on top. The indicator (#live-status) says whether the
// page is following changes right now.
(function () {
  "use strict";

  var STATES = {
    connecting: "Connecting…",
    live: "Live",
    reconnecting: "Reconnecting…",
    ended: "Not live: reload the page"
  };

  function showState(state) {
    var indicator = document.getElementById("live-status");
    if (!indicator) {
      return;
    }
    indicator.setAttribute("data-state", state);
    indicator.textContent = STATES[state];
    indicator.title = state === "live" ? "Changes appear as they happen." :
      "Changes are not shown until the connection is back.";
  }

  function csrfToken() {
    var holder = document.querySelector("[data-csrf]");
    return holder ? holder.getAttribute("data-csrf") : "";
  }

  // A JSON API call with the session cookie (and the CSRF header on changes). Resolves to
  // {ok, status, body}; a network failure resolves with status 0 instead of rejecting.
  function api(method, path, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    };
    if (method !== "GET") {
      options.headers["X-CSRFToken"] = csrfToken();
    }
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch("/jobs/api" + path, options).then(function (response) {
      if (response.status === 204) {
        return { ok: true, status: 204, body: null };
      }
      return response.json().then(function (data) {
        return { ok: response.ok, status: response.status, body: data };
      }, function () {
        return { ok: false, status: response.status, body: null };
      });
    }, function () {
      return { ok: false, status: 0, body: null };
    });
  }

  function errorMessage(result) {
    if (result.status === 0) {
      return "The server could not be reached; try again in a moment.";
    }
    if (result.status === 401) {
      return "Your session has ended: reload the page to log in again.";
    }
    return (result.body && result.body.message) || ("The server answered " + result.status + ".");
  }

  // Runs `task` at most once per `interval` ms; calls in between are folded into one run at
  // the end of the interval, so bursts of events cause a bounded number of re-reads.
  function throttle(task, interval) {
    var last = 0;
    var timer = null;
    return function () {
      if (timer) {
        return;
      }
      var wait = Math.max(0, last + interval - Date.now());
      timer = window.setTimeout(function () {
        timer = null;
        last = Date.now();
        task();
      }, wait);
    };
  }

  // handlers: sync() re-reads the page's state; job_updates, job_deleted, stats take events.
  function start(handlers) {
    showState("connecting");
    handlers.sync();
    if (typeof window.io !== "function") {
      showState("ended");
      return null;
    }
    // WebSocket first; where it cannot pass (an old proxy), long-polling still works.
    var socket = window.io({ transports: ["websocket", "polling"], tryAllTransports: true });
    socket.on("connect", function () {
      showState("live");
      // Events sent while disconnected (or, the first time, between the read at load and
      // joining the room) are gone: read the state again.
      handlers.sync();
    });
    socket.on("disconnect", function (reason) {
      // The server closes the socket on logout; the client then does not reconnect.
      showState(reason === "io server disconnect" ? "ended" : "reconnecting");
    });
    socket.on("connect_error", function () {
      showState(socket.active ? "reconnecting" : "ended");
    });
    ["job_updates", "job_deleted", "stats"].forEach(function (name) {
      if (handlers[name]) {
        socket.on(name, handlers[name]);
      }
    });
    return socket;
  }

  // -- formatting shared by the pages -------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  // An ISO-8601 time as "YYYY-MM-DD HH:MM:SS UTC" (the API always answers in UTC).
  function utc(iso) {
    return iso ? iso.slice(0, 19).replace("T", " ") + " UTC" : "—";
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) {
      return "—";
    }
    if (seconds < 10) {
      return seconds.toFixed(1) + " s";
    }
    if (seconds < 60) {
      return Math.round(seconds) + " s";
    }
    if (seconds < 3600) {
      return Math.floor(seconds / 60) + " min " + Math.floor(seconds % 60) + " s";
    }
    return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
  }

  // SPEC §10's aging: "↑ high" beside a waiting job's own priority when it is ordered in a
  // higher class now (as the _job_macros.html aged_badge macro renders it).
  function agedBadge(node, job) {
    var effective = job.effective_priority || job.priority;
    node.hidden = effective === job.priority;
    node.className = "badge aged-badge priority-" + effective;
    node.textContent = "\u2191 " + effective;
    node.title = "Waiting longer than the aging time: ordered as " + effective + " priority";
  }

  window.JobschedLive = {
    start: start,
    agedBadge: agedBadge,
    api: api,
    errorMessage: errorMessage,
    throttle: throttle,
    el: el,
    utc: utc,
    duration: duration
  };
})();
