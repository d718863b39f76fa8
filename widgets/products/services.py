"""The deal tab's operations: open, reload, save, undo, search the catalog.

Everything runs with the signed-in user's own token (UserTokens; OneOffTokens for the placement
POST itself), so Bitrix24's permissions apply to every read and write.

Read-only: Bitrix24 has no REST method that says whether a user may change a deal. The editor
starts editable; when a save is refused with AccessDenied it switches to read-only and remembers
that for (portal, user, deal) for ten minutes, so reopening the tab shows it read-only at once.
A change to the deal (ONCRMDEALUPDATE, e.g. a new assignee) forgets it (widgets.common.events).

Conflicts: a save is one batch that reads the rows just before the write and writes them guarded by
the DATE_MODIFY the tab loaded (deal_products_save); rows that differ from the ones the editor
loaded are shown to the person, never kept overwritten (docs/reliability.md, "Saving in one request").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from b24app.client import B24Client, BatchResult
from b24app.errors import AccessDenied, AuthorizationLost, B24Error, InvalidArgument, InvalidToken, NotFound
from b24app.install import DEAL_TAB_PLACEMENT
from b24app.models import Portal, UserToken
from b24app.oauth import OneOffTokens, UserTokens
from widgets.common.guard import GuardUnavailable, deal_save_lock
from widgets.common.money import decimal_of, int_of
from widgets.common.placement import PlacementPost, PlacementRefused, user_token_store
from widgets.common.readonly import readonly_remembered
from widgets.common.refdata import KINDS, RefData, refdata_absorb, refdata_cached, refdata_commands, refdata_from
from widgets.contacts.batch import (
    CONTACT_SLOTS,
    bindings_of,
    cards_from_list,
    cards_from_slots,
    contact_items,
    more_contacts_command,
)
from widgets.contacts.state import ContactsState
from widgets.products.batch import open_commands, rows_of, save_commands, snapshot_of
from widgets.products.outcome import RowsAttempt, Saved, save_outcome
from widgets.products.signing import ProductChoice
from widgets.products.state import CATALOG_MEASURES, Bases, EditorRow, TabState, rows_wire

log = logging.getLogger(__name__)

PRODUCT_SEARCH_LIMIT = 10


class TabUnavailable(Exception):
    """Bitrix24 did not answer the placement's first batch: nothing is verified, try again later."""


# --- opening and reloading the tab -------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """What the tab shows: the state, or the reason there is none."""

    state: TabState | None
    problem: str = ""  # "" | "not_found" | "denied" | "unavailable" | "session" (the user's token is dead)
    read_only: bool = False
    contacts: ContactsState | None = None


@dataclass(frozen=True)
class TabOpened:
    user_id: int
    deal_id: int
    loaded: Loaded


def deal_id_of(post: PlacementPost) -> int:
    if post.placement != DEAL_TAB_PLACEMENT:
        raise PlacementRefused(f"placement {post.placement[:40]!r} is not the deal tab")
    deal_id = int_of(post.options.get("ID"))
    if not deal_id or deal_id > 2**31 - 1:
        raise PlacementRefused("PLACEMENT_OPTIONS has no deal ID")
    return deal_id


def deal_tab_open(*, post: PlacementPost, portal: Portal) -> TabOpened:
    """Verify the placement's AUTH_ID against the stored portal and load the tab, in one batch."""
    deal_id = deal_id_of(post)
    # The stored client_endpoint, never DOMAIN from the request: only our portal sees this token.
    client = B24Client(OneOffTokens(post.auth_id, portal.client_endpoint, portal.member_id), max_retries=1)
    cached = refdata_cached(portal_id=portal.pk)
    missing = [kind for kind in KINDS if kind not in cached]
    commands = open_commands(deal_id=deal_id, with_user=True, ref=refdata_commands(missing=missing))
    try:
        outcome = client.batch(commands)
        me = outcome.get("me")
    except B24Error as exc:
        if not exc.permanent:
            raise TabUnavailable(exc.code) from exc
        raise PlacementRefused(f"the portal refused AUTH_ID: {exc.code}") from exc
    user_id = int_of(me.get("ID")) if isinstance(me, dict) else None
    if not user_id:
        raise PlacementRefused("user.current answered without an ID")
    user_token_store(portal=portal, user_id=user_id, post=post)
    loaded = _loaded(client, outcome, portal=portal, user_id=user_id, deal_id=deal_id, cached=cached)
    return TabOpened(user_id=user_id, deal_id=deal_id, loaded=loaded)


def deal_tab_load(*, portal: Portal, user_token: UserToken, deal_id: int) -> Loaded:
    """The tab again (Retry, or a full page without htmx): one batch with the user's own token."""
    client = B24Client(UserTokens(user_token), max_retries=1)
    cached = refdata_cached(portal_id=portal.pk)
    missing = [kind for kind in KINDS if kind not in cached]
    commands = open_commands(deal_id=deal_id, with_user=False, ref=refdata_commands(missing=missing))
    try:
        outcome = client.batch(commands)
    except (AuthorizationLost, InvalidToken) as exc:
        log.info("deal tab reload for deal %s: the user's token is no longer accepted: %s", deal_id, exc.code)
        return Loaded(state=None, problem="session")
    except B24Error as exc:
        log.warning("deal tab reload failed for deal %s: %s", deal_id, exc.code)
        return Loaded(state=None, problem="unavailable")
    return _loaded(client, outcome, portal=portal, user_id=user_token.user_id, deal_id=deal_id, cached=cached)


