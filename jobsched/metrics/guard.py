"""`JOBSCHED_METRICS_TOKEN`: when set, a scrape must send `Authorization: Bearer <token>`.

One rule for the web's `/metrics` and a scheduler's `--metrics-port`. Unset, both stay open
as scrapes usually are (they expose aggregates only); set it when the network in front of
them is not private.
"""
from __future__ import annotations

import hmac

UNAUTHORIZED_MESSAGE = "Metrics need 'Authorization: Bearer <JOBSCHED_METRICS_TOKEN>'."
CHALLENGE = 'Bearer realm="metrics"'


def scrape_allowed(authorization: str | None, token: str | None) -> bool:
    """True when no token is configured, or the header carries exactly that token."""
    if not token:
        return True
    scheme, _, sent = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Constant time: the comparison must not tell a guesser how much of the token matched.
    return hmac.compare_digest(sent.strip().encode(), token.encode())
