// /schedules: each row's next run and last job follow the live job events. A job_updates
// event naming a job made by a schedule (schedule_id) re-reads the schedules over the API,
// at most once a second, and redraws those two cells.
(function () {
  "use strict";

  var live = window.JobschedLive;
  var table = document.getElementById("schedule-table");
  if (!live || !table) {
    return;
  }

  function localTime(iso, zone) {
    if (!iso) {
      return "—";
    }
    try {
      return new Date(iso).toLocaleString(undefined, {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", timeZoneName: "short"
      });
    } catch (error) {
      return live.utc(iso);
    }
  }

  function lastJobCell(cell, schedule) {
    cell.textContent = "";
    if (!schedule.last_job_id) {
      cell.textContent = "—";
      return;
    }
    var link = live.el("a", null, "#" + schedule.last_job_id);
    link.href = "/jobs/" + schedule.last_job_id;
    cell.appendChild(link);
    cell.appendChild(document.createTextNode(" "));
    var status = schedule.last_job_status;
    cell.appendChild(status ? live.el("span", "badge status-badge status-" + status, status) :
      live.el("span", "text-body-secondary", "deleted"));
  }

  function draw(schedule) {
    var row = table.querySelector('tr[data-schedule-id="' + schedule.id + '"]');
    if (!row) {
      return;
    }
    row.querySelector('[data-field="next_run"]').textContent = schedule.enabled ?
      localTime(schedule.next_run_at, schedule.timezone) : "paused";
    lastJobCell(row.querySelector('[data-field="last_job"]'), schedule);
  }

  function sync() {
    live.api("GET", "/schedules/").then(function (result) {
      if (result.ok) {
        result.body.items.forEach(draw);
      }
    });
  }

  var resync = live.throttle(sync, 1000);

  live.start({
    sync: sync,
    job_updates: function (data) {
      if ((data.jobs || []).some(function (job) { return job.schedule_id; })) {
        resync();
      }
    }
  });
})();
