"""The contacts editor's POST: one form, told apart by the pressed button (house style: several actions
on one object are one view). Saving, the duplicate check and the search talk to Bitrix24
(widgets.contacts.services); everything else only rearranges the contacts the page sent
(widgets.contacts.editor)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from b24app.errors import AuthorizationLost, B24Error, InvalidToken
from b24app.models import Portal, UserToken
from widgets.common.text import session_ended, unchecked_message, unconfirmed_message
from widgets.contacts.editor import ContactsEdited, contacts_add, contacts_apply, loaded_items
from widgets.contacts.forms import ContactsInput
from widgets.contacts.outcome import ContactsSaved
from widgets.contacts.present import ContactHit, ContactResults, ContactsView, contacts_conflict, contacts_view
from widgets.contacts.services import contact_duplicates, contact_search, deal_contacts_save
from widgets.contacts.state import (
    ContactCard,
    ContactItem,
    ContactsState,
    card_read,
    card_sign,
    contacts_read,
    contacts_sign,
)

log = logging.getLogger(__name__)
CONTACTS_SAVING = ("save", "overwrite")


@dataclass
class ContactsOutcome:
    view: ContactsView
    wrote: bool = False  # Bitrix24 changed the deal's bindings (no ONCRMDEALUPDATE follows: bindings only)


def contacts_post(*, portal: Portal, user_token: UserToken, deal_id: int, posted: ContactsInput) -> ContactsOutcome:
    """Raises StateInvalid when a signed value was not ours."""
    controls = posted.controls.cleaned_data
    ids = {"portal_id": portal.pk, "user_id": user_token.user_id}
    state = contacts_read(controls["cstate"], deal_id=deal_id, **ids)
    theirs = contacts_read(controls["theirs"], deal_id=deal_id, **ids) if controls["theirs"] else None
    name, argument = posted.action
    items = posted.items
    if name == "cancel":
        return _shown(state, loaded_items(state), posted, status=_("Changes discarded."), keep_new=False)
    if name == "keep_theirs" and theirs is not None:
        status = _("You now see the contacts as they are saved in Bitrix24.")
        return _shown(theirs, loaded_items(theirs), posted, status=status)
    if name in CONTACTS_SAVING:
        expected = theirs if name == "overwrite" and theirs is not None else state
        saved = deal_contacts_save(portal=portal, user_token=user_token, expected=expected, items=items)
        return _after_save(saved, state=state, items=items, posted=posted)
    if name == "add":
        return _edited(state, contacts_add(items, card_read(argument, **ids)), posted, keep_new=True)
    if name in ("create", "create_anyway"):
        return _create(state, posted, user_token=user_token, check=name == "create")
    if name == "prefill":
        return _prefilled(state, posted, controls.get("cq") or "")
    if name == "search":
        outcome = _shown(state, items, posted)
        linked = {item.card.id for item in items}
        query = controls.get("cq") or ""
        outcome.view.results = contact_results(user_token=user_token, query=query, linked=linked, portal_id=portal.pk)
        return outcome
    return _edited(state, contacts_apply(name=name, argument=argument, items=items), posted, keep_new=True)


def _shown(
    state: ContactsState,
    items: list[ContactItem],
    posted: ContactsInput,
    *,
    status: str = "",
    keep_new: bool = True,
    problems: dict[int, str] | None = None,
) -> ContactsOutcome:
    view = contacts_view(state=state, items=items, problems=problems, products_token=_products(posted))
    view.status = status
    if keep_new:
        view.new_data = {name: str(posted.new.data.get(f"new-{name}", "")) for name in posted.new.fields}
        view.new_open = posted.new.typed
    return ContactsOutcome(view)


def _edited(state: ContactsState, edited: ContactsEdited, posted: ContactsInput, *, keep_new: bool) -> ContactsOutcome:
    outcome = _shown(state, edited.items, posted, status=edited.status, keep_new=keep_new)
    outcome.view.error, outcome.view.focus = edited.error, edited.focus
    return outcome


def _prefilled(state: ContactsState, posted: ContactsInput, query: str) -> ContactsOutcome:
    """ "Create “…” as a new contact" from the search box: the text goes to the field it looks like."""
    outcome = _shown(state, posted.items, posted)
    view = outcome.view
    text = query.strip()
    data = dict.fromkeys(posted.new.fields, "")
    if "@" in text:
        data["email"] = text
    elif text and not any(c.isalpha() for c in text):
        data["phone"] = text
    else:
        first, _sep, last = text.partition(" ")
        data["first_name"], data["last_name"] = first, last.strip()
    view.new_data, view.new_open = data, True
    view.focus = next((f"new-{name}" for name, value in data.items() if not value), "new-first_name")
    return outcome


def _products(posted: ContactsInput) -> str:
    return str(posted.controls.cleaned_data.get("state") or "")


def _create(state: ContactsState, posted: ContactsInput, *, user_token: UserToken, check: bool) -> ContactsOutcome:
    """A contact typed in: checked, then offered instead when Bitrix24 already has its phone or e-mail."""
    items, form = posted.items, posted.new
    outcome = _shown(state, items, posted)
    view = outcome.view
    view.new_open = True
    if not form.is_valid():
        view.new_errors = {name: " ".join(str(e) for e in errors) for name, errors in form.errors.items()}
        view.focus = f"new-{next(iter(form.errors))}"
        return outcome
    card = form.card()
    # Written back the way it will be saved: "+1 (212) 555-0123" shows as +12125550123.
    view.new_data = {
        **view.new_data,
        "phone": card.phones[0] if card.phones else "",
        "email": card.emails[0] if card.emails else "",
    }
    if check:
        try:
            found = contact_duplicates(user_token=user_token, card=card)
        except (AuthorizationLost, InvalidToken):
            view.error, view.session = session_ended(), True
            return outcome
        except B24Error as exc:
            log.info("duplicate check failed: %s", exc.code)
            view.error = _("Bitrix24 did not answer, so we could not check whether this contact already exists.")
            view.retry = "create"
            return outcome
        if found:
            view.duplicates = _duplicates(found.phone, found.email, items=items, state=state)
            view.focus = "duplicates"
            return outcome
    outcome = _edited(state, contacts_add(items, card), posted, keep_new=False)
    outcome.view.focus = "new-first_name"
    return outcome


def _duplicates(
    phone: list[ContactCard], email: list[ContactCard], *, items: list[ContactItem], state: ContactsState
) -> list[ContactHit]:
    linked = {item.card.id for item in items}
    found: dict[int, ContactHit] = {}
    for because, cards in (("phone", phone), ("email", email)):
        for card in cards:
            if card.id not in found:
                token = card_sign(card, portal_id=state.portal_id, user_id=state.user_id)
                found[card.id] = ContactHit(token=token, card=card, linked=card.id in linked, because=because)
    return list(found.values())


def contact_results(*, user_token: UserToken, query: str, linked: set[int], portal_id: int) -> ContactResults:
    """The search list: contacts found for `query`, each marked when already among the deal's."""
    if len(query) < 2:
        return ContactResults(q="")
    try:
        found = contact_search(user_token=user_token, query=query)
    except (AuthorizationLost, InvalidToken):
        return ContactResults(q=query, error=True, session=True)
    except B24Error as exc:
        log.info("contact search failed: %s", exc.code)
        return ContactResults(q=query, error=True)
    owner = {"portal_id": portal_id, "user_id": user_token.user_id}
    hits = [ContactHit(card_sign(card, **owner), card, card.id in linked) for card in found.cards]
    return ContactResults(q=query, hits=hits, whole_number=found.whole_number)


