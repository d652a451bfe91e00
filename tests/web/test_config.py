"""config.settings_from_env: pure, so every rule is checked without touching os.environ."""
from __future__ import annotations

import os
import stat
import threading
from datetime import timedelta

import pytest

from config import ConfigError, database_url, normalize_database_url, settings_from_env
from jobsched.scheduler.policy import Overload, QueuePolicy, queue_policy

KEY = "k" * 40


def settings(tmp_path, **env: str) -> dict:
    return settings_from_env({"SECRET_KEY": KEY, **env}, instance_dir=tmp_path)


# --- secret key ---------------------------------------------------------------------------

@pytest.mark.parametrize("env", [
    {}, {"SECRET_KEY": ""}, {"SECRET_KEY": "   "}, {"SECRET_KEY": "change-me"},
    {"SECRET_KEY": "CHANGEME"}, {"SECRET_KEY": "dev"}, {"SECRET_KEY": "secret"},
])
def test_production_refuses_a_missing_or_default_secret_key(tmp_path, env):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        settings_from_env(env, instance_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # and never falls back to a generated key


@pytest.mark.parametrize("key", ["k" * 31, "short-but-not-a-default", " " + "k" * 20 + " "])
def test_production_refuses_a_secret_key_under_32_characters(tmp_path, key):
    with pytest.raises(ConfigError, match="SECRET_KEY is .* characters long; production "
                                          "needs at least 32") as error:
        settings_from_env({"SECRET_KEY": key}, instance_dir=tmp_path)
    assert key.strip() not in str(error.value)  # the key itself never goes to a log


def test_a_32_character_key_is_enough_and_development_takes_a_short_one(tmp_path):
    assert settings_from_env({"SECRET_KEY": "k" * 32}, instance_dir=tmp_path)["SECRET_KEY"]
    development = settings_from_env({"JOBSCHED_ENV": "development", "SECRET_KEY": "short"},
                                    instance_dir=tmp_path)
    assert development["SECRET_KEY"] == "short"


def test_production_is_the_default_and_uses_the_given_key(tmp_path):
    result = settings(tmp_path)
    assert result["JOBSCHED_ENV"] == "production"
    assert result["SECRET_KEY"] == KEY
    assert result["SESSION_COOKIE_SECURE"] is True and result["REMEMBER_COOKIE_SECURE"] is True


def test_development_makes_a_private_key_once_and_reuses_it(tmp_path):
    instance = tmp_path / "instance"
    first = settings_from_env({"JOBSCHED_ENV": "development"}, instance_dir=instance)
    second = settings_from_env({"JOBSCHED_ENV": "Development "}, instance_dir=instance)
    assert len(first["SECRET_KEY"]) >= 32
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    key_file = instance / "secret_key"
    assert key_file.read_text() == first["SECRET_KEY"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in instance.iterdir()) == ["secret_key"]  # no scratch files
    assert first["SESSION_COOKIE_SECURE"] is False


def test_development_prefers_a_given_key(tmp_path):
    result = settings_from_env({"JOBSCHED_ENV": "development", "SECRET_KEY": KEY},
                               instance_dir=tmp_path)
    assert result["SECRET_KEY"] == KEY
    assert list(tmp_path.iterdir()) == []


def test_processes_starting_together_share_one_development_key(tmp_path):
    keys: list[str] = []

    def start() -> None:
        keys.append(settings_from_env({"JOBSCHED_ENV": "development"},
                                      instance_dir=tmp_path)["SECRET_KEY"])

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_an_empty_development_key_file_is_an_error_not_an_empty_key(tmp_path):
    (tmp_path / "secret_key").write_text("\n")
    with pytest.raises(ConfigError, match="secret_key is empty"):
        settings_from_env({"JOBSCHED_ENV": "development"}, instance_dir=tmp_path)


def test_testing_mode_makes_a_throwaway_key(tmp_path):
    one = settings_from_env({"JOBSCHED_ENV": "testing"}, instance_dir=tmp_path)["SECRET_KEY"]
    two = settings_from_env({"JOBSCHED_ENV": "testing"}, instance_dir=tmp_path)["SECRET_KEY"]
    assert one != two and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("env", "secure"), [
    ({}, True), ({"JOBSCHED_SECURE_COOKIES": "0"}, False),
    ({"JOBSCHED_ENV": "development"}, False),
    ({"JOBSCHED_ENV": "development", "JOBSCHED_SECURE_COOKIES": "1"}, True),
    ({"JOBSCHED_ENV": "testing"}, False),
])
def test_secure_cookies_default_to_production_and_can_be_switched(tmp_path, env, secure):
    result = settings(tmp_path, **env)
    assert result["SESSION_COOKIE_SECURE"] is secure
    assert result["REMEMBER_COOKIE_SECURE"] is secure


