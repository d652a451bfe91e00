"""Flask CLI commands: create-user, run-scheduler, prune-jobs, recount-jobs."""
from __future__ import annotations

import logging
import sys

import click
from flask import Flask, current_app

from ..auth.commands import create_user
from ..logging_setup import configure_logging
from ..metrics.server import MetricsServer, serve_metrics
from ..realtime.emitter import external_sink
from ..runner import build_service, install_stop_signals
from ..scheduler.store import NodeConflict
from .jobs import prune_jobs_command, recount_jobs_command

SWITCH_INTERVAL_SECONDS = 0.001


def _log_to_stderr(app: Flask) -> None:
    """One line per event on stderr, as text or JSON (JOBSCHED_LOG_FORMAT); Flask's own
    handler is removed, or each record would be printed twice (logging_setup.py)."""
    configure_logging(app, level=logging.INFO)


def init_commands(app: Flask) -> None:
    app.cli.add_command(create_user)
    app.cli.add_command(run_scheduler)
    app.cli.add_command(prune_jobs_command)
    app.cli.add_command(recount_jobs_command)


@click.command("run-scheduler")
@click.option("--concurrency", type=click.IntRange(1, 10_000), default=None,
              help="Jobs this process runs at once (default: JOBSCHED_MAX_CONCURRENT_JOBS).")
@click.option("--node", "name", default=None, help="Node name (default: host:pid).")
@click.option("--metrics-port", type=click.IntRange(1, 65_535), default=None,
              help="Serve this process's Prometheus metrics on this port (default: off).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Address the metrics port listens on.")
def run_scheduler(concurrency: int | None, name: str | None, metrics_port: int | None,
                  metrics_host: str) -> None:
    """Run a scheduler until SIGTERM/SIGINT (a second signal stops at once)."""
    app = current_app._get_current_object()
    # The loop, the workers, the watchdog and the event sink share one interpreter lock: a
    # 1 ms switch interval (Python's default is 5 ms) keeps a claim or a final write from
    # waiting behind another thread's Python (wsgi.py does the same for the web).
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    metrics = _serve_metrics(metrics_port, metrics_host, app.config["JOBSCHED_METRICS_TOKEN"])
    _log_to_stderr(app)
    sink = external_sink(app)
    service = build_service(app, sink, name=name, concurrency=concurrency, own_engine=True)
    install_stop_signals(service)
    click.echo(f"scheduler {service.node.name}: concurrency {service.node.concurrency}, "
               f"limit {service.node.limit}")
    try:
        service.run()
    except NodeConflict as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    finally:
        sink.close()
        if metrics is not None:
            metrics.close()
    click.echo(f"scheduler {service.node.name} stopped")


def _serve_metrics(port: int | None, host: str, token: str | None) -> MetricsServer | None:
    """Start the metrics endpoint (before anything else, so a taken port fails fast)."""
    if port is None:
        return None
    try:
        server = serve_metrics(port, host, token)
    except OSError as error:
        raise click.ClickException(f"cannot serve metrics on {host}:{port}: {error}") from None
    click.echo(f"metrics on http://{host}:{server.port}/metrics")
    return server
