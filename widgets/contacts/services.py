"""The contacts editor's operations: search, the duplicate check, save. All with the user's own token.

Saving follows the product rows (widgets.products.services): one request (widgets.contacts.batch
.save_commands, halt=1) reads the bindings just before the write, checks every contact about to be
linked, then writes guarded by the DATE_MODIFY the tab loaded, creating the contacts made in the tab
in the same batch. Binding changes never move DATE_MODIFY (bitrix24-batch.md "Ids"), so the guard
cannot see another user's contact change: when the bindings read before the write are not the ones
the editor loaded, theirs are written back at once (one more request, which also deletes the
contacts this save created) and the rep gets the conflict view with their own version in hand.
docs/reliability.md, "Saving in one request", has every case.

Nothing is saved half-way: a contact deleted meanwhile, or one this user may not see, fails its own
read and halts the batch before anything is written; contacts created before a refused set are
deleted again with one more request.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace

from django import forms
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
from b24app.models import Portal, UserToken
from b24app.oauth import UserTokens
from widgets.common.guard import GuardUnavailable, deal_save_lock, modified_window
from widgets.common.readonly import readonly_remember
from widgets.contacts.batch import (
    MAX_LINK_CHECKS,
    bindings_from,
    bindings_of,
    cards_from_slots,
    cards_in,
    contact_items,
    created_ids,
    creation_requests,
    duplicate_commands,
    has_exactly,
    put_back_commands,
    save_commands,
    search_commands,
    undo_create_commands,
)
from widgets.contacts.forms import email_normalise, phone_normalise
from widgets.contacts.state import ContactCard, ContactItem, ContactsState, bindings_fingerprint

log = logging.getLogger(__name__)
_CONTACT_IN_ERROR = re.compile(r"#(\d+)")
_LETTERS = re.compile(r"[^\W\d_]")


# --- finding contacts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactMatches:
    cards: list[ContactCard]
    whole_number: bool = False  # the text looked like part of a phone number or an e-mail: say they are found whole


def contact_search(*, user_token: UserToken, query: str) -> ContactMatches:
    """Contacts whose first or last name contains `query`, or whose phone or e-mail is `query`: one request."""
    text = query.strip()
    keep = None
    try:
        if "@" in text:
            email = email_normalise(text)
            commands, keep = search_commands(email=email), has_exactly(email=email)
        elif not _LETTERS.search(text):
            phone = phone_normalise(text)
            commands, keep = search_commands(phone=phone), has_exactly(phone=phone)
        else:
            commands = search_commands(name=text)
    except forms.ValidationError:
        return ContactMatches([], whole_number=True)
    client = B24Client(UserTokens(user_token), max_retries=1)
    outcome = client.batch(commands)
    if len(outcome.errors) == len(commands):
        raise next(iter(outcome.errors.values()))
    # PHONE/EMAIL filters match values that start with the text: keep the contacts that have it.
    return ContactMatches(cards_in(outcome.results, list(commands), keep=keep))


@dataclass(frozen=True)
class Duplicates:
    phone: list[ContactCard] = field(default_factory=list)  # contacts that already have this number
    email: list[ContactCard] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.phone or self.email)

    @property
    def cards(self) -> list[ContactCard]:
        seen = {card.id: card for card in [*self.phone, *self.email]}
        return list(seen.values())


def contact_duplicates(*, user_token: UserToken, card: ContactCard) -> Duplicates:
    """Contacts that already have the new contact's phone number or e-mail: one request (none without either)."""
    commands = duplicate_commands(
        phone=card.phones[0] if card.phones else "", email=card.emails[0] if card.emails else ""
    )
    if not commands:
        return Duplicates()
    outcome = B24Client(UserTokens(user_token), max_retries=1).batch(commands)
    for error in outcome.errors.values():
        raise error
    # A duplicate has this very number or address; Bitrix24's filter also gives longer ones.
    return Duplicates(
        phone=cards_in(outcome.results, ["phone"], keep=has_exactly(phone=card.phones[0] if card.phones else "")),
        email=cards_in(outcome.results, ["email"], keep=has_exactly(email=card.emails[0] if card.emails else "")),
    )


