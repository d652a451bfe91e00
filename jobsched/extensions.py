"""Extension instances, unbound; `create_app` initialises them once per app. `db` lives in
orm.py, so the models (and the storage layer) load without the web's extensions."""
from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_wtf import CSRFProtect
from limits.storage import MemoryStorage

from .orm import db

__all__ = ["csrf", "db", "limiter", "limiter_storage_lock", "login_manager", "migrate",
           "socketio"]

migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
socketio = SocketIO()

# limits' MemoryStorage restarts its expiry timer without a lock: two threads counting at once
# (any keys) can start one Timer twice (RuntimeError, or a KeyError inside threading). Every
# direct use of the limiter's storage takes this one lock; Redis needs no such care.
_MEMORY_LOCK = threading.Lock()


def limiter_storage_lock() -> AbstractContextManager[object]:
    """Hold while counting in `limiter.storage` directly (a lock only for memory storage)."""
    return _MEMORY_LOCK if isinstance(limiter.storage, MemoryStorage) else nullcontext()
