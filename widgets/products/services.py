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
from dataclasses import dataclass, field, replace
from typing import Any

from django.utils.translation import gettext as _

from b24app.client import B24Client, BatchResult
from b24app.errors import (
    AccessDenied,
    AuthorizationLost,
    B24Error,
    InvalidArgument,
    InvalidToken,
    NotFound,
    OutcomeUnknown,
)
from b24app.install import DEAL_TAB_PLACEMENT
from b24app.models import Portal, UserToken
from b24app.oauth import OneOffTokens, UserTokens
from widgets.common.guard import GuardUnavailable, deal_save_lock, guard_passed
from widgets.common.money import decimal_of, int_of
from widgets.common.placement import PlacementPost, PlacementRefused, user_token_store
from widgets.common.readonly import readonly_remember, readonly_remembered
from widgets.common.refdata import KINDS, RefData, refdata_absorb, refdata_cached, refdata_commands, refdata_from
from widgets.common.text import user_name_of
from widgets.contacts.batch import (
    CONTACT_SLOTS,
    bindings_of,
    cards_from_list,
    cards_from_slots,
    contact_items,
    more_contacts_command,
)
from widgets.contacts.state import ContactsState
from widgets.products.batch import deal_commands, open_commands, rows_as_read, rows_of, save_commands, snapshot_of
from widgets.products.signing import ProductChoice
from widgets.products.state import (
    CATALOG_MEASURES,
    Bases,
    DealSnapshot,
    EditorRow,
    TabState,
    WireRow,
    rows_match,
    rows_wire,
)

log = logging.getLogger(__name__)

PRODUCT_SEARCH_LIMIT = 10


class TabUnavailable(Exception):
    """Bitrix24 did not answer the placement's first batch: nothing is verified, try again later."""


# --- read-only memory and deal versions (also used by widgets.common.events) --------------------------


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


@dataclass(frozen=True)
class Saved:
    """How a save (or undo) ended, and the state to show next."""

    # "saved" | "conflict" | "refused" | "invalid" | "failed" | "gone" | "session" | "unchecked"
    # | "not_applied" (no answer, read again: nothing changed) | "unknown" (no answer, could not confirm)
    kind: str
    state: TabState | None = None  # after the save; theirs on a conflict; current when refused
    before: tuple[WireRow, ...] = ()  # "saved": the rows as they were, for Undo
    changed_by: str = ""  # "conflict": who changed the deal last, if the portal said
    changed_at: str = ""
    notes: list[str] = field(default_factory=list)


def snapshot_refresh(old: DealSnapshot, deal: dict[str, Any], *, portal_id: int) -> DealSnapshot:
    """The deal as read again, keeping what the cache no longer knows from the earlier read."""
    refdata = refdata_from(refdata_cached(portal_id=portal_id))
    if str(deal.get("CURRENCY_ID") or "") == old.currency.code or not refdata.currencies:
        refdata = replace(refdata, currencies={**refdata.currencies, old.currency.code: old.currency})
    fresh = snapshot_of(deal, refdata, deal_id=old.id, amount_title=old.amount_title)
    if not refdata.stages:
        fresh = replace(
            fresh, stage_name=old.stage_name, stage_color=old.stage_color, stage_semantics=old.stage_semantics
        )
    return fresh if refdata.funnels else replace(fresh, funnel_name=old.funnel_name)


def deal_products_save(
    *, portal: Portal, user_token: UserToken, expected: TabState, rows: list[EditorRow], bases: Bases
) -> Saved:
    """Write `rows` unless the deal's rows are no longer the `expected` ones: 1 request, 2 in rare cases.

    One batch reads the rows just before the write, writes them guarded by the DATE_MODIFY the tab
    loaded, and reads back (widgets.products.batch.save_commands). A second request only when the
    guard cannot tell: it refused for a change elsewhere in the deal while the rows are as loaded
    (written again, guarded by the new DATE_MODIFY), or it let through a change of the rows that
    DATE_MODIFY does not show (their rows are written back at once, and the rep gets the conflict).
    """
    client = B24Client(UserTokens(user_token), max_retries=1)
    sent = rows_wire(rows, bases)
    with deal_save_lock(portal_id=portal.pk, deal_id=expected.deal.id):
        return _save(client, expected, sent, user_id=user_token.user_id, date_modify=expected.deal.date_modify)