def test_secure_cookies_setting_must_be_a_boolean(tmp_path):
    with pytest.raises(ConfigError, match="JOBSCHED_SECURE_COOKIES must be 1/0"):
        settings(tmp_path, JOBSCHED_SECURE_COOKIES="maybe")


def test_metrics_token_is_optional(tmp_path):
    assert settings(tmp_path)["JOBSCHED_METRICS_TOKEN"] is None
    assert settings(tmp_path, JOBSCHED_METRICS_TOKEN=" ")["JOBSCHED_METRICS_TOKEN"] is None
    assert settings(tmp_path, JOBSCHED_METRICS_TOKEN=" t0k ")["JOBSCHED_METRICS_TOKEN"] == "t0k"


def test_unknown_environment_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="JOBSCHED_ENV.*'staging'"):
        settings(tmp_path, JOBSCHED_ENV="staging")


# --- database -----------------------------------------------------------------------------

@pytest.mark.parametrize("given, expected", [
    ("postgresql://u:p@db:5432/jobs", "postgresql+psycopg2://u:p@db:5432/jobs"),
    ("postgres://u:p@db/jobs", "postgresql+psycopg2://u:p@db/jobs"),
    ("postgresql+psycopg2://u@db/jobs", "postgresql+psycopg2://u@db/jobs"),
    ("sqlite:////var/lib/jobsched.db", "sqlite:////var/lib/jobsched.db"),
    ("  postgresql://db/jobs  ", "postgresql+psycopg2://db/jobs"),
])
def test_database_url_means_psycopg2(tmp_path, given, expected):
    assert settings(tmp_path, DATABASE_URL=given)["SQLALCHEMY_DATABASE_URI"] == expected


@pytest.mark.parametrize("given", [
    "mysql://u:p@db/jobs", "postgresql+psycopg://u@db/jobs", "http://db/jobs",
])
def test_other_database_urls_are_refused_naming_the_scheme(tmp_path, given):
    with pytest.raises(ConfigError, match="DATABASE_URL") as error:
        settings(tmp_path, DATABASE_URL=given)
    assert given.split("://")[0] in str(error.value)
    assert "u:p" not in str(error.value)


def test_a_url_without_scheme_is_refused_without_echoing_it(tmp_path):
    with pytest.raises(ConfigError, match="no scheme") as error:
        settings(tmp_path, DATABASE_URL="admin:hunter2@db/jobs")
    assert "hunter2" not in str(error.value)


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    assert database_url({}, tmp_path) == f"sqlite:///{tmp_path / 'jobsched.db'}"
    assert settings(tmp_path)["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:////")


def test_seed_db_variables_build_a_postgresql_url(tmp_path):
    env = {"DB_NAME": "jobs", "DB_USER": "sched", "DB_PASSWORD": "p@ss:w/rd%",
           "DB_HOST": "db.internal", "DB_PORT": "6543"}
    assert settings(tmp_path, **env)["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg2://sched:p%40ss%3Aw%2Frd%25@db.internal:6543/jobs")


def test_seed_db_variables_have_defaults(tmp_path):
    assert settings(tmp_path, DB_NAME="jobs")["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg2://postgres@localhost:5432/jobs")


