"""Room names: one per user, one for all admins. Clients never choose rooms."""
from __future__ import annotations

ADMINS = "admins"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"
