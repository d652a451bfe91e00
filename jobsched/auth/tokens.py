"""API tokens: random secrets shown once, stored as SHA-256 digests."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ApiToken, User
from ..scheduler.clock import utcnow

TOKEN_PREFIX = "js_"


def hash_token(token: str) -> str:
    # A token is 256 random bits, so a fast unsalted digest is enough; a slow KDF would only
    # make every API call slower.
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Create a token for `user`; the plaintext is returned once and never stored."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name[:100], token_hash=hash_token(plaintext),
                     prefix=plaintext[:10])
    session.add(token)
    session.commit()
    return token, plaintext


def user_for_token(session: Session, plaintext: str) -> User | None:
    """The user a live (not revoked) token belongs to, recording when it was last used."""
    found = live_token(session, plaintext)
    return found[1] if found is not None else None


def live_token(session: Session, plaintext: str) -> tuple[int, User] | None:
    """The id and user of a live (not revoked) token, recording when it was last used."""
    # One query for both: every API call authenticates, so a second round trip for the
    # user would be paid on every request.
    row = session.execute(
        select(ApiToken, User).join(ApiToken.user)
        .where(ApiToken.token_hash == hash_token(plaintext), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    token, user = row
    token_id, now = token.id, utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now  # at most one write a minute per token
        session.commit()
        # The commit expired the user; callers use it after the session is gone (a
        # Socket.IO connect removes it at once), so hand it back loaded.
        session.refresh(user)
    return token_id, user


def revoke_token(session: Session, user: User, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False when it is not theirs or already revoked."""
    token = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id,
                               ApiToken.revoked_at.is_(None))
    )
    if token is None:
        return False
    token.revoked_at = utcnow()
    session.commit()
    return True


def list_tokens(session: Session, user: User, live_only: bool = False) -> list[ApiToken]:
    """The user's tokens, newest first (the revoked ones too, unless `live_only`)."""
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    if live_only:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(query))