# --- saving ----------------------------------------------------------------------------------------------


@dataclass
class ContactsSaved:
    """How a save ended, and what to show next."""

    # "saved" | "conflict" | "changed" (meanwhile) | "invalid" | "refused" | "failed" | "gone" | "session"
    # | "unchecked" (DATE_MODIFY unreadable: nothing sent) | "not_applied" (no answer; read again: as before)
    # | "unknown" (no answer; could not confirm)
    kind: str
    state: ContactsState | None = None  # saved: as now in Bitrix24; conflict / refused: theirs
    problems: dict[int, str] = field(default_factory=dict)  # index in the editor → what is wrong with it
    changed_by: str = ""
    changed_at: str = ""
    wrote: bool = False  # the deal's bindings changed (Bitrix24 sends ONCRMDEALUPDATE)
    primary_changed: bool = False
    created: list[str] = field(default_factory=list)  # names of the contacts this save created
    orphans: list[str] = field(default_factory=list)  # created, not linked, and not deleted again


def deal_contacts_save(
    *, portal: Portal, user_token: UserToken, expected: ContactsState, items: list[ContactItem]
) -> ContactsSaved:
    """Write `items` as the deal's contacts unless the bindings are no longer `expected`: 1 request.

    Two when the guard cannot tell (module docstring); one more per 48 new contacts past the first 45.
    """
    client = B24Client(UserTokens(user_token), max_retries=1)
    with deal_save_lock(portal_id=portal.pk, deal_id=expected.deal_id):
        return _save(client, expected, items, user_id=user_token.user_id, date_modify=expected.date_modify)


def _save(
    client: B24Client,
    expected: ContactsState,
    items: list[ContactItem],
    *,
    user_id: int,
    date_modify: str,
    again: bool = True,
    checked: bool = True,
) -> ContactsSaved:
    loaded = {item.card.id for item in expected.items}
    linking = [item.card.id for item in items if not item.card.new and item.card.id not in loaded]
    outcome = _send(client, expected, items, linking=linking, date_modify=date_modify, checked=checked)
    if isinstance(outcome, ContactsSaved):
        return outcome
    if "before" not in outcome.results:
        return _unsent(client, outcome, expected, items, user_id=user_id)
    theirs = _theirs(outcome, expected, items)
    changed = theirs.fingerprint != expected.fingerprint
    if "set" in outcome.results:
        if changed:
            return _put_back(client, outcome, expected, items, theirs)
        return _written(outcome, expected, items, theirs)
    orphans = _undo_create(client, outcome, items, deal_id=expected.deal_id)
    if changed and not any(key.startswith("see") for key in outcome.errors):
        return _conflict(outcome, theirs, orphans=orphans)
    if any(key.startswith(("is", "hold")) for key in outcome.errors) and not orphans:
        # A binding check stopped the batch, yet the bindings read before are the loaded ones: a
        # contact the list cannot show (another category). Written again without those checks.
        return _save(client, expected, items, user_id=user_id, date_modify=date_modify, again=again, checked=False)
    problems = _link_problems(outcome, items, linking)
    if problems:
        return ContactsSaved("invalid", problems=problems, orphans=orphans)
    if "guard" in outcome.errors or any(key.startswith("see") for key in outcome.errors):
        return ContactsSaved("failed", orphans=orphans)
    if not _guard_passed(outcome) and not orphans:
        if changed:
            return _conflict(outcome, theirs)
        if again and theirs.date_modify != date_modify:
            # Another field of the deal changed, the contacts are as loaded: writing them loses nothing.
            return _save(client, theirs, items, user_id=user_id, date_modify=theirs.date_modify, again=False)
    saved = _refused(outcome, items, theirs, user_id=user_id)
    saved.orphans = orphans
    return saved


