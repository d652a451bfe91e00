"""`flask create-user USERNAME [--email E] [--admin] [--password P]` (SPEC §2)."""
from __future__ import annotations

from jobsched.auth.service import find_user
from jobsched.extensions import db
from tests.conftest import PASSWORD, make_user


def stored(app, username: str):
    with app.app_context():
        user = find_user(db.session, username)
        if user is not None:
            db.session.expunge(user)
        return user


def test_create_user_with_password_option(app, runner):
    result = runner.invoke(args=["create-user", "alice", "--password", PASSWORD,
                                 "--email", "alice@example.com"])
    assert result.exit_code == 0, result.output
    assert "Created admin 'alice'" in result.output  # the first account is an admin
    alice = stored(app, "alice")
    assert alice.email == "alice@example.com" and alice.check_password(PASSWORD)


def test_create_user_prompts_for_the_password_twice(app, runner):
    make_user(app, "root", admin=True)
    result = runner.invoke(args=["create-user", "bob"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and "Created user 'bob'" in result.output
    assert PASSWORD not in result.output  # typed without echo
    bob = stored(app, "bob")
    assert bob.check_password(PASSWORD) and bob.is_admin is False and bob.email is None


def test_prompt_asks_again_when_the_passwords_differ(app, runner):
    result = runner.invoke(args=["create-user", "bob"],
                           input=f"{PASSWORD}\nsomething-else\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower()
    assert stored(app, "bob").check_password(PASSWORD)


def test_admin_flag_makes_an_admin(app, runner):
    make_user(app, "root", admin=True)
    result = runner.invoke(args=["create-user", "carol", "--admin", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "Created admin 'carol'" in result.output
    assert stored(app, "carol").is_admin is True


def test_duplicate_username_fails_with_a_message(app, runner):
    make_user(app, "alice")
    result = runner.invoke(args=["create-user", "ALICE", "--password", PASSWORD])
    assert result.exit_code == 1
    assert "username: That username is taken." in result.output
    assert stored(app, "ALICE").username == "alice"


def test_bad_username_and_short_password_fail_with_both_messages(app, runner):
    result = runner.invoke(args=["create-user", "x", "--password", "short"])
    assert result.exit_code == 1
    assert "username: Use 3–32 letters" in result.output
    assert "password: Use at least 8 characters." in result.output
    assert stored(app, "x") is None
