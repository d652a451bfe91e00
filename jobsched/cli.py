"""Flask CLI commands: create-user, run-scheduler."""
from __future__ import annotations

import click
from flask import Flask


def init_commands(app: Flask) -> None:
    from .auth.commands import create_user

    app.cli.add_command(create_user)
