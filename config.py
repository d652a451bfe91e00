"""Configuration: defaults in `Config`, the environment parsed by `settings_from_env`.

`settings_from_env` is pure (it takes a mapping and returns one) so that tests can check every
rule without touching `os.environ`; `create_app` calls it with the process environment merged
with an optional `.env` file.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import limits

from jobsched.scheduler.limits import (
    DEFAULT_MAX_PENDING_PER_USER,
    MAX_PENDING_PER_USER_RANGE,
    MAX_RUNNING_PER_USER_RANGE,
)
from jobsched.scheduler.policy import AGING_SECONDS_RANGE, Overload

ROOT = Path(__file__).resolve().parent
INSTANCE_DIR = ROOT / "instance"

# Values that look like a secret key but are well known; production refuses them.
DEFAULT_SECRET_KEYS = frozenset({"", "change-me", "changeme", "dev", "secret", "your-secret-key"})

ENVIRONMENTS = ("production", "development", "testing")
HIGH_PRIORITY_POLICIES = ("all", "admins")  # SPEC §10 JOBSCHED_HIGH_PRIORITY
MIN_SECRET_KEY_LENGTH = 32  # characters; what `secrets.token_hex(16)` gives at least


class ConfigError(ValueError):
    """The environment describes a configuration the application must not start with."""


class Config:
    """Fixed settings, and defaults for the few keys `settings_from_env` sets only when the
    environment names them; every other JOBSCHED_ setting and its default is read there."""

    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}
    MAX_CONTENT_LENGTH = 1024 * 1024  # SPEC §6: 413 over 1 MiB
    # SPEC §14: a page's form (urlencoded: all of it; multipart: each field) is 413 over
    # 256 KiB, far above any real form, so no validator ever sees more (jobsched/security.py).
    MAX_FORM_MEMORY_SIZE = 256 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # a token lives as long as the session
    RESTX_ERROR_404_HELP = False
    RESTX_MASK_SWAGGER = False
    RATELIMIT_STORAGE_URI = "memory://"  # Redis's when REDIS_URL is set
    RATELIMIT_HEADERS_ENABLED = True
    JOBSCHED_RETENTION_DAYS: int | None = None  # keep finished jobs forever
    JOBSCHED_MAX_RUNNING_PER_USER: int | None = None  # SPEC §10: no per-user cap
    JOBSCHED_AGING_SECONDS: int | None = None  # SPEC §10: no aging
    JOBSCHED_OVERLOAD_POLICY = Overload.STRICT.value


def settings_from_env(env: Mapping[str, str], instance_dir: Path = INSTANCE_DIR) -> dict[str, Any]:
    """Turn environment variables into Flask settings, raising ConfigError on bad values."""
    mode = env.get("JOBSCHED_ENV", "production").strip().lower() or "production"
    if mode not in ENVIRONMENTS:
        raise ConfigError(f"JOBSCHED_ENV must be one of {', '.join(ENVIRONMENTS)}, not {mode!r}")
    # Secure cookies need HTTPS; without them on plain HTTP no form could be posted.
    secure_cookies = _bool(env, "JOBSCHED_SECURE_COOKIES", mode == "production")
    settings: dict[str, Any] = {
        "JOBSCHED_ENV": mode,
        "SECRET_KEY": _secret_key(env, mode, instance_dir),
        "SQLALCHEMY_DATABASE_URI": database_url(env, instance_dir),
        "REDIS_URL": redis_url(env),
        "SESSION_COOKIE_SECURE": secure_cookies,
        "REMEMBER_COOKIE_SECURE": secure_cookies,
        "JOBSCHED_MAX_CONCURRENT_JOBS": _int(env, "JOBSCHED_MAX_CONCURRENT_JOBS", 3, 1, 10_000),
        "JOBSCHED_LEASE_SECONDS": _int(env, "JOBSCHED_LEASE_SECONDS", 30, 2, 3600),
        "JOBSCHED_SHUTDOWN_GRACE_SECONDS": _int(
            env, "JOBSCHED_SHUTDOWN_GRACE_SECONDS", 30, 0, 86_400
        ),
        "JOBSCHED_RECONCILE_SECONDS": _int(env, "JOBSCHED_RECONCILE_SECONDS", 30, 1, 3600),
        "JOBSCHED_ENABLE_SHELL": _bool(env, "JOBSCHED_ENABLE_SHELL", False),
        "JOBSCHED_EMBEDDED_SCHEDULER": _bool(env, "JOBSCHED_EMBEDDED_SCHEDULER", True),
        "JOBSCHED_TASK_MODULES": tuple(
            m.strip() for m in env.get("JOBSCHED_TASK_MODULES", "").split(",") if m.strip()
        ),
        "JOBSCHED_LOG_FORMAT": _choice(env, "JOBSCHED_LOG_FORMAT", "text", ("text", "json")),
        "JOBSCHED_TRUSTED_PROXIES": _int(env, "JOBSCHED_TRUSTED_PROXIES", 0, 0, 10),
        "JOBSCHED_SOCKETIO_CHANNEL": _channel(env),
        "JOBSCHED_METRICS_TOKEN": env.get("JOBSCHED_METRICS_TOKEN", "").strip() or None,
        "JOBSCHED_REGISTRATION": _choice(env, "JOBSCHED_REGISTRATION", "open",
                                         ("open", "closed")),
        **_login_lifetimes(env),
        **_fair_use(env),
    }
    if env.get("JOBSCHED_MAX_RUNNING_PER_USER", "").strip():
        settings["JOBSCHED_MAX_RUNNING_PER_USER"] = _int(
            env, "JOBSCHED_MAX_RUNNING_PER_USER", 0, *MAX_RUNNING_PER_USER_RANGE)
    if env.get("JOBSCHED_AGING_SECONDS", "").strip():
        settings["JOBSCHED_AGING_SECONDS"] = _int(env, "JOBSCHED_AGING_SECONDS", 0,
                                                  *AGING_SECONDS_RANGE)
    if env.get("JOBSCHED_RETENTION_DAYS", "").strip():
        settings["JOBSCHED_RETENTION_DAYS"] = _int(env, "JOBSCHED_RETENTION_DAYS", 0, 1, 36_500)
    if settings["REDIS_URL"]:
        settings["RATELIMIT_STORAGE_URI"] = limiter_storage_uri(settings["REDIS_URL"])
    return settings


def _login_lifetimes(env: Mapping[str, str]) -> dict[str, timedelta]:
    """How long a login session and a "keep me logged in" cookie stay valid. Flask refuses
    a session cookie signed longer ago than PERMANENT_SESSION_LIFETIME (it is signed anew
    only when the session changes, as at login), so a login ends about that long after it
    began, whatever the browser keeps."""
    return {
        "PERMANENT_SESSION_LIFETIME": timedelta(
            hours=_int(env, "JOBSCHED_SESSION_HOURS", 12, 1, 24 * 31)),
        "REMEMBER_COOKIE_DURATION": timedelta(
            days=_int(env, "JOBSCHED_REMEMBER_DAYS", 14, 1, 365)),
    }


def _fair_use(env: Mapping[str, str]) -> dict[str, Any]:
    """SPEC §10's defaults for every user (an admin's per-user limits win over them)."""
    return {
        "JOBSCHED_MAX_PENDING_PER_USER": _int(env, "JOBSCHED_MAX_PENDING_PER_USER",
                                              DEFAULT_MAX_PENDING_PER_USER,
                                              *MAX_PENDING_PER_USER_RANGE),
        "JOBSCHED_SUBMIT_RATE": _rate(env, "JOBSCHED_SUBMIT_RATE"),
        "JOBSCHED_HIGH_PRIORITY": _choice(env, "JOBSCHED_HIGH_PRIORITY", "all",
                                          HIGH_PRIORITY_POLICIES),
        "JOBSCHED_OVERLOAD_POLICY": _choice(env, "JOBSCHED_OVERLOAD_POLICY",
                                            Overload.STRICT.value, tuple(Overload)),
    }


def _rate(env: Mapping[str, str], name: str) -> str | None:
    """One rate in Flask-Limiter's notation (`600/minute`, `10 per second`), or None when
    unset. Checked here so that a typo stops the start, not the first submission."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        rates = limits.parse_many(raw)
    except ValueError:
        rates = []
    if len(rates) != 1 or rates[0].amount < 1:
        raise ConfigError(f"{name} must be one rate such as 600/minute or 10/second "
                          f"(a count of at least 1 per second, minute, hour or day), "
                          f"not {raw!r}")
    return raw