def _send(
    client: B24Client, expected: TabState, sent: list[dict[str, Any]], *, date_modify: str, checked: bool
) -> BatchResult | Saved:
    """The one save batch, or what to tell the rep when it could not be sent or answered."""
    deal_id = expected.deal.id
    loaded = [row.id for row in expected.rows if row.id is not None]
    if not checked or len(loaded) != len(expected.rows):
        loaded = []
    try:
        commands = save_commands(deal_id=deal_id, date_modify=date_modify, rows=sent, loaded=loaded)
    except GuardUnavailable as exc:
        log.warning("save of deal %s: not written: %s", deal_id, exc)
        return Saved(kind="unchecked")
    try:
        outcome = client.batch(commands, halt=True)
        outcome.get("was")
        outcome.get("before")
    except OutcomeUnknown as exc:
        log.warning("save of deal %s: no answer to the write (%s): reading the rows again", deal_id, exc.code)
        return _confirm(client, expected=expected, theirs=expected, sent=sent)
    except (NotFound, InvalidArgument):
        return Saved(kind="gone")
    except (AuthorizationLost, InvalidToken):
        return Saved(kind="session")
    except B24Error as exc:
        log.warning("save of deal %s failed: %s", deal_id, exc.code)
        return Saved(kind="failed")
    return outcome


def _save(
    client: B24Client,
    expected: TabState,
    sent: list[dict[str, Any]],
    *,
    user_id: int,
    date_modify: str,
    again: bool = True,
    checked: bool = True,
) -> Saved:
    outcome = _send(client, expected, sent, date_modify=date_modify, checked=checked)
    if isinstance(outcome, Saved):
        return outcome
    deal_id = expected.deal.id
    theirs = _read_back(outcome, expected, portal_id=expected.portal_id, keys=("was", "before"))
    if theirs is None:  # both reads answered (outcome.get above), so this is a malformed answer
        log.warning("save of deal %s: the rows read with the write could not be understood", deal_id)
        return Saved(kind="failed")
    changed = theirs.fingerprint != expected.fingerprint
    if changed and rows_match(sent, list(theirs.rows)):
        # Bitrix24 already holds exactly these rows (an earlier save whose answer was lost, sent
        # again): nothing of anyone's is at stake, so it is saved whether or not this write ran.
        fresh = _read_back(outcome, expected, portal_id=expected.portal_id) if "set" in outcome.results else None
        return Saved(kind="saved", state=fresh or theirs, before=expected.rows)
    if "set" in outcome.results:
        fresh = _read_back(outcome, expected, portal_id=expected.portal_id)
        if changed:
            return _put_back(client, outcome, theirs=theirs, fresh=fresh, sent=sent)
        return Saved(kind="saved", state=fresh or theirs, before=theirs.rows)
    if changed and any(key.startswith(("is", "hold")) for key in outcome.errors):
        return _conflict(outcome, theirs)  # a row moved: stopped before the write
    if any(key.startswith(("is", "hold")) for key in outcome.errors):
        # A row check stopped the batch, yet the rows read before are the loaded ones: written
        # again without the checks (the comparison of `before` still guards it).
        return _save(client, expected, sent, user_id=user_id, date_modify=date_modify, again=again, checked=False)
    if "guard" in outcome.errors or "modifier" in outcome.errors:
        log.warning("save of deal %s: the guard could not run: %s", deal_id, list(outcome.errors))
        return Saved(kind="failed")
    if not guard_passed(outcome):
        if changed:
            return _conflict(outcome, theirs)
        if again and date_modify != theirs.deal.date_modify:
            # Another field changed (DATE_MODIFY moved), the rows are still the ones loaded: the rows
            # written now lose nothing; guarded again, by the DATE_MODIFY just read.
            return _save(client, theirs, sent, user_id=user_id, date_modify=theirs.deal.date_modify, again=False)
        return _conflict(outcome, theirs)
    error = outcome.errors.get("set") or B24Error()
    return _refused(error, theirs, portal_id=expected.portal_id, user_id=user_id)