def test_database_url_wins_over_db_variables(tmp_path):
    result = settings(tmp_path, DATABASE_URL="postgresql://a@b/c", DB_NAME="other")
    assert result["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://a@b/c"


def test_db_port_must_be_a_port(tmp_path):
    with pytest.raises(ConfigError, match="DB_PORT must be an integer"):
        settings(tmp_path, DB_NAME="jobs", DB_PORT="fivefourthreetwo")
    with pytest.raises(ConfigError, match="DB_PORT must be between 1 and 65535"):
        settings(tmp_path, DB_NAME="jobs", DB_PORT="70000")


def test_normalize_leaves_psycopg2_urls_alone():
    url = "postgresql+psycopg2://u@h/d"
    assert normalize_database_url(url) == url


# --- redis --------------------------------------------------------------------------------

def test_redis_is_disabled_by_default(tmp_path):
    result = settings(tmp_path)
    assert result["REDIS_URL"] is None
    assert "RATELIMIT_STORAGE_URI" not in result  # Config's in-memory default stays


def test_redis_url_is_used_for_the_queue_and_the_rate_limits(tmp_path):
    result = settings(tmp_path, REDIS_URL="redis://cache:6379/2")
    assert result["REDIS_URL"] == "redis://cache:6379/2"
    assert result["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/2"


def test_redis_socket_url_is_spelled_for_the_rate_limiter(tmp_path):
    result = settings(tmp_path, REDIS_URL="unix:///run/redis.sock")
    assert result["REDIS_URL"] == "unix:///run/redis.sock"
    assert result["RATELIMIT_STORAGE_URI"] == "redis+unix:///run/redis.sock"


def test_redis_host_and_port(tmp_path):
    assert settings(tmp_path, REDIS_HOST="cache")["REDIS_URL"] == "redis://cache:6379/0"
    assert settings(tmp_path, REDIS_HOST="cache", REDIS_PORT="6380")["REDIS_URL"] == (
        "redis://cache:6380/0")


def test_bad_redis_settings_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="REDIS_URL"):
        settings(tmp_path, REDIS_URL="http://cache:6379")
    with pytest.raises(ConfigError, match="REDIS_PORT"):
        settings(tmp_path, REDIS_HOST="cache", REDIS_PORT="0")


# --- numbers, switches, choices -------------------------------------------------------------

def test_defaults_follow_the_spec(tmp_path):
    result = settings(tmp_path)
    assert result["JOBSCHED_MAX_CONCURRENT_JOBS"] == 3
    assert result["JOBSCHED_LEASE_SECONDS"] == 30
    assert result["JOBSCHED_SHUTDOWN_GRACE_SECONDS"] == 30
    assert result["JOBSCHED_ENABLE_SHELL"] is False
    assert result["JOBSCHED_EMBEDDED_SCHEDULER"] is True
    assert result["JOBSCHED_TASK_MODULES"] == ()


def test_values_are_parsed(tmp_path):
    result = settings(tmp_path, JOBSCHED_MAX_CONCURRENT_JOBS=" 8 ", JOBSCHED_ENABLE_SHELL="Yes",
                      JOBSCHED_EMBEDDED_SCHEDULER="off",
                      JOBSCHED_TASK_MODULES="acme.tasks, ,billing.jobs",
                      JOBSCHED_LOG_FORMAT="JSON", JOBSCHED_RETENTION_DAYS="30",
                      JOBSCHED_MAX_RUNNING_PER_USER="2")
    assert result["JOBSCHED_MAX_CONCURRENT_JOBS"] == 8
    assert result["JOBSCHED_MAX_RUNNING_PER_USER"] == 2
    assert result["JOBSCHED_ENABLE_SHELL"] is True
    assert result["JOBSCHED_EMBEDDED_SCHEDULER"] is False
    assert result["JOBSCHED_TASK_MODULES"] == ("acme.tasks", "billing.jobs")
    assert result["JOBSCHED_LOG_FORMAT"] == "json"
    assert result["JOBSCHED_RETENTION_DAYS"] == 30


@pytest.mark.parametrize("name, value, says", [
    ("JOBSCHED_MAX_CONCURRENT_JOBS", "three", "must be an integer"),
    ("JOBSCHED_MAX_CONCURRENT_JOBS", "0", "between 1 and 10000"),
    ("JOBSCHED_MAX_CONCURRENT_JOBS", "2.5", "must be an integer"),
    ("JOBSCHED_LEASE_SECONDS", "1", "between 2 and 3600"),
    ("JOBSCHED_SHUTDOWN_GRACE_SECONDS", "-1", "between 0 and 86400"),
    ("JOBSCHED_RECONCILE_SECONDS", "99999", "between 1 and 3600"),
    ("JOBSCHED_RETENTION_DAYS", "0", "between 1 and 36500"),
    ("JOBSCHED_MAX_RUNNING_PER_USER", "0", "between 1 and 10000"),
    ("JOBSCHED_MAX_RUNNING_PER_USER", "many", "must be an integer"),
    ("JOBSCHED_ENABLE_SHELL", "maybe", "1/0, true/false"),
    ("JOBSCHED_EMBEDDED_SCHEDULER", "2", "1/0, true/false"),
    ("JOBSCHED_LOG_FORMAT", "xml", "one of text, json"),
])
def test_bad_values_are_refused_naming_the_variable(tmp_path, name, value, says):
    with pytest.raises(ConfigError) as error:
        settings(tmp_path, **{name: value})
    assert name in str(error.value) and says in str(error.value)


def test_no_per_user_cap_unless_one_is_set(tmp_path):
    assert "JOBSCHED_MAX_RUNNING_PER_USER" not in settings(tmp_path)


def test_settings_from_env_does_not_read_the_process_environment(tmp_path, monkeypatch):
    monkeypatch.setitem(os.environ, "JOBSCHED_MAX_CONCURRENT_JOBS", "99")
    assert settings(tmp_path)["JOBSCHED_MAX_CONCURRENT_JOBS"] == 3


def test_socketio_channel_defaults_and_is_checked():
    assert settings_from_env({"JOBSCHED_ENV": "testing"})["JOBSCHED_SOCKETIO_CHANNEL"] == "jobsched"
    env = {"JOBSCHED_ENV": "testing", "JOBSCHED_SOCKETIO_CHANNEL": "staging.jobs"}
    assert settings_from_env(env)["JOBSCHED_SOCKETIO_CHANNEL"] == "staging.jobs"
    with pytest.raises(ConfigError, match="JOBSCHED_SOCKETIO_CHANNEL"):
        settings_from_env({"JOBSCHED_ENV": "testing", "JOBSCHED_SOCKETIO_CHANNEL": "a b"})


# --- accounts and logins ------------------------------------------------------------------

def test_registration_is_open_unless_closed(tmp_path):
    assert settings(tmp_path)["JOBSCHED_REGISTRATION"] == "open"
    assert settings(tmp_path, JOBSCHED_REGISTRATION=" Closed ")["JOBSCHED_REGISTRATION"] \
        == "closed"
    with pytest.raises(ConfigError, match="JOBSCHED_REGISTRATION must be one of open, closed"):
        settings(tmp_path, JOBSCHED_REGISTRATION="invite")


def test_logins_last_twelve_hours_and_remember_cookies_two_weeks_by_default(tmp_path):
    result = settings(tmp_path)
    assert result["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=12)
    assert result["REMEMBER_COOKIE_DURATION"] == timedelta(days=14)


def test_login_lifetimes_are_configurable_and_checked(tmp_path):
    result = settings(tmp_path, JOBSCHED_SESSION_HOURS="8", JOBSCHED_REMEMBER_DAYS="30")
    assert result["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=8)
    assert result["REMEMBER_COOKIE_DURATION"] == timedelta(days=30)
    with pytest.raises(ConfigError, match="JOBSCHED_SESSION_HOURS must be between 1 and 744"):
        settings(tmp_path, JOBSCHED_SESSION_HOURS="0")
    with pytest.raises(ConfigError, match="JOBSCHED_REMEMBER_DAYS must be an integer"):
        settings(tmp_path, JOBSCHED_REMEMBER_DAYS="forever")


# --- fair use (SPEC §10) ------------------------------------------------------------------

def test_fair_use_defaults(tmp_path):
    result = settings(tmp_path)
    assert result["JOBSCHED_MAX_PENDING_PER_USER"] == 10_000
    assert result["JOBSCHED_SUBMIT_RATE"] is None
    assert result["JOBSCHED_HIGH_PRIORITY"] == "all"


@pytest.mark.parametrize(("raw", "value"), [("1", 1), (" 10000000 ", 10_000_000), ("", 10_000)])
def test_max_pending_per_user_takes_1_to_10_million(tmp_path, raw, value):
    assert settings(tmp_path, JOBSCHED_MAX_PENDING_PER_USER=raw)[
        "JOBSCHED_MAX_PENDING_PER_USER"] == value


@pytest.mark.parametrize("raw", ["0", "-1", "10000001", "many", "1.5"])
def test_max_pending_per_user_refuses_other_values(tmp_path, raw):
    with pytest.raises(ConfigError, match="JOBSCHED_MAX_PENDING_PER_USER"):
        settings(tmp_path, JOBSCHED_MAX_PENDING_PER_USER=raw)


@pytest.mark.parametrize("raw", ["600/minute", "10 per second", "1/hour", " 5/day "])
def test_submit_rate_takes_one_rate(tmp_path, raw):
    assert settings(tmp_path, JOBSCHED_SUBMIT_RATE=raw)["JOBSCHED_SUBMIT_RATE"] == raw.strip()


@pytest.mark.parametrize("raw", ["600", "fast", "600/fortnight", "0/minute", "-1/minute",
                                 "10/second;600/minute", "minute/600"])
def test_submit_rate_refuses_anything_else_naming_the_variable(tmp_path, raw):
    with pytest.raises(ConfigError, match="JOBSCHED_SUBMIT_RATE"):
        settings(tmp_path, JOBSCHED_SUBMIT_RATE=raw)


@pytest.mark.parametrize(("raw", "value"), [("admins", "admins"), ("ALL", "all"), ("", "all")])
def test_high_priority_is_all_or_admins(tmp_path, raw, value):
    assert settings(tmp_path, JOBSCHED_HIGH_PRIORITY=raw)["JOBSCHED_HIGH_PRIORITY"] == value


def test_high_priority_refuses_other_values(tmp_path):
    with pytest.raises(ConfigError, match="JOBSCHED_HIGH_PRIORITY"):
        settings(tmp_path, JOBSCHED_HIGH_PRIORITY="nobody")


def test_queue_policy_defaults_to_the_strict_order_without_aging(tmp_path):
    result = settings(tmp_path)
    assert result.get("JOBSCHED_AGING_SECONDS") is None  # the Config class default: None
    assert result["JOBSCHED_OVERLOAD_POLICY"] == "strict"
    assert queue_policy(result) == QueuePolicy()


@pytest.mark.parametrize(("raw", "value"), [("1", 1), (" 600 ", 600), ("31536000", 31_536_000)])
def test_aging_seconds_takes_a_second_to_a_year(tmp_path, raw, value):
    result = settings(tmp_path, JOBSCHED_AGING_SECONDS=raw,
                      JOBSCHED_OVERLOAD_POLICY="Feasible_First")
    assert result["JOBSCHED_AGING_SECONDS"] == value
    assert queue_policy(result) == QueuePolicy(value, Overload.FEASIBLE_FIRST)


@pytest.mark.parametrize("raw", ["0", "-5", "31536001", "soon", "1.5"])
def test_aging_seconds_refuses_other_values(tmp_path, raw):
    with pytest.raises(ConfigError, match="JOBSCHED_AGING_SECONDS"):
        settings(tmp_path, JOBSCHED_AGING_SECONDS=raw)


def test_overload_policy_refuses_other_values(tmp_path):
    with pytest.raises(ConfigError, match="JOBSCHED_OVERLOAD_POLICY must be one of strict, "
                                          "feasible_first"):
        settings(tmp_path, JOBSCHED_OVERLOAD_POLICY="edf")
