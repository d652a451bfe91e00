"""Room names: one per user, one for all admins. Clients never choose rooms."""
from __future__ import annotations

from collections.abc import Iterable

ADMINS = "admins"
_USER = "user:"


def user_room(user_id: int) -> str:
    return f"{_USER}{user_id}"


def users_in(rooms: Iterable[object]) -> set[int]:
    """The ids of the users whose rooms are among `rooms` (the admins' room, a socket's own
    room and python-socketio's None are not users' rooms)."""
    return {int(room[len(_USER):]) for room in rooms
            if isinstance(room, str) and room.startswith(_USER)}
