// A job's page: its status, progress, fields and executions follow the job live. The job
// is re-read over the API at load and after every reconnect; job_updates events patch it
// in between, and each one for this job re-reads the executions (at most once a second).
(function () {
  "use strict";

  var root = document.getElementById("job-page");
  var live = window.JobschedLive;
  if (!root || !live) {
    return;
  }

  var el = live.el;
  var duration = live.duration;
  var agedBadge = live.agedBadge;

  var jobId = Number(root.getAttribute("data-job-id"));
  var EMPTY = { deadline: "none", run_at: "as soon as a slot is free" };
  var eventCount = 0;
  var deleted = false;

  function time(iso, empty) {
    if (!iso) {
      return document.createTextNode(empty);
    }
    var node = el("time", null, live.utc(iso));
    node.setAttribute("datetime", iso);
    return node;
  }

  function field(name) {
    return root.querySelector('[data-field="' + name + '"]');
  }

  function setText(name, value) {
    var node = field(name);
    if (node) {
      node.textContent = value;
    }
  }

  function setTime(name, iso) {
    var node = field(name);
    node.textContent = "";
    node.appendChild(time(iso, EMPTY[name] || "—"));
  }

  function statusBadge(node, status) {
    node.className = "badge status-badge status-" + status;
    node.textContent = status;
    return node;
  }

  // -- the job ---------------------------------------------------------------------------

  function showProgress(job) {
    var box = document.getElementById("job-progress");
    box.hidden = job.status !== "running";  // a finished job's last report means little
    var value = job.progress || 0;
    setText("progress", value + "%");
    var bar = box.querySelector("[data-progress-bar]");
    bar.style.width = value + "%";
    bar.parentNode.setAttribute("aria-valuenow", String(value));
  }

  function showActions(status) {
    root.querySelectorAll("[data-shown-when]").forEach(function (action) {
      action.hidden = deleted ||
        action.getAttribute("data-shown-when").split(" ").indexOf(status) === -1;
    });
  }

  function applyJob(job) {
    setText("name", job.name);
    document.title = "Job " + job.id + ": " + job.name + " · jobsched";
    statusBadge(document.getElementById("job-status"), job.status);
    var priority = field("priority-badge").querySelector(".priority-badge");
    priority.className = "badge priority-badge priority-" + job.priority;
    priority.textContent = job.priority;
    agedBadge(field("priority-badge").querySelector(".aged-badge"), job);
    setText("description", job.description || "—");
    ["priority", "attempts", "max_attempts", "timeout_seconds"].forEach(function (name) {
      setText(name, job[name]);
    });
    setText("concurrency_key", job.concurrency_key || "");
    setText("concurrency_limit", job.concurrency_limit);
    root.querySelectorAll("[data-shown-with-key]").forEach(function (node) {
      node.hidden = !job.concurrency_key;  // the limit means nothing without a key
    });
    ["deadline", "run_at", "created_at", "started_at", "finished_at"].forEach(function (name) {
      setTime(name, job[name]);
    });
    field("deadline_missed").hidden = !job.deadline_missed;
    showProgress(job);
    document.getElementById("job-error").hidden = !job.error;
    setText("error", job.error || "");
    setText("args", JSON.stringify(job.args, null, 2));
    setText("result", job.result !== null ? JSON.stringify(job.result, null, 2) :
      (job.finished_at ? "none" : "none yet"));
    showActions(job.status);
  }

  function markDeleted() {
    deleted = true;
    document.getElementById("job-deleted").hidden = false;
    showActions("");
  }

  // -- executions ------------------------------------------------------------------------

  function detailRow(list, term, value) {
    list.appendChild(el("dt", "col-4 col-sm-3 col-lg-2", term));
    var dd = el("dd", "col-8 col-sm-9 col-lg-10 mb-0");
    dd.appendChild(value);
    list.appendChild(dd);
  }

  function executionCard(execution, afterRetry) {
    var card = el("article", "card execution mb-2");
    card.setAttribute("data-execution-id", execution.id);
    var body = el("div", "card-body p-3");
    var head = el("div", "d-flex flex-wrap align-items-center gap-2 mb-2");
    head.appendChild(el("h3", "h6 mb-0", "Attempt " + execution.attempt));
    head.appendChild(statusBadge(el("span"), execution.status));
    if (afterRetry) {
      head.appendChild(el("span", "badge text-bg-light border", "after a retry"));
    }
    head.appendChild(el("span", "small text-body-secondary text-wrap-anywhere",
      "on " + execution.node));
    body.appendChild(head);
    var facts = el("dl", "row small mb-2");
    detailRow(facts, "Started", time(execution.started_at, "—"));
    detailRow(facts, "Finished", time(execution.finished_at, "still running"));
    detailRow(facts, "Duration", document.createTextNode(duration(execution.duration_seconds)));
    body.appendChild(facts);
    if (execution.output) {
      body.appendChild(el("h4", "h6 small text-body-secondary", "Output"));
      body.appendChild(el("pre", "wrap output", execution.output));
    }
    if (execution.error) {
      body.appendChild(el("h4", "h6 small text-danger", "Error"));
      body.appendChild(el("pre", "wrap output output-error mb-0", execution.error));
    }
    card.appendChild(body);
    return card;
  }

  // Replace what changed; an output scrolled to its end stays at its end as it grows.
  function renderExecutions(items) {
    var box = document.getElementById("executions");
    var old = {};
    box.querySelectorAll("[data-execution-id]").forEach(function (card) {
      old[card.getAttribute("data-execution-id")] = card;
    });
    box.textContent = "";
    if (!items.length) {
      box.appendChild(el("p", "text-body-secondary", "No attempt has started yet."));
    }
    items.forEach(function (execution, index) {
      // A retry starts the attempts over, so attempt numbers can repeat in the history.
      var afterRetry = index > 0 && execution.attempt <= items[index - 1].attempt;
      var card = executionCard(execution, afterRetry);
      var previous = old[execution.id];
      if (previous && previous.textContent === card.textContent) {
        card = previous;
      }
      box.appendChild(card);
      var before = previous && previous.querySelector("pre.output");
      var after = card.querySelector("pre.output");
      if (card !== previous && before && after &&
          before.scrollTop + before.clientHeight >= before.scrollHeight - 4) {
        after.scrollTop = after.scrollHeight;
      }
    });
  }

  // -- reading and events ----------------------------------------------------------------

  function readJob() {
    var eventsAtStart = eventCount;
    live.api("GET", "/jobs/" + jobId + "/").then(function (result) {
      if (result.status === 404) {
        markDeleted();
      } else if (result.ok && eventCount === eventsAtStart) {
        applyJob(result.body);  // an event that came meanwhile is newer than this read
      }
    });
  }

  // The page shows the latest SHOWN attempts: the executions API pages them oldest first,
  // so they lie on its last page of SHOWN, or on the last two.
  var SHOWN = Number(root.getAttribute("data-executions-shown")) || 50;
  var executionTotal = Number(root.getAttribute("data-executions-total")) || 0;

  function lastPage(total) {
    return Math.max(1, Math.ceil(total / SHOWN));
  }

  function executionsPage(page) {
    return live.api("GET", "/jobs/" + jobId + "/executions/?per_page=" + SHOWN + "&page=" + page);
  }

  function showExecutions(items, total) {
    renderExecutions(items);
    var note = document.getElementById("executions-older");
    if (note) {
      note.hidden = total <= items.length;
      note.querySelector("[data-older-total]").textContent = String(total);
    }
  }

  function readExecutions(again) {
    if (deleted) {
      return;
    }
    var page = lastPage(executionTotal);
    executionsPage(page).then(function (result) {
      if (!result.ok) {
        return;
      }
      var body = result.body;
      executionTotal = body.total;
      if (lastPage(body.total) !== page && !again) {
        readExecutions(true);  // attempts were added (or deleted) since the last read
      } else if (page === 1 || body.items.length >= SHOWN) {
        showExecutions(body.items, body.total);
      } else {
        executionsPage(page - 1).then(function (previous) {
          if (previous.ok) {
            showExecutions(previous.body.items.concat(body.items).slice(-SHOWN), body.total);
          }
        });
      }
    });
  }

  var executionsSoon = live.throttle(readExecutions, 1000);

  function sync() {
    readJob();
    readExecutions();
  }

  function onJobUpdates(data) {
    (data.jobs || []).forEach(function (job) {
      if (job.id === jobId && !deleted) {
        eventCount += 1;
        applyJob(job);
        executionsSoon();
      }
      // A job this one waits for, or one waiting for it (SPEC §12): its status, live.
      root.querySelectorAll('[data-related-job="' + job.id + '"] .status-badge')
        .forEach(function (badge) {
          statusBadge(badge, job.status);
        });
    });
  }

  function onJobDeleted(data) {
    if ((data.ids || []).indexOf(jobId) !== -1) {
      markDeleted();
    }
  }

  root.querySelectorAll("[data-progress-bar]").forEach(function (bar) {
    bar.style.width = (Number(bar.getAttribute("data-value")) || 0) + "%";
  });
  live.start({ sync: sync, job_updates: onJobUpdates, job_deleted: onJobDeleted });
})();