def _send(
    client: B24Client,
    expected: ContactsState,
    items: list[ContactItem],
    *,
    linking: list[int],
    date_modify: str,
    checked: bool,
) -> BatchResult | ContactsSaved:
    """The early creation requests (if any) and the guarded write, or what to tell the rep when
    they could not be sent or answered."""
    deal_id = expected.deal_id
    try:
        modified_window(date_modify)  # before anything is sent: every request of the write is guarded by it
        early = creation_requests(deal_id=deal_id, date_modify=date_modify, items=items, linking=len(linking))
    except GuardUnavailable as exc:
        log.warning("contacts of deal %s: not written: %s", deal_id, exc)
        return ContactsSaved("unchecked")
    outcome = BatchResult({}, {}, {}, {})
    try:
        for commands in early:
            _absorb(outcome, client.batch(commands, halt=True))
            if outcome.errors:
                return outcome
        created = dict(enumerate(created_ids(outcome.results, items)))
        final = save_commands(
            deal_id=deal_id,
            date_modify=date_modify,
            items=items,
            linking=linking,
            created=created,
            expected=expected.items if checked else (),
        )
        _absorb(outcome, client.batch(final, halt=True))
    except OutcomeUnknown as exc:
        log.warning("contacts of deal %s: no answer to the write (%s): reading them again", deal_id, exc.code)
        return _confirm(client, expected, items, expected, created=created_ids(outcome.results, items))
    except (AuthorizationLost, InvalidToken):
        return ContactsSaved("session")
    except B24Error as exc:
        log.warning("contacts of deal %s: the write failed: %s", deal_id, exc.code)
        return ContactsSaved("failed")
    return outcome


def _unsent(
    client: B24Client, outcome: BatchResult, expected: ContactsState, items: list[ContactItem], *, user_id: int
) -> ContactsSaved:
    """An early creation request was refused, or the reads before the write were."""
    read_error = outcome.errors.get("was") or outcome.errors.get("before")
    if isinstance(read_error, NotFound | InvalidArgument):
        return ContactsSaved("gone")
    saved = _refused(outcome, items, expected, user_id=user_id) if read_error is None else ContactsSaved("failed")
    saved.orphans = _undo_create(client, outcome, items, deal_id=expected.deal_id)
    return saved


def _link_problems(outcome: BatchResult, items: list[ContactItem], linking: list[int]) -> dict[int, str]:
    """Contacts the rep chose to link that Bitrix24 would not show them: by the editor's row."""
    problems = {}
    for slot, contact_id in enumerate(linking[:MAX_LINK_CHECKS]):
        error = outcome.errors.get(f"see{slot}")
        if error is not None and error.permanent:
            problems[_index_of(items, contact_id)] = _unseen_message(error)
    return problems


def _conflict(outcome: BatchResult, theirs: ContactsState, *, orphans: list[str] | None = None) -> ContactsSaved:
    # Binding changes move neither DATE_MODIFY nor MODIFY_BY_ID (bitrix24-batch.md "Ids"): the deal's
    # last modifier need not be who changed its contacts, so nobody is named.
    return ContactsSaved("conflict", theirs, orphans=list(orphans or []))


def _put_back(
    client: B24Client, outcome: BatchResult, expected: ContactsState, items: list[ContactItem], theirs: ContactsState
) -> ContactsSaved:
    """Our write landed on bindings someone else had changed (the guard cannot see that: binding
    changes keep DATE_MODIFY): write theirs back and delete the contacts we created, in one request,
    then show the conflict with the rep's own version in hand. Only while the deal holds exactly
    what we wrote; if anyone wrote after us, theirs already stands."""
    deal_id = expected.deal_id
    created = created_ids(outcome.results, items)
    wrote = _written(outcome, expected, items, theirs).state
    deal = outcome.results.get("deal")
    date_modify = str(deal.get("DATE_MODIFY") or "") if isinstance(deal, dict) else ""
    ours = [(item.card.id, item.primary) for item in wrote.items] if wrote is not None else []
    if "after" in outcome.errors or [(b.contact_id, b.primary) for b in bindings_of(outcome, "after")] != ours:
        return _conflict(outcome, theirs, orphans=[item.card.name for item in items if item.card.new])
    try:
        commands = put_back_commands(
            deal_id=deal_id, date_modify=date_modify, bindings=bindings_of(outcome, "before"), delete=created
        )
        restored = client.batch(commands, halt=True)
    except (GuardUnavailable, B24Error) as exc:
        log.error("deal %s: another user's contacts were overwritten and not written back: %s", deal_id, exc)
        return ContactsSaved("unknown")
    if "set" not in restored.results:
        log.error("deal %s: another user's contacts were not written back: %s", deal_id, list(restored.errors))
        return ContactsSaved("unknown")
    left = [n for n, cid in enumerate(created) if f"del{n}" in restored.errors or cid <= 0]
    new_names = [item.card.name for item in items if item.card.new]
    back = bindings_of(restored, "after")
    cards = {item.card.id: item.card for item in theirs.items}
    state = replace(theirs, items=contact_items(back, cards), fingerprint="") if "after" in restored.results else theirs
    return _conflict(
        outcome, replace(state, fingerprint=bindings_fingerprint(state.items)), orphans=[new_names[n] for n in left]
    )


