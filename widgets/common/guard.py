"""The deal write guard both editors put in front of a write: the batch first lists the deal
only if its DATE_MODIFY is still the one loaded, and the write refers to that answer, so a deal
changed meanwhile is not written (bitrix24-batch.md "Ids, and what a write changes")."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.core.cache import cache

from b24app.client import BatchResult


class GuardUnavailable(Exception):
    """DATE_MODIFY could not be read, so no guard can be built: the write must not be sent.

    A guard without its DATE_MODIFY window would find the deal whatever happened to it meanwhile,
    so the write would go through blind.
    """


def modified_window(date_modify: str) -> dict[str, str]:
    """A filter matching the deal only while DATE_MODIFY is still the value read.

    DATE_MODIFY comes with whole seconds; the portal may keep finer time, so "unchanged" is "within
    the second read" rather than an equality that would never hold. Only a full ISO 8601 time
    with its offset is exact whatever the user's time zone (bitrix24-batch.md, "Ids"): anything
    else, an empty value included, raises GuardUnavailable.
    """
    try:
        moment = datetime.fromisoformat(date_modify.strip())
    except (AttributeError, ValueError) as exc:
        raise GuardUnavailable(f"DATE_MODIFY {date_modify[:40]!r} is not a time") from exc
    if moment.tzinfo is None or len(date_modify.strip()) < len("2000-01-01T00:00:00"):
        raise GuardUnavailable(f"DATE_MODIFY {date_modify[:40]!r} has no time of day or offset")
    later = (moment + timedelta(seconds=1)).isoformat(timespec="seconds")
    return {">=DATE_MODIFY": moment.isoformat(timespec="seconds"), "<DATE_MODIFY": later}


def guard_passed(outcome: BatchResult) -> bool:
    found = outcome.results.get("guard")
    return "guard" not in outcome.errors and isinstance(found, list) and len(found) == 1


# --- one save of a deal at a time, across this app's processes -----------------------------------------

SAVE_LOCK_SECONDS = 30  # longer than any save (two batches at the client's timeout): a crashed holder frees it
SAVE_LOCK_WAIT = 15.0
_POLL = 0.05


@contextmanager
def deal_save_lock(*, portal_id: int, deal_id: int) -> Iterator[None]:
    """Let one save of this deal run at a time in every process that shares the cache (Redis in production).

    The guard and the write are separate commands of one batch: two saves of our own that
    interleave between them would both pass the guard. Serialised, the second one sees the
    first one's rows (its pre-write read, or its moved DATE_MODIFY) and becomes a conflict.
    `cache.add` is atomic (SET NX on Redis); a save that cannot get the lock in SAVE_LOCK_WAIT
    goes ahead anyway, still guarded, rather than refusing the rep.
    """
    key = f"dealdesk:save-lock:{portal_id}:{deal_id}"
    token = secrets.token_hex(8)
    deadline = time.monotonic() + SAVE_LOCK_WAIT
    held = cache.add(key, token, SAVE_LOCK_SECONDS)
    while not held and time.monotonic() < deadline:
        time.sleep(_POLL)
        held = cache.add(key, token, SAVE_LOCK_SECONDS)
    try:
        yield
    finally:
        # Only our own token is removed: a lock that expired and was taken by another save stays.
        if held and cache.get(key) == token:
            cache.delete(key)
