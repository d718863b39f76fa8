"""The opening token: how the tab's first paint hands the placement over to the request that fills it.

The placement POST answers at once with the frame and a skeleton (no REST request before that
byte), so it cannot yet know who the user is: AUTH_ID is only believed once the portal accepts
it. The skeleton therefore shows no deal data; it carries the placement's fields (as the Retry
form already does) and this token, and its htmx load POSTs both to the fill view, which runs the
one opening batch that verifies AUTH_ID and loads the tab.

The token is signed (Django's signing, with its own salt), lives OPENING_SECONDS, is bound to the
portal and to a hash of the AUTH_ID it was minted for (so it opens nothing with other fields), and
is spent on first use (the cache remembers its nonce), so a copied token replays nothing. It
travels in a header (X-Opening-Token), never in a URL.
"""

from __future__ import annotations

import hashlib
import secrets

from django.core import signing
from django.core.cache import cache

OPENING_HEADER = "X-Opening-Token"
OPENING_SECONDS = 120  # the fill follows the first paint within a second or two; slack for a slow browser
_SALT = "widgets.products.opening"


class OpeningRefused(Exception):
    """A token that is forged, expired, spent, or minted for another placement."""


def _auth_hash(auth_id: str) -> str:
    return hashlib.sha256(auth_id.encode()).hexdigest()[:32]


def opening_mint(*, portal_id: int, auth_id: str) -> str:
    payload = {"p": portal_id, "a": _auth_hash(auth_id), "n": secrets.token_urlsafe(12)}
    return signing.dumps(payload, salt=_SALT, compress=False)


def opening_spend(token: str, *, portal_id: int, auth_id: str) -> None:
    """Accept `token` once for this portal and AUTH_ID, or raise OpeningRefused."""
    if not token or len(token) > 400:
        raise OpeningRefused("no opening token")
    try:
        payload = signing.loads(token, salt=_SALT, max_age=OPENING_SECONDS)
    except signing.BadSignature as exc:  # SignatureExpired is one too
        raise OpeningRefused(f"bad opening token: {type(exc).__name__}") from exc
    if not isinstance(payload, dict) or payload.get("p") != portal_id:
        raise OpeningRefused("opening token of another portal")
    if not secrets.compare_digest(str(payload.get("a", "")), _auth_hash(auth_id)):
        raise OpeningRefused("opening token of another AUTH_ID")
    # cache.add is atomic (Redis SET NX in production): of two requests with one token, one opens.
    if not cache.add(f"deal-tab-opening:{payload.get('n')}", 1, timeout=OPENING_SECONDS + 5):
        raise OpeningRefused("opening token already used")
