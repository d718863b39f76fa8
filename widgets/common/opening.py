"""The opening token: how the tab's first paint hands the placement over to the request that fills it.

The placement POST answers at once with the frame and a skeleton (no REST request before that
byte), so it cannot yet know who the user is: AUTH_ID is only believed once the portal accepts
it. The skeleton therefore shows no deal data; it carries the placement's fields (as the Retry
form already does) and this token, and its htmx load POSTs both to the fill view, which runs the
one opening batch that verifies AUTH_ID and loads the tab.

Both screens that open from a portal POST (the deal tab, the layout page) open this way:
`opening_page` is what their skeleton carries, `opening_accept` what their fill checks first.

The token is signed (Django's signing, with its own salt), lives OPENING_SECONDS, is bound to the
portal and to a hash of the AUTH_ID it was minted for (so it opens nothing with other fields), and
is spent on first use (the cache remembers its nonce), so a copied token replays nothing. It
travels in a header (X-Opening-Token), never in a URL.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.urls import reverse

from b24app import trust
from b24app.models import Portal
from widgets.common.auth import frame_for_portal
from widgets.common.placement import placement_retry_fields

log = logging.getLogger(__name__)

OPENING_HEADER = "X-Opening-Token"
OPENING_SECONDS = 120  # the fill follows the first paint within a second or two; slack for a slow browser
_SALT = "widgets.common.opening"


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


@dataclass(frozen=True)
class OpeningPage:
    """What a skeleton carries to its fill (templates/widgets/opening_form.html)."""

    placement_url: str  # Retry without htmx: the placement POST again, from the start
    open_url: str  # the fill
    token: str
    header: str
    fields: list[tuple[str, str]]  # the placement's fields, as the portal posted them


def placement_link(request: HttpRequest, name: str) -> str:
    """The URL of view `name` with the placement's query (DOMAIN, LANG, ...) as the portal sent it."""
    query = request.META.get("QUERY_STRING", "")
    return reverse(f"widgets:{name}") + (f"?{query}" if query else "")


def opening_page(request: HttpRequest, *, portal_id: int, auth_id: str, start: str, fill: str) -> OpeningPage:
    """A fresh opening for the skeleton of the placement view `start`, filled by the view `fill`."""
    return OpeningPage(
        placement_url=placement_link(request, start),
        open_url=placement_link(request, fill),
        token=opening_mint(portal_id=portal_id, auth_id=auth_id),
        header=OPENING_HEADER,
        fields=placement_retry_fields(request),
    )


def opening_accept(request: HttpRequest, *, portal_id: int, auth_id: str, member_id: str) -> HttpResponse | None:
    """None once the fill's token is spent; else the bare 403 a forged or replayed fill gets."""
    try:
        opening_spend(request.headers.get(OPENING_HEADER, ""), portal_id=portal_id, auth_id=auth_id)
    except OpeningRefused as exc:
        log.info("opening refused for %s: %s", member_id, exc)
        return HttpResponseForbidden("Forbidden", content_type="text/plain")
    return None


def opening_render(
    request: HttpRequest, template: str, context: Mapping[str, object], *, portal: Portal
) -> HttpResponse:
    """A skeleton page: framable by its portal only, never cached (it carries AUTH_ID, as the portal's POST did)."""
    response = render(request, template, {**context, "bx24_js": trust.bx24_js_url()})
    response["Cache-Control"] = "no-store"
    return frame_for_portal(response, portal)