def limiter_storage_uri(redis: str) -> str:
    """Flask-Limiter names a Redis socket `redis+unix://`; the other schemes it takes as is."""
    if redis.startswith("unix://"):
        return "redis+unix://" + redis[len("unix://"):]
    return redis


def database_url(env: Mapping[str, str], instance_dir: Path = INSTANCE_DIR) -> str:
    """DATABASE_URL, else the seed's DB_* variables, else SQLite in instance/."""
    url = env.get("DATABASE_URL", "").strip()
    if not url and env.get("DB_NAME", "").strip():
        user = quote(env.get("DB_USER", "postgres"), safe="")
        password = env.get("DB_PASSWORD", "")
        auth = f"{user}:{quote(password, safe='')}" if password else user
        host = env.get("DB_HOST", "").strip() or "localhost"
        port = _int(env, "DB_PORT", 5432, 1, 65_535)
        url = f"postgresql://{auth}@{host}:{port}/{quote(env['DB_NAME'], safe='')}"
    if not url:
        return f"sqlite:///{instance_dir / 'jobsched.db'}"
    return normalize_database_url(url)


def normalize_database_url(url: str) -> str:
    """`postgresql://` means psycopg2 (SQLAlchemy 2.1 would otherwise pick psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    if url.startswith(("postgresql+psycopg2://", "sqlite://")):
        return url
    # Name only the scheme: the rest of a URL can hold a password, and this ends up in logs.
    scheme = f"{url.split('://', 1)[0]}://..." if "://" in url else "no scheme"
    raise ConfigError(f"DATABASE_URL must be a postgresql:// or sqlite:// URL (got {scheme})")


def redis_url(env: Mapping[str, str]) -> str | None:
    """REDIS_URL, else REDIS_HOST/REDIS_PORT, else None (Redis disabled)."""
    url = env.get("REDIS_URL", "").strip()
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
        return url
    host = env.get("REDIS_HOST", "").strip()
    if host:
        port = _int(env, "REDIS_PORT", 6379, 1, 65_535)
        return f"redis://{host}:{port}/0"
    return None


def _channel(env: Mapping[str, str]) -> str:
    """The Redis pub/sub channel of this deployment's Socket.IO events (and pacing keys):
    deployments sharing a Redis server must not hear each other's users' jobs."""
    raw = env.get("JOBSCHED_SOCKETIO_CHANNEL", "").strip() or "jobsched"
    if not all(c.isalnum() or c in "-_.:" for c in raw) or len(raw) > 100:
        raise ConfigError("JOBSCHED_SOCKETIO_CHANNEL may use letters, digits and - _ . : "
                          "(at most 100)")
    return raw


NEW_KEY_HINT = "(python3 -c 'import secrets; print(secrets.token_hex(32))')"


def _secret_key(env: Mapping[str, str], mode: str, instance_dir: Path) -> str:
    key = env.get("SECRET_KEY", "").strip()
    if key.lower() not in DEFAULT_SECRET_KEYS:
        if mode == "production" and len(key) < MIN_SECRET_KEY_LENGTH:
            # A short key can be guessed offline from any one signed cookie.
            raise ConfigError(
                f"SECRET_KEY is {len(key)} characters long; production needs at least "
                f"{MIN_SECRET_KEY_LENGTH}, random: set a new one {NEW_KEY_HINT}"
            )
        return key
    if mode == "production":
        raise ConfigError(
            f"SECRET_KEY is missing or a well-known default; set a long random value "
            f"{NEW_KEY_HINT}"
        )
    if mode == "testing":
        return secrets.token_hex(32)
    return _instance_secret_key(instance_dir)


def _instance_secret_key(instance_dir: Path) -> str:
    """Development keeps one generated key in instance/ so sessions survive restarts."""
    path = instance_dir / "secret_key"
    if not path.exists():
        _write_new_key(path)
    key = path.read_text().strip()
    if not key:
        raise ConfigError(f"{path} is empty; delete it and a new key will be made")
    return key


def _write_new_key(path: Path) -> None:
    """Write a fresh key whole, or not at all when another process made one first.

    The key goes to a private temporary file that is then hard-linked into place: the link
    fails if the file exists, and no process can ever read a half-written key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        os.link(scratch, path)
    except FileExistsError:
        pass  # another process won the race; its key is the one to use
    finally:
        scratch.unlink(missing_ok=True)


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1/0, true/false, yes/no or on/off, not {raw!r}")


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or default
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw
