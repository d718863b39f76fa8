"""What a product rows save came to: the save batch sent, its answer read, and what to tell the rep.

widgets.products.services.deal_products_save builds each save batch (widgets.products.batch
.save_commands) and hands it to `save_outcome`, which sends it and reads the answer: saved, a
conflict, refused, or one more attempt (a `RowsAttempt`) when the guard could not tell
(docs/reliability.md, "Saving in one request").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from b24app.client import B24Client, BatchResult, Command
from b24app.errors import (
    AccessDenied,
    AuthorizationLost,
    B24Error,
    InvalidArgument,
    InvalidToken,
    NotFound,
    OutcomeUnknown,
)
from widgets.common.guard import GuardUnavailable, guard_passed
from widgets.common.readonly import readonly_remember
from widgets.common.refdata import refdata_cached, refdata_from
from widgets.common.text import user_name_of
from widgets.products.batch import deal_commands, rows_as_read, rows_of, save_commands, snapshot_of
from widgets.products.state import DealSnapshot, TabState, WireRow, rows_match

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class RowsAttempt:
    """One save batch: guarded by `date_modify`, comparing against the rows of `expected`.

    `checked` adds the row checks that stop the batch on a reorder; `again` allows one more attempt
    guarded by a newer DATE_MODIFY when only another field of the deal changed.
    """

    expected: TabState
    date_modify: str
    again: bool = True
    checked: bool = True

    @property
    def loaded(self) -> list[int]:
        """The ids of the rows the tab loaded, for the row checks (none when unchecked or unsaved rows)."""
        ids = [row.id for row in self.expected.rows if row.id is not None]
        return ids if self.checked and len(ids) == len(self.expected.rows) else []


def save_outcome(
    client: B24Client, attempt: RowsAttempt, commands: dict[str, Command], *, sent: list[dict[str, Any]], user_id: int
) -> Saved | RowsAttempt:
    """Send one save batch and say how it ended, or which attempt comes next."""
    outcome = _send(client, attempt, commands, sent=sent)
    if isinstance(outcome, Saved):
        return outcome
    expected, date_modify = attempt.expected, attempt.date_modify
    deal_id = expected.deal.id
    theirs = _read_back(outcome, expected, portal_id=expected.portal_id, keys=("was", "before"))
    if theirs is None:  # both reads answered (outcome.get in _send), so this is a malformed answer
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
        return replace(attempt, checked=False)
    if "guard" in outcome.errors or "modifier" in outcome.errors:
        log.warning("save of deal %s: the guard could not run: %s", deal_id, list(outcome.errors))
        return Saved(kind="failed")
    if not guard_passed(outcome):
        if changed:
            return _conflict(outcome, theirs)
        if attempt.again and date_modify != theirs.deal.date_modify:
            # Another field changed (DATE_MODIFY moved), the rows are still the ones loaded: the rows
            # written now lose nothing; guarded again, by the DATE_MODIFY just read.
            return RowsAttempt(expected=theirs, date_modify=theirs.deal.date_modify, again=False)
        return _conflict(outcome, theirs)
    error = outcome.errors.get("set") or B24Error()
    return _refused(error, theirs, portal_id=expected.portal_id, user_id=user_id)


def _send(
    client: B24Client, attempt: RowsAttempt, commands: dict[str, Command], *, sent: list[dict[str, Any]]
) -> BatchResult | Saved:
    """The one save batch's answer, or what to tell the rep when it could not be sent or answered."""
    expected = attempt.expected
    deal_id = expected.deal.id
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
