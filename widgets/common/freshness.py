"""Live freshness: has the deal changed since this tab showed it? Answered without a REST request.

Bitrix24's events (ONCRMDEALUPDATE, ONCRMDEALDELETE, ONCRMDEALMOVETOCATEGORY, verified by
b24app.events) bump a per-deal version in the cache (widgets.common.events). The page carries the
version it was rendered at and asks GET deal-tab/<id>/version/ every few seconds; that view reads
the cache only. Events arrive late, at most once and in no guaranteed order (bitrix24-protocol.md
§6.2), so this is a notice for people, never the safety net: the saves' conflict checks are.

A tab's own save changes the deal too, and its event arrives a moment later. Comparing DATE_MODIFY
would need a REST read per poll, so the tab instead says what to expect: before writing, a save
counts one "own" change for its tab (an id the page sends in the X-Deal-Tab header; two tabs of
the same user are two tabs), filed under the deal's version when the save began. Its event can
only make a version after that one, so a poll from version `known` expects the own changes filed
at `known` or later: exactly that many new versions are the tab's own, and it quietly moves on;
one more than that is someone else's change. A poll only reads (it is a GET, house style rule 10):
what it has accounted for is the newer `known` it hands the page. Each count lives for
OWN_SAVE_TTL seconds: if the portal never sends the event, a later change elsewhere still shows.
A save that did not write takes its count back, and so does one that did not update the deal:
Bitrix24 sends no ONCRMDEALUPDATE for contact binding changes nor for row changes that keep the
totals (bitrix24-batch.md "Ids, and what a write changes"), so those changes, made in another
tab, show no notice here either: the saves' checks still catch them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

DEAL_VERSION_TTL = 24 * 3600
OWN_SAVE_TTL = 60
OWN_SPAN = 100  # versions a poll looks back for the tab's own changes
DEFAULT_POLL_SECONDS = 10
TAB_HEADER = "X-Deal-Tab"
_TAB_ID = re.compile(r"^[0-9a-f]{8,32}$")


def poll_seconds() -> int:
    return int(getattr(settings, "DEAL_DESK_VERSION_POLL_SECONDS", DEFAULT_POLL_SECONDS))


def deal_version_key(portal_id: int, deal_id: int) -> str:
    return f"dealdesk:deal-version:{portal_id}:{deal_id}"


def _deleted_key(portal_id: int, deal_id: int) -> str:
    return f"dealdesk:deal-deleted:{portal_id}:{deal_id}"


def _own_key(portal_id: int, deal_id: int, user_id: int, tab: str, base: int) -> str:
    """The tab's own saves begun at deal version `base`."""
    return f"dealdesk:deal-own:{portal_id}:{deal_id}:{user_id}:{tab}:{base}"


def deal_version(*, portal_id: int, deal_id: int) -> int:
    return int(cache.get(deal_version_key(portal_id, deal_id)) or 0)


def deal_version_bump(*, portal_id: int, deal_id: int) -> int:
    """Count the deal's changes seen through events."""
    key = deal_version_key(portal_id, deal_id)
    cache.add(key, 0, DEAL_VERSION_TTL)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, DEAL_VERSION_TTL)
        return 1


def deal_deleted_mark(*, portal_id: int, deal_id: int) -> None:
    cache.set(_deleted_key(portal_id, deal_id), True, DEAL_VERSION_TTL)


def deal_deleted(*, portal_id: int, deal_id: int) -> bool:
    return bool(cache.get(_deleted_key(portal_id, deal_id)))


def tab_id_of(value: str | None) -> str:
    """The page's tab id from the X-Deal-Tab header, or "" when it is missing or not one of ours."""
    text = (value or "").strip().lower()
    return text if _TAB_ID.match(text) else ""


# --- a tab's own saves ----------------------------------------------------------------------------------


@dataclass
class OwnSave:
    wrote: bool = False  # set by the caller once Bitrix24 has taken the write


@contextmanager
def own_save(*, portal_id: int, deal_id: int, user_id: int, tab: str) -> Iterator[OwnSave]:
    """Expect one event for this tab's write before it is sent; take it back if nothing was written.

    Counted before the write because the portal may deliver the event (and a poll may read the
    version) before the save's own answer is back.
    """
    note = OwnSave()
    base = deal_version(portal_id=portal_id, deal_id=deal_id)
    key = _own_key(portal_id, deal_id, user_id, tab, base) if tab else ""
    if key:
        cache.add(key, 0, OWN_SAVE_TTL)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, OWN_SAVE_TTL)
        cache.touch(key, OWN_SAVE_TTL)
    try:
        yield note
    finally:
        if key and not note.wrote:
            try:
                if int(cache.decr(key)) <= 0:
                    cache.delete(key)
            except ValueError:
                pass


# --- what a poll answers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    """What the tab's notice shows, and the versions its next poll sends."""

    state: str  # "same": nothing to show or change | "quiet": no notice, newer known version |
    #             "changed": changed elsewhere | "deleted"
    known: int  # the version the tab's data stands for
    shown: int = 0  # the version the "changed" notice was shown for


def freshness_keep_editing(*, portal_id: int, deal_id: int) -> Freshness:
    """Keep editing: the person has seen the notice; only later changes show it again."""
    if deal_deleted(portal_id=portal_id, deal_id=deal_id):
        return Freshness("deleted", 0)
    return Freshness("quiet", deal_version(portal_id=portal_id, deal_id=deal_id))


def _own_expected(*, portal_id: int, deal_id: int, user_id: int, tab: str, known: int, current: int) -> int:
    """The tab's own changes not yet in `known`: those filed at `known` or later."""
    if not tab:
        return 0
    # More new versions than a minute of one tab's saves can explain are someone else's anyway.
    bases = range(max(known, current - OWN_SPAN), current + 1)
    counts = cache.get_many([_own_key(portal_id, deal_id, user_id, tab, base) for base in bases])
    return sum(int(count) for count in counts.values())


def freshness_check(*, portal_id: int, deal_id: int, user_id: int, tab: str, known: int, shown: int = 0) -> Freshness:
    """Compare the version the tab knows with the cache. No REST, a few cache reads, no writes."""
    if deal_deleted(portal_id=portal_id, deal_id=deal_id):
        return Freshness("deleted", known)
    current = deal_version(portal_id=portal_id, deal_id=deal_id)
    extra = current - known
    if extra <= 0:
        return Freshness("same", known, shown)
    own = _own_expected(portal_id=portal_id, deal_id=deal_id, user_id=user_id, tab=tab, known=known, current=current)
    if extra < own:
        return Freshness("same", known, shown)  # the tab's own events are still on their way
    if extra == own:
        return Freshness("quiet", current)
    if current == shown:
        return Freshness("same", known, shown)  # the notice already says so
    return Freshness("changed", known, current)