def _absorb(merged: BatchResult, part: BatchResult) -> None:
    merged.results.update(part.results)
    merged.errors.update(part.errors)


def _confirm(
    client: B24Client, expected: ContactsState, items: list[ContactItem], theirs: ContactsState, *, created: list[int]
) -> ContactsSaved:
    """A write went out and its answer was lost: read the bindings again (one request), say what is true.

    "saved" when the deal holds what was sent (new contacts: ids that were not linked before);
    "not_applied" when it holds what it held before (contacts created by an earlier request of
    this save are named: they exist, unlinked); "unknown" otherwise, or when the read fails too.
    """
    new_names = [item.card.name for item in items if item.card.new]
    try:
        # https://apidocs.bitrix24.com/api-reference/crm/deals/contacts/crm-deal-contact-items-get.html
        now = bindings_from(client.result("crm.deal.contact.items.get", {"id": expected.deal_id}))
    except B24Error as exc:
        log.warning("contacts of deal %s: could not be read again: %s", expected.deal_id, exc.code)
        return ContactsSaved("unknown", created=new_names)
    if [(b.contact_id, b.primary) for b in now] == [(i.card.id, i.primary) for i in theirs.items]:
        return ContactsSaved("not_applied", orphans=new_names[: len(created)], created=new_names)
    known = {item.card.id for item in [*theirs.items, *items]}
    if len(now) != len(items):
        return ContactsSaved("unknown", created=new_names)
    cards: dict[int, ContactCard] = {}
    made = iter(created)
    for binding, item in zip(now, items, strict=True):
        expected_id = next(made, None) if item.card.new else item.card.id
        if binding.primary != item.primary or (
            binding.contact_id != expected_id if expected_id is not None else binding.contact_id in known
        ):
            return ContactsSaved("unknown", created=new_names)
        cards[binding.contact_id] = replace(item.card, id=binding.contact_id) if item.card.new else item.card
    fresh = ContactsState(
        expected.portal_id,
        expected.user_id,
        expected.deal_id,
        contact_items(now, cards),
        date_modify=expected.date_modify,
    )
    return ContactsSaved(
        "saved",
        fresh,
        wrote=fresh.fingerprint != theirs.fingerprint,
        primary_changed=fresh.primary_id != theirs.primary_id,
        created=new_names,
    )


def _theirs(outcome: BatchResult, expected: ContactsState, items: list[ContactItem]) -> ContactsState:
    bindings = bindings_from(outcome.results.get("before"))
    known = {item.card.id: item.card for item in [*expected.items, *items] if not item.card.new}
    cards = {**known, **cards_from_slots(outcome, bindings)}
    deal = outcome.results.get("was")
    date_modify = str(deal.get("DATE_MODIFY") or "") if isinstance(deal, dict) else expected.date_modify
    return ContactsState(
        expected.portal_id, expected.user_id, expected.deal_id, contact_items(bindings, cards), date_modify=date_modify
    )