def _problem(error: B24Error) -> str:
    if isinstance(error, NotFound | InvalidArgument):
        return "not_found"
    if isinstance(error, AccessDenied):
        return "denied"
    return "unavailable"


def _loaded(
    client: B24Client, outcome: BatchResult, *, portal: Portal, user_id: int, deal_id: int, cached: dict[str, Any]
) -> Loaded:
    refdata = refdata_absorb(portal_id=portal.pk, outcome=outcome, cached=cached)
    for key in ("deal", "rows"):
        if key in outcome.errors:
            return Loaded(state=None, problem=_problem(outcome.errors[key]))
    bindings = bindings_of(outcome)
    cards = cards_from_slots(outcome, bindings)
    if len(bindings) > CONTACT_SLOTS:
        # More than fit in the opening batch: one more request for the rest.
        ids = [b.contact_id for b in bindings[CONTACT_SLOTS:]]
        try:
            cards.update(cards_from_list(client.result(*more_contacts_command(ids))))
        except B24Error as exc:
            log.info("more contacts of deal %s not loaded: %s", deal_id, exc.code)
    snapshot = snapshot_of(outcome.results.get("deal") or {}, refdata, deal_id=deal_id, amount_title=_("Amount"))
    # Unread bindings are not "no contacts": an editor started from nothing would unlink them all.
    contacts = None
    if "bindings" not in outcome.errors:
        contacts = ContactsState(
            portal.pk, user_id, deal_id, contact_items(bindings, cards), date_modify=snapshot.date_modify
        )
    state = TabState(
        portal_id=portal.pk,
        user_id=user_id,
        deal=snapshot,
        rows=tuple(rows_of(outcome.results.get("rows"))),
        is_admin=outcome.results.get("admin") is True,
    )
    read_only = portal.status != Portal.Status.INSTALLED or readonly_remembered(
        portal_id=portal.pk, user_id=user_id, deal_id=deal_id
    )
    return Loaded(state=state, read_only=read_only, contacts=contacts)


# --- saving ------------------------------------------------------------------------------------------


def deal_products_save(
    *, portal: Portal, user_token: UserToken, expected: TabState, rows: list[EditorRow], bases: Bases
) -> Saved:
    """Write `rows` unless the deal's rows are no longer the `expected` ones: 1 request, 2 in rare cases.

    One batch reads the rows just before the write, writes them guarded by the DATE_MODIFY the tab
    loaded, and reads back (widgets.products.batch.save_commands); widgets.products.outcome sends it
    and reads the answer. A second request only when the guard cannot tell: it refused for a change
    elsewhere in the deal while the rows are as loaded (written again, guarded by the new
    DATE_MODIFY), or it let through a change of the rows that DATE_MODIFY does not show (their rows
    are written back at once, and the rep gets the conflict).
    """
    client = B24Client(UserTokens(user_token), max_retries=1)
    sent = rows_wire(rows, bases)
    deal_id = expected.deal.id
    attempt: RowsAttempt | Saved = RowsAttempt(expected=expected, date_modify=expected.deal.date_modify)
    with deal_save_lock(portal_id=portal.pk, deal_id=deal_id):
        # It ends: a newer DATE_MODIFY is tried once, and the row checks dropped at most once for each.
        while isinstance(attempt, RowsAttempt):
            try:
                commands = save_commands(
                    deal_id=deal_id, date_modify=attempt.date_modify, rows=sent, loaded=attempt.loaded
                )
            except GuardUnavailable as exc:
                log.warning("save of deal %s: not written: %s", deal_id, exc)
                return Saved(kind="unchecked")
            attempt = save_outcome(client, attempt, commands, sent=sent, user_id=user_token.user_id)
    return attempt


# --- the catalog -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductHit:
    choice: ProductChoice
    token: str


def product_search(*, user_token: UserToken, query: str, measure_names: dict[int, str]) -> list[ProductHit]:
    """Up to ten active catalog products whose name contains `query`: one request."""
    client = B24Client(UserTokens(user_token), max_retries=1)
    # https://apidocs.bitrix24.com/api-reference/crm/outdated/products/crm-product-list.html
    params = {
        "filter": {"%NAME": query, "ACTIVE": "Y"},
        "select": ["ID", "NAME", "PRICE", "CURRENCY_ID", "MEASURE"],
        "order": {"NAME": "ASC"},
    }
    found = client.call("crm.product.list", params).result
    hits = []
    for item in (found if isinstance(found, list) else [])[:PRODUCT_SEARCH_LIMIT]:
        if not isinstance(item, dict) or not int_of(item.get("ID")):
            continue
        code = CATALOG_MEASURES.get(int_of(item.get("MEASURE")) or 0)
        choice = ProductChoice(
            id=int_of(item.get("ID")) or 0,
            name=str(item.get("NAME") or "")[:255],
            price=decimal_of(item.get("PRICE")),
            currency=str(item.get("CURRENCY_ID") or ""),
            measure_code=code,
            measure_name=measure_names.get(code, "") if code else "",
        )
        hits.append(ProductHit(choice=choice, token=choice.sign()))
    return hits


def refdata_for(*, portal_id: int) -> RefData:
    return refdata_from(refdata_cached(portal_id=portal_id))
