"""Flask CLI commands: create-user, run-scheduler."""
from __future__ import annotations

import logging
import sys

import click
from flask import Flask, current_app


def init_commands(app: Flask) -> None:
    from .auth.commands import create_user

    app.cli.add_command(create_user)
    app.cli.add_command(run_scheduler)


@click.command("run-scheduler")
@click.option("--concurrency", type=click.IntRange(1, 10_000), default=None,
              help="Jobs this process runs at once (default: JOBSCHED_MAX_CONCURRENT_JOBS).")
@click.option("--node", "name", default=None, help="Node name (default: host:pid).")
def run_scheduler(concurrency: int | None, name: str | None) -> None:
    """Run a scheduler until SIGTERM/SIGINT (a second signal stops at once)."""
    from .realtime.emitter import external_sink
    from .runner import build_service, install_stop_signals
    from .scheduler.store import NodeConflict

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = current_app._get_current_object()
    sink = external_sink(app)
    service = build_service(app, sink, name=name, concurrency=concurrency)
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
    click.echo(f"scheduler {service.node.name} stopped")
