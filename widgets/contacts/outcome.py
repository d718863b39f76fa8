"""What a contacts save came to: the batches sent, their answers read, and what to tell the rep.

widgets.contacts.services.deal_contacts_save builds each save batch (widgets.contacts.batch
.save_commands) and hands it to `save_outcome`, which sends it and reads the answer: saved, a
conflict, invalid, refused, or one more attempt (a `ContactsAttempt`) when the guard could not tell
(docs/reliability.md, "Saving in one request"). `creations_sent` sends the requests that create
new contacts ahead of the save when more are made than fit in one request.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace

from django.utils.translation import gettext as _

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
from widgets.common.guard import GuardUnavailable, guard_passed, modified_window
from widgets.common.readonly import readonly_remember
from widgets.contacts.batch import (
    MAX_LINK_CHECKS,
    bindings_from,
    bindings_of,
    cards_from_slots,
    contact_items,
    created_ids,
    creation_requests,
    put_back_commands,
    undo_create_commands,
)
from widgets.contacts.state import ContactCard, ContactItem, ContactsState, bindings_fingerprint

log = logging.getLogger(__name__)
_CONTACT_IN_ERROR = re.compile(r"#(\d+)")


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


@dataclass(frozen=True)
class ContactsAttempt:
    """One save: guarded by `date_modify`, comparing against the bindings of `expected`.

    `checked` adds the binding checks that stop the batch when a loaded binding moved; `again`
    allows one more attempt guarded by a newer DATE_MODIFY when only another field of the deal changed.
    """

    expected: ContactsState
    date_modify: str
    again: bool = True
    checked: bool = True

    def linking(self, items: list[ContactItem]) -> list[int]:
        """The existing contacts `items` link that the tab did not load: each is read before the write."""
        loaded = {item.card.id for item in self.expected.items}
        return [item.card.id for item in items if not item.card.new and item.card.id not in loaded]


def creations_sent(
    client: B24Client, attempt: ContactsAttempt, items: list[ContactItem]
) -> BatchResult | ContactsSaved:
    """The requests that create new contacts ahead of the save (none in the common case), sent.

    Their answers, merged, for the save batch to add to; or what to tell the rep when DATE_MODIFY is
    unreadable (nothing sent: every request of the write is guarded by it) or a request failed.
    """
    deal_id, date_modify = attempt.expected.deal_id, attempt.date_modify
    try:
        modified_window(date_modify)
        early = creation_requests(
            deal_id=deal_id, date_modify=date_modify, items=items, linking=len(attempt.linking(items))
        )
    except GuardUnavailable as exc:
        log.warning("contacts of deal %s: not written: %s", deal_id, exc)
        return ContactsSaved("unchecked")
    merged = BatchResult({}, {}, {}, {})
    for commands in early:
        failed = _sent_into(merged, client, commands, attempt, items)
        if failed is not None:
            return failed
        if merged.errors:
            break
    return merged


def save_outcome(
    client: B24Client,
    attempt: ContactsAttempt,
    commands: dict[str, Command],
    *,
    merged: BatchResult,
    items: list[ContactItem],
    user_id: int,
) -> ContactsSaved | ContactsAttempt:
    """Send the save batch (none when a creation request already failed) and say how the save ended,
    or which attempt comes next."""
    if commands:
        failed = _sent_into(merged, client, commands, attempt, items)
        if failed is not None:
            return failed
    outcome, expected = merged, attempt.expected
    if "before" not in outcome.results:
        return _unsent(client, outcome, expected, items, user_id=user_id)
    theirs = _theirs(outcome, expected, items)
    changed = theirs.fingerprint != expected.fingerprint
    if "set" in outcome.results:
        if changed:
            return _put_back(client, outcome, expected, items, theirs)
        return _written(outcome, expected, items, theirs)
    return _not_written(client, outcome, attempt, items, theirs=theirs, user_id=user_id)


def _not_written(
    client: B24Client,
    outcome: BatchResult,
    attempt: ContactsAttempt,
    items: list[ContactItem],
    *,
    theirs: ContactsState,
    user_id: int,
) -> ContactsSaved | ContactsAttempt:
    """The batch stopped before the set: why, and whether another attempt is safe."""
    changed = theirs.fingerprint != attempt.expected.fingerprint
    orphans = _undo_create(client, outcome, items, deal_id=attempt.expected.deal_id)
    if changed and not any(key.startswith("see") for key in outcome.errors):
        return _conflict(outcome, theirs, orphans=orphans)
    if any(key.startswith(("is", "hold")) for key in outcome.errors) and not orphans:
        # A binding check stopped the batch, yet the bindings read before are the loaded ones: a
        # contact the list cannot show (another category). Written again without those checks.
        return replace(attempt, checked=False)
    problems = _link_problems(outcome, items, attempt.linking(items))
    if problems:
        return ContactsSaved("invalid", problems=problems, orphans=orphans)
    if "guard" in outcome.errors or any(key.startswith("see") for key in outcome.errors):
        return ContactsSaved("failed", orphans=orphans)
    if not guard_passed(outcome) and not orphans:
        if changed:
            return _conflict(outcome, theirs)
        if attempt.again and theirs.date_modify != attempt.date_modify:
            # Another field of the deal changed, the contacts are as loaded: writing them loses nothing.
            return ContactsAttempt(expected=theirs, date_modify=theirs.date_modify, again=False)
    saved = _refused(outcome, items, theirs, user_id=user_id)
    saved.orphans = orphans
    return saved


def _sent_into(
    merged: BatchResult,
    client: B24Client,
    commands: dict[str, Command],
    attempt: ContactsAttempt,
    items: list[ContactItem],
) -> ContactsSaved | None:
    """Send one request of the save (halt=1) and merge its answer; what to tell the rep when it failed."""
    deal_id = attempt.expected.deal_id
    try:
        part = client.batch(commands, halt=True)
    except OutcomeUnknown as exc:
        log.warning("contacts of deal %s: no answer to the write (%s): reading them again", deal_id, exc.code)
        expected = attempt.expected
        return _confirm(client, expected, items, expected, created=created_ids(merged.results, items))
    except (AuthorizationLost, InvalidToken):
        return ContactsSaved("session")
    except B24Error as exc:
        log.warning("contacts of deal %s: the write failed: %s", deal_id, exc.code)
        return ContactsSaved("failed")
    merged.results.update(part.results)
    merged.errors.update(part.errors)
    return None


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
    if key in ("gate", "set") and not guard_passed(outcome):
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
