"""Confirming with the portal what an event claims, before the app acts on it.

An event proves nothing: its only credential, `application_token`, is also posted in every
placement form, which passes through every portal user's browser (bitrix24-protocol.md §5.2).
So an event that would destroy something is a hint, checked with one REST call against the
STORED portal address with the STORED token (never anything from the event), and acted on only
on the portal's own answer for that case (reference bitrix24-uninstall.md):

- ONAPPUNINSTALL: any call with the app's token answers 401 APPLICATION_NOT_FOUND (or, through the
  OAuth server, ERROR_OAUTH "Application not installed"), or the refresh after `expired_token` is
  refused. Limits, 5xx, timeouts, PAYMENT_REQUIRED, ACCESS_DENIED confirm nothing.
- ONCRMDEALDELETE: `crm.item.get` {entityTypeId: 2} answers 400 NOT_FOUND, whatever the rights.

Every other event only drops caches, so it needs no confirmation. Events are rare next to tab
opens, but a forger holding the token could send thousands: each question is asked at most once
per CONFIRM_WINDOW (per portal for an uninstall, per deal for a deletion) and a portal gets at
most CONFIRM_BUDGET questions a minute; past that an event is simply not acted on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.cache import cache

from b24app.client import B24Client, Grant
from b24app.errors import AuthorizationLost, B24Error, InvalidToken, NotFound
from b24app.models import Portal
from b24app.oauth import PortalTokens, portal_moved

log = logging.getLogger(__name__)

CONFIRM_WINDOW = 10  # seconds an answer is reused for the same question
CONFIRM_BUDGET = 10  # questions per portal per minute
GONE, ALIVE, ASKING = "gone", "alive", "asking"
# A refresh the OAuth server refuses once the app is removed (docs: renewal fails after removal).
REFRESH_REFUSED = frozenset({"invalid_grant", "NOT_INSTALLED"})


class _StoredToken:
    """The portal's stored token exactly as stored: no refresh before the call.

    The portal checks that the app exists before it looks at the token's expiry (protocol §2.7),
    so even an expired token of a removed app answers APPLICATION_NOT_FOUND. After `expired_token`
    an installed portal refreshes as usual (single flight, b24app.oauth); a portal that already
    needs re-authorization does not: its refresh was refused before, which says nothing new.
    """

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.limiter_key = portal.member_id

    def current(self) -> Grant:
        return Grant(self.portal.access_token, self.portal.client_endpoint)

    def refresh(self, stale: Grant) -> Grant:
        if self.portal.status != Portal.Status.INSTALLED:
            raise AuthorizationLost("NO_REFRESH", "The portal already needs re-authorization")
        return PortalTokens(self.portal).refresh(stale)

    def moved(self, new_endpoint: str) -> None:
        portal_moved(self.portal, new_endpoint)


def app_uninstall_confirmed(*, portal: Portal) -> bool:
    """True only when the portal says the app is gone (one app.info call, see the module doc)."""
    if not portal.access_token:
        return False  # nothing to ask with
    return _answer(f"b24:confirm:uninstall:{portal.pk}", portal, lambda: _ask_app_gone(portal))


def deal_deletion_confirmed(*, portal: Portal, deal_id: int) -> bool:
    """True only when crm.item.get answers 400 NOT_FOUND for the deal."""
    if portal.status != Portal.Status.INSTALLED:
        return False  # no working token to ask with
    return _answer(f"b24:confirm:deal:{portal.pk}:{deal_id}", portal, lambda: _ask_deal_gone(portal, deal_id))


def _answer(key: str, portal: Portal, ask: Callable[[], bool]) -> bool:
    # add() is the lock: of several events asking the same question at once, one asks.
    if not cache.add(key, ASKING, CONFIRM_WINDOW):
        return bool(cache.get(key) == GONE)
    if not _within_budget(portal):
        log.warning("portal %s: confirmation budget spent; event not acted on", portal.member_id)
        return False
    gone = ask()
    cache.set(key, GONE if gone else ALIVE, CONFIRM_WINDOW)
    return gone


def _within_budget(portal: Portal) -> bool:
    key = f"b24:confirm:budget:{portal.pk}"
    cache.add(key, 0, 60)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, 60)
        used = 1
    return bool(used <= CONFIRM_BUDGET)


def _ask_app_gone(portal: Portal) -> bool:
    client = B24Client(_StoredToken(portal), max_retries=0)
    try:
        # https://apidocs.bitrix24.com/api-reference/common/system/app-info.html
        client.call("app.info")
    except InvalidToken as exc:
        gone = (exc.code == "APPLICATION_NOT_FOUND" and exc.status == 401) or (
            exc.code == "ERROR_OAUTH" and exc.description == "Application not installed"
        )
        log.info("portal %s: app.info answered %s; uninstall %s", portal.member_id, exc.code, _said(gone))
        return gone
    except AuthorizationLost as exc:
        gone = exc.code in REFRESH_REFUSED
        log.info("portal %s: refresh refused (%s); uninstall %s", portal.member_id, exc.code, _said(gone))
        return gone
    except B24Error as exc:
        log.warning("portal %s: app.info failed (%s); uninstall not confirmed", portal.member_id, exc.code)
        return False
    log.warning("portal %s: app.info answered; the app is installed, uninstall event not acted on", portal.member_id)
    return False


def _ask_deal_gone(portal: Portal, deal_id: int) -> bool:
    client = B24Client(PortalTokens(portal), max_retries=0)
    try:
        # https://apidocs.bitrix24.com/api-reference/crm/universal/crm-item-get.html
        client.call("crm.item.get", {"entityTypeId": 2, "id": deal_id})
    except NotFound as exc:
        return exc.code == "NOT_FOUND" and exc.status == 400
    except B24Error as exc:
        log.warning("portal %s: crm.item.get %s failed (%s); deletion not confirmed", portal.member_id, deal_id, exc)
        return False
    log.warning("portal %s: deal %s still exists; deletion event not acted on", portal.member_id, deal_id)
    return False


def _said(gone: bool) -> str:
    return "confirmed" if gone else "not confirmed"
