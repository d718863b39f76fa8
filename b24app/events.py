"""Inbound Bitrix24 events: verify, confirm, dispatch through a registry.

Events are form-encoded POSTs (bitrix24-protocol.md §6.2). `application_token`, compared in
constant time with the one stored for that `member_id`, is checked first (§6.3), but it is no
proof: every placement form shows it to every portal user. So an event is a hint: ONAPPUNINSTALL
and ONCRMDEALDELETE are acted on only once the portal confirms them (b24app.confirm); every other
event only drops caches. Other apps (widgets) register handlers with @on_event; b24app imports
nothing from them.

No event that only drops caches is ever taken for a duplicate: an event carries the deal's id and
a `ts` in whole seconds, so two genuine changes of one deal within a second arrive as identical
POSTs, and merging them would hide the second (the tab's "changed elsewhere" notice). Handling one
twice costs a cache drop. Only the events that destroy something, which happen once, are handled
once (`first_delivery`); their floods are bounded by b24app.confirm's budget.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import django.dispatch
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from b24app import confirm
from b24app.models import Portal, UserToken

log = logging.getLogger(__name__)

DUPLICATE_TTL = 24 * 3600
# Events that happen once per thing they name: a second delivery can only be a copy.
ONCE_ONLY = frozenset({"ONAPPUNINSTALL", "ONCRMDEALDELETE"})

# Sent after a portal's data is purged (ONAPPUNINSTALL with CLEAN=1); apps drop their own rows.
portal_purged = django.dispatch.Signal()


class EventRefused(Exception):
    """Not a genuine event of an installed portal."""


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any]
    ts: int
    auth: dict[str, Any] = field(default_factory=dict)

    @property
    def entity_id(self) -> str:
        fields = self.data.get("FIELDS")
        return str(fields.get("ID", "")) if isinstance(fields, dict) else ""

    @property
    def entity_number(self) -> int | None:
        """FIELDS.ID as a number: ASCII digits of a sane length only ("²".isdigit() is true)."""
        text = self.entity_id
        return int(text) if text.isascii() and text.isdigit() and 0 < len(text) < 12 else None


Handler = Callable[[Portal, Event], None]
HANDLERS: dict[str, list[Handler]] = {}


def on_event(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS.setdefault(name.upper(), []).append(handler)
        return handler

    return register


def event_parse(payload: dict[str, Any]) -> Event:
    name = payload.get("event")
    auth = payload.get("auth")
    data = payload.get("data", {})
    if not isinstance(name, str) or not name or not isinstance(auth, dict):
        raise EventRefused("not an event")
    ts = str(payload.get("ts", "0"))
    return Event(
        name=name.upper(),
        data=data if isinstance(data, dict) else {},
        # ASCII digits of a sane length: "²".isdigit() is true and int() refuses 4300+ digits.
        ts=int(ts) if ts.isascii() and ts.isdigit() and len(ts) <= 12 else 0,
        auth={str(k): v for k, v in auth.items()},
    )


def event_verify(event: Event) -> Portal:
    member_id = str(event.auth.get("member_id", ""))
    token = str(event.auth.get("application_token", ""))
    portal = Portal.objects.filter(member_id=member_id).first() if member_id else None
    if portal is None or not portal.application_token or not token:
        raise EventRefused(f"unknown portal {member_id[:40]!r}")
    # Bytes: compare_digest refuses str with non-ASCII letters, and the token comes from the request.
    if not hmac.compare_digest(portal.application_token.encode(), token.encode()):
        raise EventRefused(f"wrong application_token for {member_id}")
    if portal.status == Portal.Status.UNINSTALLED:
        raise EventRefused(f"portal {member_id} is uninstalled")
    return portal


def event_confirmed(portal: Portal, event: Event) -> bool:
    """Whether the portal confirms what the event claims, for the events that destroy something.

    Asked before first_delivery, so a forged copy sent first cannot make the genuine event look
    like a copy.
    """
    if event.name == "ONAPPUNINSTALL":
        return confirm.app_uninstall_confirmed(portal=portal)
    if event.name == "ONCRMDEALDELETE" and event.entity_number is not None:
        return confirm.deal_deletion_confirmed(portal=portal, deal_id=event.entity_number)
    return True  # the rest only drop caches (and an unreadable deal id is ignored by every handler)


def first_delivery(portal: Portal, event: Event) -> bool:
    """False for a second copy of an event that happens once (ONCE_ONLY: the same portal, name, time
    and data); True for every other event, which may be another genuine change in the same second."""
    if event.name not in ONCE_ONLY:
        return True
    fingerprint = json.dumps([portal.member_id, event.name, event.ts, event.data], sort_keys=True, default=str)
    key = "b24:event:" + hashlib.sha256(fingerprint.encode()).hexdigest()
    return bool(cache.add(key, 1, DUPLICATE_TTL))


def event_dispatch(portal: Portal, event: Event) -> int:
    handlers = HANDLERS.get(event.name, [])
    for handler in handlers:
        handler(portal, event)
    return len(handlers)


@on_event("ONAPPUNINSTALL")
def portal_uninstalled(portal: Portal, event: Event) -> None:
    """Tokens deleted, the portal marked uninstalled, its data purged when CLEAN=1 (§1.4).

    Dispatched only after the portal confirmed the app is gone (event_confirmed).
    """
    clean = str(event.data.get("CLEAN", "0")) == "1"
    with transaction.atomic():
        UserToken.objects.filter(portal=portal).delete()
        portal.access_token = ""
        portal.refresh_token = ""
        portal.expires_at = None
        portal.status = Portal.Status.UNINSTALLED
        portal.uninstalled_at = timezone.now()
        if clean:
            portal.settings = {}
        portal.save()
    if clean:
        portal_purged.send(sender=Portal, portal=portal)
    log.info("portal %s uninstalled (clean=%s)", portal.member_id, clean)