def _after_save(
    saved: ContactsSaved, *, state: ContactsState, items: list[ContactItem], posted: ContactsInput
) -> ContactsOutcome:
    if saved.kind == "saved" and saved.state is not None:
        return _saved_view(saved, saved.state, posted)
    if saved.kind == "conflict" and saved.state is not None:
        outcome = _shown(state, items, posted)
        view = outcome.view
        view.mode, view.theirs_token = "conflict", contacts_sign(saved.state)
        view.conflict = contacts_conflict(
            theirs=saved.state, mine=items, changed_by=saved.changed_by, changed_at=saved.changed_at
        )
        view.status, view.status_tone = (
            _("Not saved: the contacts were changed in Bitrix24 after you opened them."),
            "warn",
        )
        return outcome
    if saved.kind == "refused" and saved.state is not None:
        outcome = _shown(saved.state, loaded_items(saved.state), posted, keep_new=False)
        outcome.view.mode = "readonly"
        outcome.view.status = _("Not saved: Bitrix24 does not let you change this deal's contacts.")
        outcome.view.status_tone = "warn"
        return outcome
    outcome = _shown(state, items, posted, problems=saved.problems)
    view = outcome.view
    view.status, view.status_tone = _("Not saved."), "warn"
    _explain_unsaved(view, saved)
    if saved.orphans:
        names = ", ".join(saved.orphans)
        view.error += " " + ngettext(
            "%(names)s was created in Bitrix24 but is not linked to this deal.",
            "%(names)s were created in Bitrix24 but are not linked to this deal.",
            len(saved.orphans),
        ) % {"names": names}
    return outcome


def _saved_view(saved: ContactsSaved, fresh: ContactsState, posted: ContactsInput) -> ContactsOutcome:
    status = _("Saved.") if saved.wrote else _("Saved. Nothing had changed.")
    if saved.created:
        names = ", ".join(saved.created)
        status = ngettext(
            "Saved. %(names)s was created in Bitrix24 and linked to this deal.",
            "Saved. %(names)s were created in Bitrix24 and linked to this deal.",
            len(saved.created),
        ) % {"names": names}
    outcome = _shown(fresh, loaded_items(fresh), posted, status=status)
    outcome.view.reload_card = saved.primary_changed
    outcome.wrote = saved.wrote
    return outcome


def _explain_unsaved(view: ContactsView, saved: ContactsSaved) -> None:
    """Why nothing (or not everything) was saved, in the rep's words, and what they can do."""
    if saved.kind == "invalid":
        view.error = (
            _("Fix the marked contacts, then save again.")
            if saved.problems
            else _("Bitrix24 did not accept these contacts.")
        )
    elif saved.kind == "changed":
        view.error, view.retry = _("The deal changed in Bitrix24 while saving, so nothing was saved."), "save"
    elif saved.kind == "gone":
        view.error = _("This deal no longer exists in Bitrix24.")
    elif saved.kind == "unchecked":
        view.error, view.reload = unchecked_message(), True
    elif saved.kind == "not_applied":
        view.error = _("Bitrix24 did not answer in time. Deal Desk read the deal again: its contacts are as they were.")
        view.retry = "save"
        if len(saved.orphans) < len(saved.created):
            # The lost write may have created contacts it then did not link (it stops at the guard).
            view.error += " " + _(
                "New contacts may have been created in Bitrix24 without being linked: search for them "
                "before creating them again."
            )
    elif saved.kind == "unknown":
        view.status = _("Not confirmed.")
        view.error, view.reload = unconfirmed_message(), True
    elif saved.kind == "session":
        view.error, view.session = session_ended(), True
    else:
        view.error, view.retry = _("Bitrix24 did not answer, so nothing was saved."), "save"
