"""Who is using a widget page, without cookies.

Inside the Bitrix24 iframe the placement POST arrives cross-site, so cookies cannot be relied on
(house style rule 11). After the placement is verified, the page carries a short-lived signed
widget token (django.core.signing): portal, user, deal, purpose. htmx sends it in the
X-Widget-Token header (set once on <body>); plain form posts carry it in a hidden field. Every
response hands back a renewed token, so an open tab stays signed in while it is used.

A token never travels in a URL (URLs end up in access logs, proxies and Referer headers): it is
read from the header or a POST body only. And a renewal keeps the time of the placement POST that
started the chain, so a copied token cannot be renewed forever: MAX_LIFE after the placement,
the tab must be opened again.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from b24app import csp, logs
from b24app.models import Portal, UserToken

log = logging.getLogger(__name__)

SALT = "dealdesk.widget"
MAX_AGE = 15 * 60  # since the last renewal
MAX_LIFE = 12 * 60 * 60  # since the placement POST, however often renewed: a working day
CLOCK_SKEW = 5 * 60  # several app servers: an issue time a little in the future is not forged
TOKEN_HEADER = "X-Widget-Token"  # noqa: S105 - the header's name, not a secret
FIELD = "widget_token"


class WidgetTokenInvalid(Exception):
    pass


@dataclass(frozen=True)
class WidgetIdentity:
    portal_id: int
    user_id: int
    deal_id: int | None
    purpose: str  # "tab" (the deal tab) or "admin" (the card-layout page)
    lang: str = "en"
    issued_at: int = 0  # unix time of the placement POST; 0 when minting for a new placement


def _now() -> int:
    return int(time.time())


def widget_token_mint(*, identity: WidgetIdentity) -> str:
    payload = {
        "p": identity.portal_id,
        "u": identity.user_id,
        "d": identity.deal_id,
        "k": identity.purpose,
        "l": identity.lang,
        "i": identity.issued_at or _now(),
    }
    return signing.dumps(payload, salt=SALT, compress=True)


def widget_token_read(token: str, *, max_age: int = MAX_AGE) -> WidgetIdentity:
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.BadSignature as exc:  # also SignatureExpired
        raise WidgetTokenInvalid(type(exc).__name__) from exc
    try:
        deal = payload["d"]
        identity = WidgetIdentity(
            portal_id=int(payload["p"]),
            user_id=int(payload["u"]),
            deal_id=int(deal) if deal is not None else None,
            purpose=str(payload["k"]),
            lang=str(payload.get("l", "en")),
            issued_at=int(payload["i"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WidgetTokenInvalid("malformed payload") from exc
    age = _now() - identity.issued_at
    if age > MAX_LIFE or age < -CLOCK_SKEW:
        raise WidgetTokenInvalid("past its total life since the placement")
    return identity


def token_from_request(request: HttpRequest) -> str:
    """The header (htmx) or a POST body (plain forms); never the query string, which gets logged."""
    if request.headers.get(TOKEN_HEADER):
        return request.headers[TOKEN_HEADER]
    return request.POST.get(FIELD, "") if request.method == "POST" else ""


class WidgetRequest(HttpRequest):
    """A request whose widget token was verified (set by @widget_view)."""

    widget: WidgetIdentity
    portal: Portal
    user_token: UserToken
    widget_token: str


def portal_origin(portal: Portal) -> str:
    scheme, _, rest = portal.client_endpoint.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def frame_for_portal(response: HttpResponse, portal: Portal) -> HttpResponse:
    """Widget pages alone may be framed, and only by their portal (within the app's whole CSP)."""
    return csp.framed_by(response, portal_origin(portal))


def widget_view(purpose: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Verify the widget token (403 with no detail otherwise) and frame the answer for the portal.

    A `deal_id` URL argument must be the token's deal.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                identity = widget_token_read(token_from_request(request))
            except WidgetTokenInvalid as exc:
                log.info("widget request refused: %s", exc)
                return HttpResponseForbidden("Forbidden", content_type="text/plain")
            if identity.purpose != purpose:
                return HttpResponseForbidden("Forbidden", content_type="text/plain")
            if "deal_id" in kwargs and kwargs["deal_id"] != identity.deal_id:
                return HttpResponseForbidden("Forbidden", content_type="text/plain")
            portal = Portal.objects.filter(pk=identity.portal_id, status=Portal.Status.INSTALLED).first()
            user_token = (
                UserToken.objects.select_related("portal").filter(portal=portal, user_id=identity.user_id).first()
                if portal
                else None
            )
            if portal is None or user_token is None:
                return HttpResponseForbidden("Forbidden", content_type="text/plain")
            logs.bind(member_id=portal.member_id, user_id=str(identity.user_id))
            widget_request = cast(WidgetRequest, request)
            widget_request.widget = identity
            widget_request.portal = portal
            widget_request.user_token = user_token
            widget_request.widget_token = widget_token_mint(identity=identity)  # renewed on every answer
            response = view(widget_request, *args, **kwargs)
            response[TOKEN_HEADER] = widget_request.widget_token
            return frame_for_portal(response, portal)

        return wrapped

    return decorate


class StateInvalid(Exception):
    """A state, undo or product value that was not signed by us (or for another deal)."""
