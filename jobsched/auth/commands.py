"""`flask create-user`."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..extensions import db
from .service import AccountError, create_account


@click.command("create-user")
@with_appcontext  # `flask` pushes one itself, but app.test_cli_runner() and embedders do not
@click.argument("username")
@click.option("--email", default=None, help="Email address (optional).")
@click.option("--admin", is_flag=True, default=False, help="Make the user an administrator.")
@click.option("--password", default=None, help="Password; prompted for when omitted.")
def create_user(username: str, email: str | None, admin: bool, password: str | None) -> None:
    """Create a user account from the shell (the first account ever is an admin)."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_account(db.session, username, password, email=email, admin=admin or None)
    except AccountError as error:
        for field, message in error.errors.items():
            click.echo(f"{field}: {message}", err=True)
        raise SystemExit(1) from None
    role = "admin" if user.is_admin else "user"
    click.echo(f"Created {role} {user.username!r} (id {user.id}).")