def _conflict(outcome: BatchResult, theirs: TabState) -> Saved:
    modifier = "" if "modifier" in outcome.errors else user_name_of(outcome.results.get("modifier"))
    return Saved(kind="conflict", state=theirs, changed_by=modifier, changed_at=theirs.deal.date_modify)


def _put_back(
    client: B24Client, outcome: BatchResult, *, theirs: TabState, fresh: TabState | None, sent: list[dict[str, Any]]
) -> Saved:
    """The guard let the write through, but the rows had changed (a reorder or rename keeps DATE_MODIFY):
    write their rows back, then show the conflict with the rep's own version in hand (one request).

    Only while the portal still holds exactly what we wrote, guarded by the DATE_MODIFY read back:
    if anyone wrote after us, theirs already stands and is shown.
    """
    deal_id = theirs.deal.id
    if fresh is None or not rows_match(sent, list(fresh.rows)):
        return _conflict(outcome, fresh or theirs)
    try:
        commands = save_commands(
            deal_id=deal_id, date_modify=fresh.deal.date_modify, rows=rows_as_read(outcome.results.get("before"))
        )
        restored = client.batch(commands, halt=True)
    except (GuardUnavailable, B24Error) as exc:
        log.error("deal %s: another user's rows were overwritten and could not be written back: %s", deal_id, exc)
        return Saved(kind="unknown")
    back = _read_back(restored, theirs, portal_id=theirs.portal_id)
    if "set" not in restored.results:
        log.error(
            "deal %s: another user's rows were overwritten and not written back: %s", deal_id, list(restored.errors)
        )
        return Saved(kind="unknown")
    return _conflict(outcome, back or theirs)


def _read_back(
    outcome: BatchResult, expected: TabState, *, portal_id: int, keys: tuple[str, str] = ("deal", "rows")
) -> TabState | None:
    deal_key, rows_key = keys
    if rows_key in outcome.errors or deal_key in outcome.errors or rows_key not in outcome.results:
        return None
    deal = outcome.results.get(deal_key)
    snapshot = snapshot_refresh(expected.deal, deal if isinstance(deal, dict) else {}, portal_id=portal_id)
    return expected.with_rows(rows_of(outcome.results.get(rows_key)), snapshot)


def _confirm(client: B24Client, *, expected: TabState, theirs: TabState, sent: list[Any]) -> Saved:
    """The write went out and its answer was lost: read the rows again (one request) and say what is true.

    "saved" when Bitrix24 holds what was sent; "not_applied" when it still holds what was there
    before; "unknown" (reload) when the read fails too or shows something else.
    """
    try:
        now = _read_back(client.batch(deal_commands(expected.deal.id)), expected, portal_id=expected.portal_id)
    except B24Error as exc:
        log.warning("deal %s: the rows could not be read again: %s", expected.deal.id, exc.code)
        now = None
    if now is None:
        return Saved(kind="unknown")
    if rows_match(sent, list(now.rows)):
        return Saved(kind="saved", state=now, before=theirs.rows)
    if now.fingerprint == theirs.fingerprint:
        return Saved(kind="not_applied")
    return Saved(kind="unknown")


def _refused(error: B24Error, current: TabState, *, portal_id: int, user_id: int) -> Saved:
    deal_id = current.deal.id
    if isinstance(error, AccessDenied):
        readonly_remember(portal_id=portal_id, user_id=user_id, deal_id=deal_id)
        return Saved(kind="refused", state=current)
    if isinstance(error, NotFound):
        return Saved(kind="gone")
    if error.permanent:
        # ERROR_CORE and the like: the editor validates first, so this is a portal-side rule.
        log.warning("deal %s: the portal refused the rows: %s %s", deal_id, error.code, error.description[:200])
        return Saved(kind="invalid")
    return Saved(kind="failed")


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
