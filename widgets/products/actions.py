"""The editor's POST: one form, told apart by the pressed button (house style: several actions on one
object are one view). Saving talks to Bitrix24 (widgets.products.services); everything else only
rearranges the rows the page sent (widgets.products.editor)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from b24app.models import Portal, UserToken
from widgets.common import pricing
from widgets.common.text import not_applied_message, session_ended, unchecked_message, unconfirmed_message
from widgets.products.editor import drafts_of, editor_apply, too_many
from widgets.products.forms import EditorInput, RowDraft
from widgets.products.outcome import Saved
from widgets.products.present import ProductsView, conflict_of, products_view
from widgets.products.services import deal_products_save
from widgets.products.signing import state_read, state_sign, undo_read, undo_sign
from widgets.products.state import Bases, EditorRow, TabState, WireRow, bases_of

ROWS_SAVING = ("save", "overwrite", "undo")


@dataclass
class Outcome:
    state: TabState
    editor: ProductsView
    recalc: bool = False  # only the computed cells changed
    current: TabState | None = None  # the deal as Bitrix24 has it now, when not `state` (a conflict)


def editor_post(*, portal: Portal, user_token: UserToken, deal_id: int, posted: EditorInput) -> Outcome:
    """Raises StateInvalid when the signed state, undo or theirs values were not ours."""
    controls = posted.controls.cleaned_data
    ids = {"portal_id": portal.pk, "user_id": user_token.user_id, "deal_id": deal_id}
    state = state_read(controls["state"], **ids)
    undo = undo_read(controls["undo"], deal_id=deal_id) if controls["undo"] else []
    theirs = state_read(controls["theirs"], **ids) if controls["theirs"] else None
    name, argument = posted.action
    undo_token = controls["undo"] or ""
    if name == "cancel":
        drafts = drafts_of(state.rows, state.deal.currency)
        view = products_view(
            state=state, drafts=drafts, undo=undo, undo_token=undo_token, status=_("Changes discarded.")
        )
        return Outcome(state, view)
    if name == "keep_theirs" and theirs is not None:
        status = _("You now see the products as they are saved in Bitrix24.")
        drafts = drafts_of(theirs.rows, theirs.deal.currency)
        return Outcome(theirs, products_view(state=theirs, drafts=drafts, status=status))
    if name in ROWS_SAVING:
        request = _save_request(name, posted=posted, state=state, undo=undo, theirs=theirs)
        if isinstance(request, Outcome):
            return request
        expected, rows, bases, mine = request
        saved = deal_products_save(portal=portal, user_token=user_token, expected=expected, rows=rows, bases=bases)
        return _after_save(saved, name=name, state=state, mine=mine, undo=undo)
    edited = editor_apply(
        name=name,
        argument=argument,
        drafts=posted.drafts,
        q=controls.get("q") or "",
        paste=controls.get("paste") or "",
        deal_currency=state.deal.currency.code,
        fmt=state.deal.currency,
    )
    error = edited.error or (too_many() if posted.too_many else "")
    view = products_view(
        state=state,
        drafts=edited.drafts,
        undo=undo,
        undo_token=undo_token,
        focus=edited.focus,
        error=error,
        paste_text=edited.paste_text,
        paste_errors=edited.paste_errors,
        status=_("Unsaved changes.") if edited.added else "",
    )
    return Outcome(state, view, recalc=name == "recalc" and not error)


def _save_request(
    name: str, *, posted: EditorInput, state: TabState, undo: list[WireRow], theirs: TabState | None
) -> Outcome | tuple[TabState, list[EditorRow], Bases, list[RowDraft]]:
    """What a save button writes (expected rows, new rows, their bases, the drafts shown meanwhile),
    or the Outcome that says why nothing is sent."""
    drafts = posted.drafts
    if name == "undo":
        if not undo:
            return Outcome(state, products_view(state=state, drafts=drafts))
        # Put back the rows as they were before the last save, with the same conflict check.
        rows = [EditorRow.from_wire(row) for row in undo]
        return state, rows, bases_of(undo), drafts_of(undo, state.deal.currency)
    invalid = any(d.row is None for d in drafts)
    if invalid or posted.too_many or len(drafts) > pricing.MAX_ROWS:
        error = too_many() if posted.too_many else _("Fix the highlighted cells, then save again.")
        view = products_view(state=state, drafts=drafts, undo=undo, undo_token=posted.controls.cleaned_data["undo"])
        view.error, view.status, view.status_tone = error, _("Not saved."), "warn"
        return Outcome(state, view)
    expected = theirs if name == "overwrite" and theirs is not None else state
    written = [d.row for d in drafts if d.row is not None]
    return expected, written, bases_of(state.rows, undo, expected.rows), drafts


def _saved_status(state: TabState) -> str:
    amount = state.deal.currency.money(state.deal.opportunity)
    if state.deal.manual_amount:
        return _("Saved. The deal's amount is entered by hand and stays %(amount)s.") % {"amount": amount}
    return _("Saved. The deal's amount is now %(amount)s.") % {"amount": amount}


def _after_save(saved: Saved, *, name: str, state: TabState, mine: list[RowDraft], undo: list[WireRow]) -> Outcome:
    undo_token = undo_sign(deal_id=state.deal.id, rows=undo) if undo else ""
    if saved.kind == "saved" and saved.state is not None:
        fresh = saved.state
        next_undo = "" if name == "undo" else undo_sign(deal_id=fresh.deal.id, rows=list(saved.before))
        status = _("The last save was undone.") if name == "undo" else _saved_status(fresh)
        drafts = drafts_of(fresh.rows, fresh.deal.currency)
        view = products_view(
            state=fresh, drafts=drafts, undo=saved.before, undo_token=next_undo, status=status, saved=True
        )
        view.amount_changed = fresh.deal.opportunity != state.deal.opportunity
        # Bitrix24 updates the deal (new DATE_MODIFY, ONCRMDEALUPDATE) only when the rows change its
        # totals; a reorder or a rename does not (bitrix24-batch.md "Ids, and what a write changes").
        # The save's guard held DATE_MODIFY equal to the loaded one, so any move is this save's.
        view.deal_touched = fresh.deal.date_modify != state.deal.date_modify
        return Outcome(fresh, view)
    if saved.kind == "conflict" and saved.state is not None:
        theirs = saved.state
        rows = [d.row for d in mine if d.row is not None]
        bases = bases_of(state.rows, undo)
        view = products_view(state=state, drafts=mine, undo=undo, undo_token=undo_token, mode="conflict")
        view.theirs_token = state_sign(theirs)
        view.conflict = conflict_of(
            theirs=theirs, mine=rows, bases=bases, changed_by=saved.changed_by, changed_at=saved.changed_at
        )
        view.status = _("Not saved: these products were changed in Bitrix24 after you opened them.")
        view.status_tone = "warn"
        return Outcome(state, view, current=theirs)
    if saved.kind == "refused" and saved.state is not None:
        current = saved.state
        view = products_view(state=current, drafts=drafts_of(current.rows, current.deal.currency), mode="readonly")
        view.status, view.status_tone = _("Not saved: Bitrix24 does not let you change this deal's products."), "warn"
        return Outcome(current, view)
    view = products_view(state=state, drafts=mine, undo=undo, undo_token=undo_token, status_tone="warn")
    view.status = _("Not saved.")
    if saved.kind == "gone":
        view.error = _("This deal no longer exists in Bitrix24.")
    elif saved.kind == "session":
        view.error, view.session = session_ended(), True
    elif saved.kind == "invalid":
        view.error = _("Bitrix24 did not accept these rows. Check the prices and discounts, then save again.")
    elif saved.kind == "unchecked":
        view.error, view.reload = unchecked_message(), True
    elif saved.kind == "not_applied":
        view.error = not_applied_message()
        view.retry = name
    elif saved.kind == "unknown":
        view.status = _("Not confirmed.")
        view.error, view.reload = unconfirmed_message(), True
    else:
        view.error = _("Bitrix24 did not answer, so nothing was saved.")
        view.retry = name
    return Outcome(state, view)