def _written(
    outcome: BatchResult, expected: ContactsState, items: list[ContactItem], before: ContactsState
) -> ContactsSaved:
    ids = iter(created_ids(outcome.results, items))
    cards: dict[int, ContactCard] = {}
    for item in items:
        card = replace(item.card, id=next(ids, 0), first_name="", last_name="") if item.card.new else item.card
        cards[card.id] = card
    if "after" in outcome.errors:
        # Written, but not read back: show what was sent, in the order it was sent.
        after = [
            ContactItem(cards[i.card.id] if not i.card.new else i.card, i.primary, (n + 1) * 10)
            for n, i in enumerate(items)
        ]
        fresh = ContactsState(expected.portal_id, expected.user_id, expected.deal_id, tuple(after))
    else:
        bindings = bindings_from(outcome.results.get("after"))
        fresh = ContactsState(expected.portal_id, expected.user_id, expected.deal_id, contact_items(bindings, cards))
    deal = outcome.results.get("deal")
    read = str(deal.get("DATE_MODIFY") or "") if isinstance(deal, dict) and "deal" not in outcome.errors else ""
    fresh = replace(fresh, date_modify=read or before.date_modify)
    return ContactsSaved(
        "saved",
        fresh,
        wrote=fresh.fingerprint != before.fingerprint,
        primary_changed=fresh.primary_id != before.primary_id,
        created=[item.card.name for item in items if item.card.new],
    )


def _refused(outcome: BatchResult, items: list[ContactItem], theirs: ContactsState, *, user_id: int) -> ContactsSaved:
    key, error = next(iter(outcome.errors.items()), ("", B24Error()))
    if key in ("gate", "set") and not _guard_passed(outcome):
        return ContactsSaved("changed")
    if key.startswith("new"):
        index = [i for i, item in enumerate(items) if item.card.new][int(key[3:] or 0)]
        if isinstance(error, AccessDenied):
            return ContactsSaved("invalid", problems={index: _("Bitrix24 does not let you create contacts.")})
        log.warning("a new contact was refused: %s %s", error.code, error.description[:200])
        return ContactsSaved("invalid", problems={index: _("Bitrix24 did not accept this contact.")})
    if key == "set" and isinstance(error, AccessDenied):
        readonly_remember(portal_id=theirs.portal_id, user_id=user_id, deal_id=theirs.deal_id)
        return ContactsSaved("refused", theirs)
    if key == "set" and isinstance(error, NotFound):
        return ContactsSaved("gone")
    if key == "set" and error.permanent:
        # "[Contact #12] You do not have permission to view this item": it vanished since the check.
        found = _CONTACT_IN_ERROR.search(error.description)
        index = _index_of(items, int(found.group(1))) if found else -1
        if index >= 0:
            return ContactsSaved("invalid", problems={index: _unseen_message(error)})
        log.warning("the portal refused the contacts: %s %s", error.code, error.description[:200])
        return ContactsSaved("invalid")
    log.warning("contacts save failed at %s: %s", key, error.code)
    return ContactsSaved("failed")


def _guard_passed(outcome: BatchResult) -> bool:
    found = outcome.results.get("guard")
    return isinstance(found, list) and len(found) == 1


def _undo_create(client: B24Client, outcome: BatchResult, items: list[ContactItem], *, deal_id: int) -> list[str]:
    """Delete the contacts this batch created but could not link; the names of any left behind."""
    ids = created_ids(outcome.results, items)
    if not ids:
        return []
    new_names = [item.card.name for item in items if item.card.new]
    try:
        undone = client.batch(undo_create_commands(ids))
        left = [n for n, cid in enumerate(ids) if f"del{n}" in undone.errors or cid <= 0]
    except B24Error as exc:
        log.warning("deal %s: contacts %s were created but not linked, nor deleted: %s", deal_id, ids, exc.code)
        left = list(range(len(ids)))
    return [new_names[n] for n in left]


def _index_of(items: list[ContactItem], contact_id: int) -> int:
    return next((i for i, item in enumerate(items) if item.card.id == contact_id), -1)


def _unseen_message(error: B24Error) -> str:
    if isinstance(error, AccessDenied):
        return _("Bitrix24 does not let you see this contact. Remove it to save.")
    return _("This contact was deleted in Bitrix24, or you may not see it. Remove it to save.")
