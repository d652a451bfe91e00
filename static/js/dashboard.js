// The dashboard: summary cards, two live charts, and the recent jobs table with filters and
// per-row actions. State comes from the API (at load and after every reconnect); the
// job_updates / job_deleted / stats events patch it in between.
(function () {
  "use strict";

  var root = document.getElementById("dashboard");
  var live = window.JobschedLive;
  if (!root || !live) {
    return;
  }

  var el = live.el;
  var duration = live.duration;
  var agedBadge = live.agedBadge;
  var utc = live.utc;

  var PER_PAGE = 20;
  var SAMPLE_MS = 2000;   // chart sampling period
  var SAMPLES = 60;       // two minutes of history
  var ACTIONS = {
    cancel: { label: "Cancel", when: ["pending", "running"], style: "btn-outline-warning",
              question: "Cancel job {id} “{name}”? A running attempt is stopped." },
    retry: { label: "Retry", when: ["failed", "cancelled"], style: "btn-outline-primary",
             question: "Put job {id} “{name}” back in the queue with a fresh set of attempts?" },
    delete: { label: "Delete", when: ["pending", "completed", "failed", "cancelled"],
              style: "btn-outline-danger",
              question: "Delete job {id} “{name}” and its history? This cannot be undone." }
  };

  var admin = root.getAttribute("data-admin") === "true";
  var tbody = document.getElementById("jobs-body");
  var filtersForm = document.getElementById("job-filters");
  var page = 1;
  var total = 0;
  var rows = new Map();      // job id -> <tr>, in table order
  var jobs = new Map();      // job id -> the job as the table shows it
  var eventCount = 0;        // job_updates and job_deleted events received so far
  var touched = new Map();   // job id -> {seen: eventCount at its last event, job or null}
  var readCount = 0;
  var appliedRead = 0;
  var latestStats = null;

  // -- small helpers ---------------------------------------------------------------------

  function filters() {
    return {
      status: filtersForm.elements.status.value,
      priority: filtersForm.elements.priority.value,
      q: filtersForm.elements.q.value.trim()
    };
  }

  function matches(job) {
    var f = filters();
    return (!f.status || job.status === f.status) &&
      (!f.priority || job.priority === f.priority) &&
      (!f.q || job.name.toLowerCase().indexOf(f.q.toLowerCase()) !== -1);
  }

  function showAlert(text) {
    var alert = document.getElementById("dashboard-alert");
    alert.querySelector("[data-alert-text]").textContent = text;
    alert.hidden = false;
  }

  // -- the jobs table --------------------------------------------------------------------

  function actionButton(name, job) {
    var spec = ACTIONS[name];
    var button = el("button", "btn btn-sm " + spec.style, spec.label);
    button.type = "button";
    button.setAttribute("data-action", name);
    button.setAttribute("aria-label", spec.label + " job " + job.id + ": " + job.name);
    return button;
  }

  function createRow(job) {
    var row = el("tr");
    row.setAttribute("data-job-id", job.id);
    var selectCell = el("td", "select-cell");
    var box = el("input", "form-check-input job-select");
    box.type = "checkbox";
    selectCell.appendChild(box);
    row.appendChild(selectCell);
    row.appendChild(el("td", "d-none d-sm-table-cell text-body-secondary job-id", job.id));
    var nameCell = el("td", "job-cell");
    var link = el("a", "job-name");
    link.href = "/jobs/" + job.id;
    nameCell.appendChild(link);
    nameCell.appendChild(el("div", "small text-body-secondary job-meta"));
    row.appendChild(nameCell);
    var statusCell = el("td", "status-cell");
    statusCell.appendChild(el("span", "badge status-badge"));
    var bar = el("div", "progress progress-thin mt-1");
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-label", "Progress of job " + job.id);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.appendChild(el("div", "progress-bar"));
    statusCell.appendChild(bar);
    row.appendChild(statusCell);
    var priorityCell = el("td", "d-none d-md-table-cell");
    priorityCell.appendChild(el("span", "badge priority-badge"));
    priorityCell.appendChild(document.createTextNode(" "));
    priorityCell.appendChild(el("span", "badge aged-badge"));
    row.appendChild(priorityCell);
    row.appendChild(el("td", "d-none d-lg-table-cell small job-created"));
    var actionsCell = el("td", "text-end actions-cell");
    var group = el("div", "d-inline-flex flex-wrap flex-md-nowrap justify-content-end gap-1");
    Object.keys(ACTIONS).forEach(function (name) {
      group.appendChild(actionButton(name, job));
    });
    actionsCell.appendChild(group);
    row.appendChild(actionsCell);
    return row;
  }

  function fillRow(row, job) {
    jobs.set(job.id, job);
    row.setAttribute("data-status", job.status);
    var link = row.querySelector(".job-name");
    link.textContent = job.name;
    var meta = row.querySelector(".job-meta");
    meta.textContent = "";
    meta.appendChild(el("code", null, job.task));
    // The priority has its own column from tablet width up; below it, it is said here.
    meta.appendChild(el("span", "d-md-none", " · " + job.priority + " priority"));
    if (admin) {
      meta.appendChild(document.createTextNode(" · " + job.owner));
    }
    var badge = row.querySelector(".status-badge");
    badge.className = "badge status-badge status-" + job.status;
    badge.textContent = job.status;
    var bar = row.querySelector(".progress-thin");
    var showBar = job.status === "running" && job.progress !== null;
    bar.hidden = !showBar;
    bar.setAttribute("aria-valuenow", String(job.progress || 0));
    bar.firstChild.style.width = (job.progress || 0) + "%";
    var priority = row.querySelector(".priority-badge");
    priority.className = "badge priority-badge priority-" + job.priority;
    priority.textContent = job.priority;
    agedBadge(row.querySelector(".aged-badge"), job);
    var box = row.querySelector(".job-select");
    box.checked = selected.has(job.id) || selectedAll;
    box.disabled = selectedAll;
    box.setAttribute("aria-label", "Select job " + job.id + ": " + job.name);
    var created = row.querySelector(".job-created");
    created.textContent = "";
    var time = el("time", null, utc(job.created_at));
    time.setAttribute("datetime", job.created_at);
    created.appendChild(time);
    row.querySelectorAll("button[data-action]").forEach(function (button) {
      var name = button.getAttribute("data-action");
      button.hidden = ACTIONS[name].when.indexOf(job.status) === -1;
      button.setAttribute("aria-label", ACTIONS[name].label + " job " + job.id + ": " + job.name);
    });
  }

  function showEmpty() {
    var old = tbody.querySelector(".placeholder-row");
    if (rows.size > 0) {
      if (old) {
        old.remove();
      }
      return;
    }
    var f = filters();
    var text = (f.status || f.priority || f.q) ? "No jobs match these filters." :
      "No jobs yet: submit one with the job form.";
    var row = old || el("tr", "placeholder-row");
    row.textContent = "";
    row.appendChild(el("td", "text-body-secondary", text)).colSpan = 7;
    tbody.appendChild(row);
  }

  // Put `list` in the table in this order, reusing rows (a focused button keeps its focus).
  function renderRows(list) {
    var kept = new Map();
    list.forEach(function (job, index) {
      var row = rows.get(job.id) || createRow(job);
      fillRow(row, job);
      kept.set(job.id, row);
      if (tbody.children[index] !== row) {
        tbody.insertBefore(row, tbody.children[index] || null);
      }
    });
    rows.forEach(function (row, id) {
      if (!kept.has(id)) {
        row.remove();
        jobs.delete(id);
      }
    });
    rows = kept;
    showEmpty();
    showSelection();
  }

  function shownList() {
    return Array.from(rows.keys()).map(function (id) { return jobs.get(id); });
  }

  function showCounts() {
    var pages = Math.max(1, Math.ceil(total / PER_PAGE));
    document.getElementById("jobs-count").textContent =
      total + (total === 1 ? " job" : " jobs") + (anyFilter() ? " match" : "");
    document.getElementById("page-label").textContent = "Page " + page + " of " + pages;
    document.getElementById("page-prev").disabled = page <= 1;
    document.getElementById("page-next").disabled = page >= pages;
  }

  function anyFilter() {
    var f = filters();
    return Boolean(f.status || f.priority || f.q);
  }

  // -- reading over the API --------------------------------------------------------------

  function listQuery() {
    var params = new URLSearchParams({ page: String(page), per_page: String(PER_PAGE) });
    var f = filters();
    Object.keys(f).forEach(function (key) {
      if (f[key]) {
        params.set(key, f[key]);
      }
    });
    return params.toString();
  }

  // A job as the newest information has it: an event that arrived after this read started
  // beats the read's copy (latest state wins); null when such an event deleted it.
  function freshest(job, eventsAtStart) {
    var seen = touched.get(job.id);
    return seen && seen.seen > eventsAtStart ? seen.job : job;
  }

  function readList() {
    var read = ++readCount;
    var eventsAtStart = eventCount;
    live.api("GET", "/jobs/?" + listQuery()).then(function (result) {
      if (read < appliedRead) {
        return;  // a later read has already been shown
      }
      if (!result.ok) {
        showAlert("Could not load the jobs: " + live.errorMessage(result));
        return;
      }
      appliedRead = read;
      touched.forEach(function (entry, id) {
        if (entry.seen <= eventsAtStart) {
          touched.delete(id);
        }
      });
      total = result.body.total;
      renderRows(result.body.items.map(function (job) { return freshest(job, eventsAtStart); })
        .filter(function (job) { return job && matches(job); }));
      showCounts();
    });
  }

  function readStats() {
    live.api("GET", "/jobs/stats/").then(function (result) {
      if (result.ok) {
        applyStats(result.body);
      }
    });
  }

  // -- schedules: the next ones to fire and their last jobs (SPEC §12) -------------------

  var SCHEDULES_SHOWN = 5;

  function scheduleItem(schedule) {
    var item = el("li", "schedule-item");
    item.setAttribute("data-schedule-id", schedule.id);
    var name = el("a", "fw-semibold", schedule.name);
    name.href = "/schedules";
    item.appendChild(name);
    item.appendChild(document.createTextNode(" · "));
    item.appendChild(schedule.enabled ? el("span", "schedule-next", "next " +
      utc(schedule.next_run_at)) : el("span", "schedule-next text-body-secondary", "paused"));
    if (schedule.last_job_id) {
      item.appendChild(document.createTextNode(" · last "));
      var job = el("a", null, "#" + schedule.last_job_id);
      job.href = "/jobs/" + schedule.last_job_id;
      item.appendChild(job);
      item.appendChild(document.createTextNode(" "));
      var status = schedule.last_job_status || "deleted";
      item.appendChild(el("span", "badge status-badge status-" + status, status));
    }
    return item;
  }

  function readSchedules() {
    live.api("GET", "/schedules/").then(function (result) {
      if (!result.ok) {
        return;
      }
      var soonest = result.body.items.slice().sort(function (a, b) {
        return (a.enabled ? 0 : 1) - (b.enabled ? 0 : 1) ||
          String(a.next_run_at).localeCompare(String(b.next_run_at));
      }).slice(0, SCHEDULES_SHOWN);
      var list = document.getElementById("schedule-list");
      list.textContent = "";
      soonest.forEach(function (schedule) { list.appendChild(scheduleItem(schedule)); });
      document.getElementById("dashboard-schedules").hidden = soonest.length === 0;
    });
  }

  var schedulesSoon = live.throttle(readSchedules, 1000);

  function sync() {
    readList();
    readStats();
    readSchedules();
  }

  var refreshSoon = live.throttle(readList, 1500);

  // -- events ----------------------------------------------------------------------------

  function insertRow(job) {
    var list = shownList();
    var at = list.findIndex(function (other) { return other.id < job.id; });
    if (at === -1) {
      if (list.length >= PER_PAGE) {
        return;  // older than the whole page: it belongs to a later one
      }
      at = list.length;
    }
    list.splice(at, 0, job);
    renderRows(list.slice(0, PER_PAGE));
  }

  function removeRow(id) {
    var row = rows.get(id);
    if (row) {
      row.remove();
      rows.delete(id);
      jobs.delete(id);
      showEmpty();
    }
  }

  function onJobUpdates(data) {
    eventCount += 1;
    var membershipChanged = false;
    if ((data.jobs || []).some(function (job) { return job.schedule_id; })) {
      schedulesSoon();  // a schedule fired, or its last job moved on
    }
    (data.jobs || []).forEach(function (job) {
      touched.set(job.id, { seen: eventCount, job: job });
      var row = rows.get(job.id);
      if (row && matches(job)) {
        fillRow(row, job);
      } else if (row) {
        removeRow(job.id);
        membershipChanged = true;
      } else if (matches(job)) {
        if (page === 1) {
          insertRow(job);
        }
        membershipChanged = true;
      }
    });
    if (membershipChanged) {
      refreshSoon();  // totals and page boundaries: one re-read, however many changes
    }
  }

  function onJobDeleted(data) {
    eventCount += 1;
    (data.ids || []).forEach(function (id) {
      touched.set(id, { seen: eventCount, job: null });  // a read in flight may still list it
      removeRow(id);
    });
    refreshSoon();
  }

  // -- summary cards and charts ----------------------------------------------------------

  function setStat(key, value) {
    root.querySelectorAll('[data-stat="' + key + '"]').forEach(function (node) {
      node.textContent = value;
    });
  }

  function applyStats(stats) {
    latestStats = stats;
    setStat("running", stats.running);
    setStat("running_all", stats.running_all);
    setStat("max_concurrent", stats.max_concurrent);
    showOthers(stats.running_all - stats.running);
    setStat("queued", stats.queued);
    ["pending", "completed", "failed", "cancelled"].forEach(function (status) {
      setStat(status, stats.by_status[status]);
    });
    setStat("total", stats.total);
    setStat("avg_wait_seconds", duration(stats.avg_wait_seconds));
    setStat("avg_run_seconds", duration(stats.avg_run_seconds));
    setStat("deadline_missed", stats.deadline_missed);
    showSlots(stats.running_all, stats.max_concurrent);
  }

  // Other users' share of the busy slots: a count only, never whose (absent for admins,
  // whose own figure is everyone's).
  function showOthers(others) {
    var part = root.querySelector("[data-slots-others]");
    if (part) {
      setStat("running_others", Math.max(0, others));
      part.hidden = !(others > 0);
    }
  }

  function showSlots(running, limit) {
    var bar = root.querySelector("[data-slots-bar]");
    bar.style.width = (limit ? Math.min(100, 100 * running / limit) : 0) + "%";
    bar.parentNode.setAttribute("aria-valuenow", String(running));
    bar.parentNode.setAttribute("aria-valuemax", String(limit));
  }

  function lineChart(id, series, axisTitle) {
    var canvas = document.getElementById(id);
    if (!canvas || typeof window.Chart !== "function") {
      return null;
    }
    return new window.Chart(canvas, {
      type: "line",
      data: {
        labels: [],
        datasets: series.map(function (s) {
          return { label: s.label, data: [], borderColor: s.color, backgroundColor: s.color,
                   borderWidth: 2, pointRadius: 0, tension: 0.25 };
        })
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { intersect: false, mode: "index" },
        scales: {
          x: { ticks: { maxTicksLimit: 5, maxRotation: 0, autoSkip: true } },
          y: { beginAtZero: true, suggestedMax: 4, ticks: { precision: 0 },
               title: { display: true, text: axisTitle } }
        },
        plugins: { legend: { labels: { boxWidth: 12 } } }
      }
    });
  }

  var throughputChart = lineChart("chart-throughput",
    [{ label: "Finished per minute", color: "#198754" }], "jobs / min");
  var queueChart = lineChart("chart-queue",
    [{ label: "Ready to run", color: "#0d6efd" }, { label: "Running", color: "#fd7e14" }], "jobs");
  var lastFinished = null;
  var lastSampleAt = null;

  function push(chart, label, values) {
    if (!chart) {
      return;
    }
    chart.data.labels.push(label);
    chart.data.datasets.forEach(function (dataset, index) {
      dataset.data.push(values[index]);
    });
    if (chart.data.labels.length > SAMPLES) {
      chart.data.labels.shift();
      chart.data.datasets.forEach(function (dataset) { dataset.data.shift(); });
    }
    chart.update("none");
  }

  function sample() {
    if (!latestStats) {
      return;
    }
    var now = Date.now();
    var label = new Date(now).toTimeString().slice(0, 8);
    var finished = latestStats.by_status.completed + latestStats.by_status.failed;
    if (lastFinished !== null) {
      // Deleting or retrying finished jobs lowers the count: that is not negative work.
      var perMinute = Math.max(0, finished - lastFinished) * 60000 / (now - lastSampleAt);
      push(throughputChart, label, [Math.round(perMinute)]);
    }
    lastFinished = finished;
    lastSampleAt = now;
    push(queueChart, label, [latestStats.queued, latestStats.running]);
  }

  // -- controls --------------------------------------------------------------------------

  function runAction(button) {
    var id = Number(button.closest("tr").getAttribute("data-job-id"));
    var job = jobs.get(id);
    var name = button.getAttribute("data-action");
    var question = ACTIONS[name].question.replace("{id}", id).replace("{name}", job.name);
    if (!window.confirm(question)) {
      return;
    }
    button.disabled = true;
    var request = name === "delete" ? live.api("DELETE", "/jobs/" + id + "/") :
      live.api("POST", "/jobs/" + id + "/" + name + "/");
    request.then(function (result) {
      button.disabled = false;
      if (!result.ok) {
        showAlert("Could not " + name + " job " + id + ": " + live.errorMessage(result));
        return;
      }
      if (name === "delete") {
        onJobDeleted({ ids: [id] });
      } else {
        onJobUpdates({ jobs: [result.body] });
      }
    });
  }

  // -- selecting jobs and acting on them all (SPEC §13) ---------------------------------

  var selected = new Set();  // ids picked on the pages seen
  var selectedAll = false;   // every job matching the filters, seen or not

  function selectionCount() {
    return selectedAll ? total : selected.size;
  }

  function showSelection() {
    var count = selectionCount();
    document.getElementById("bulk-bar").hidden = count === 0;
    document.getElementById("bulk-selected").textContent = selectedAll ?
      "All " + total + " matching jobs selected" :
      count + (count === 1 ? " job selected" : " jobs selected");
    var onPage = Array.from(rows.keys());
    var pageFull = onPage.length > 0 && onPage.every(function (id) { return selected.has(id); });
    var all = document.getElementById("bulk-all");
    all.hidden = selectedAll || !pageFull || total <= onPage.length;
    all.textContent = "Select all " + total + " jobs matching" + (anyFilter() ? " these filters" : "");
    var pageBox = document.getElementById("select-page");
    pageBox.checked = selectedAll || pageFull;
    pageBox.disabled = selectedAll || onPage.length === 0;
  }

  function clearSelection() {
    selected.clear();
    selectedAll = false;
    rows.forEach(function (row, id) { fillRow(row, jobs.get(id)); });
    showSelection();
  }

  function bulkQuestion(name, count) {
    var what = selectedAll ? "all " + count + " jobs matching" + (anyFilter() ? " these filters" : "") :
      count + (count === 1 ? " job" : " jobs");
    var verb = { cancel: "Cancel", retry: "Retry", delete: "Delete" }[name];
    var tail = name === "delete" ? " This cannot be undone." : "";
    return verb + " " + what + "? Jobs in a state that does not allow it are skipped." + tail;
  }

  function bulkBody(name) {
    if (!selectedAll) {
      return { action: name, ids: Array.from(selected) };
    }
    var filter = {};
    var f = filters();
    Object.keys(f).forEach(function (key) {
      if (f[key]) {
        filter[key] = f[key];
      }
    });
    return { action: name, filter: filter };
  }

  function runBulk(button) {
    var name = button.getAttribute("data-bulk");
    if (!window.confirm(bulkQuestion(name, selectionCount()))) {
      return;
    }
    button.disabled = true;
    live.api("POST", "/jobs/bulk/", bulkBody(name)).then(function (result) {
      button.disabled = false;
      if (!result.ok) {
        showAlert("Could not " + name + " the selected jobs: " + live.errorMessage(result));
        return;
      }
      var done = result.body;
      var note = document.getElementById("bulk-result");
      note.textContent = { cancel: "Cancelled ", retry: "Retried ", delete: "Deleted " }[name] +
        done.changed + " of " + done.matched + (done.matched === 1 ? " job" : " jobs") +
        (done.skipped ? "; " + done.skipped + " skipped (their state does not allow it)." : ".");
      note.hidden = false;
      clearSelection();
      sync();
    });
  }

  var shownFilters = JSON.stringify(filters());

  function filtersChanged() {
    var now = JSON.stringify(filters());
    if (now === shownFilters) {
      return;  // e.g. the text field's change event, after its input events were applied
    }
    shownFilters = now;
    page = 1;
    selected.clear();  // a selection was of the jobs those filters matched
    selectedAll = false;
    var params = new URLSearchParams();
    var f = filters();
    Object.keys(f).forEach(function (key) {
      if (f[key]) {
        params.set(key, f[key]);
      }
    });
    var query = params.toString();
    window.history.replaceState(null, "", query ? "?" + query : window.location.pathname);
    readList();
  }

  var typing = null;
  filtersForm.addEventListener("submit", function (event) {
    event.preventDefault();
    filtersChanged();
  });
  filtersForm.addEventListener("change", filtersChanged);
  filtersForm.elements.q.addEventListener("input", function () {
    window.clearTimeout(typing);
    typing = window.setTimeout(filtersChanged, 300);
  });
  tbody.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (button) {
      runAction(button);
    }
  });
  tbody.addEventListener("change", function (event) {
    var box = event.target.closest(".job-select");
    if (box) {
      var id = Number(box.closest("tr").getAttribute("data-job-id"));
      if (box.checked) {
        selected.add(id);
      } else {
        selected.delete(id);
      }
      showSelection();
    }
  });
  document.getElementById("select-page").addEventListener("change", function (event) {
    rows.forEach(function (row, id) {
      if (event.target.checked) {
        selected.add(id);
      } else {
        selected.delete(id);
      }
      row.querySelector(".job-select").checked = event.target.checked;
    });
    showSelection();
  });
  document.getElementById("bulk-all").addEventListener("click", function () {
    selectedAll = true;
    rows.forEach(function (row, id) { fillRow(row, jobs.get(id)); });
    showSelection();
  });
  document.getElementById("bulk-clear").addEventListener("click", clearSelection);
  document.getElementById("bulk-bar").addEventListener("click", function (event) {
    var button = event.target.closest("button[data-bulk]");
    if (button) {
      runBulk(button);
    }
  });
  document.getElementById("page-prev").addEventListener("click", function () {
    page = Math.max(1, page - 1);
    readList();
  });
  document.getElementById("page-next").addEventListener("click", function () {
    page += 1;
    readList();
  });
  root.querySelector("[data-dismiss-alert]").addEventListener("click", function () {
    document.getElementById("dashboard-alert").hidden = true;
  });

  showSlots(Number(root.querySelector('[data-stat="running_all"]').textContent),
            Number(root.querySelector('[data-stat="max_concurrent"]').textContent));
  window.setInterval(sample, SAMPLE_MS);
  live.start({
    sync: sync,
    job_updates: onJobUpdates,
    job_deleted: onJobDeleted,
    stats: applyStats
  });
})();
