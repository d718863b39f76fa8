"""The REST batches of the contacts editor: search, the duplicate check, and the save.

Saving (widgets.contacts.services) is one request in the common case, `save_commands` with halt=1
(bitrix24-protocol.md §4.4): the deal and its bindings just before the write, every contact about to
be linked (read with the user's token: a contact deleted meanwhile or one this user may not see
fails its own command and halts the batch before any write), then `write_commands`: a guard that
finds the deal only while DATE_MODIFY is unchanged; the new contacts (crm.contact.add); the set
(crm.deal.contact.items.set), whose items name the new contacts by `$result[newN]`; then the
bindings and the deal read back. The guard's id is what every write takes, so a refused guard stops
the batch before anything is written (`gate` comes first when contacts are about to be created).
`put_back_commands` writes another user's bindings back when the save landed on them.

A guard's `$result[guard][0][ID]` must sit in the same request as the guard: in a later one it
resolves to an array, which Bitrix24 reads as deal 1 (bitrix24-batch.md, "Ids"). So a save that
creates more contacts than fit in one request of 50 creates the first ones in requests of their
own (each with its own guard), and the last request links them by their plain ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from b24app.client import BATCH_LIMIT, BatchResult, Command
from widgets.common.guard import modified_window
from widgets.common.money import int_of
from widgets.contacts.state import ContactCard, ContactItem

CONTACT_SEARCH_LIMIT = 10
MAX_LINK_CHECKS = 30  # contacts checked one by one before a save; past that, items.set checks them itself
GUARDED_ID = "$result[guard][0][ID]"


def _list(filter_: dict[str, Any]) -> Command:
    # https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-list.html
    # Multifields (PHONE, EMAIL) come only when named in `select`. Their filters match stored values
    # that *start with* the value (bitrix24-lists.md, CCrmEntityHelper::PrepareMultiFieldFilter), so
    # callers that mean "this very number" keep only exact matches (has_exactly).
    return ("crm.contact.list", {"filter": filter_, "select": CONTACT_SELECT, "order": {"LAST_NAME": "ASC"}})


def search_commands(*, name: str = "", phone: str = "", email: str = "") -> dict[str, Command]:
    """crm.contact.list has no OR: one command per way the typed text may name a contact."""
    if email:
        return {"email": _list({"EMAIL": email})}
    if phone:
        return {"phone": _list({"PHONE": phone})}
    words = name.split()
    # Last names first: "Be" is more likely the start of Becker than the middle of Robert.
    commands = {"last": _list({"%LAST_NAME": name}), "first": _list({"%NAME": name})}
    if len(words) > 1:
        # "Anna Smith" and "Smith Anna": first and last name in either order.
        commands["both"] = _list({"%NAME": words[0], "%LAST_NAME": " ".join(words[1:])})
        commands["reversed"] = _list({"%NAME": words[-1], "%LAST_NAME": " ".join(words[:-1])})
    return commands


def duplicate_commands(*, phone: str, email: str) -> dict[str, Command]:
    commands = {}
    if phone:
        commands["phone"] = _list({"PHONE": phone})
    if email:
        commands["email"] = _list({"EMAIL": email})
    return commands


def cards_in(
    results: dict[str, Any],
    keys: list[str],
    *,
    limit: int = CONTACT_SEARCH_LIMIT,
    keep: Callable[[ContactCard], bool] | None = None,
) -> list[ContactCard]:
    """The contacts the commands found (those `keep` accepts), in command order, each once."""
    found: dict[int, ContactCard] = {}
    for key in keys:
        answer = results.get(key)
        for item in answer if isinstance(answer, list) else []:
            card = ContactCard.from_api(item)
            if card is not None and card.id not in found and (keep is None or keep(card)):
                found[card.id] = card
    return list(found.values())[:limit]


def has_exactly(*, phone: str = "", email: str = "") -> Callable[[ContactCard], bool]:
    """A test for contacts that have this very phone number or address, not just one starting with it.

    Bitrix24 stores values as given (no phone normalisation) and compares in the database's
    collation, which is case-insensitive: e-mail addresses are compared ignoring case."""
    wanted_email = email.casefold()

    def keep(card: ContactCard) -> bool:
        if phone and phone in card.phones:
            return True
        return bool(wanted_email) and any(value.casefold() == wanted_email for value in card.emails)

    return keep


# --- saving ---------------------------------------------------------------------------------------------


def new_contact_fields(card: ContactCard) -> dict[str, Any]:
    fields: dict[str, Any] = {"NAME": card.first_name, "LAST_NAME": card.last_name}
    # crm_multifield values (bitrix24-protocol.md §7.4): a new value is {"VALUE", "VALUE_TYPE"}.
    if card.phones:
        fields["PHONE"] = [{"VALUE": card.phones[0], "VALUE_TYPE": "WORK"}]
    if card.emails:
        fields["EMAIL"] = [{"VALUE": card.emails[0], "VALUE_TYPE": "WORK"}]
    return fields


def guard_commands(*, deal_id: int, date_modify: str, creating: bool) -> dict[str, Command]:
    """The guard first in every write request: references never cross requests (bitrix24-batch.md)."""
    window = modified_window(date_modify)  # GuardUnavailable: no write at all
    commands: dict[str, Command] = {
        # https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-list.html
        "guard": ("crm.deal.list", {"filter": {"=ID": deal_id, **window}, "select": ["ID"]}),
    }
    if creating:
        # An unresolved guard reference is not an id: this read fails, before any contact is created.
        commands["gate"] = ("crm.deal.contact.items.get", {"id": GUARDED_ID})
    return commands


# The last request holds guard, gate, set, after and deal besides the contacts it creates.
LAST_REQUEST_NEW = BATCH_LIMIT - 5
EARLY_REQUEST_NEW = BATCH_LIMIT - 2  # guard and gate


def creation_requests(
    *, deal_id: int, date_modify: str, items: list[ContactItem], linking: int = 0
) -> list[dict[str, Command]]:
    """The new contacts that do not fit in the write's own request, created first (halt=1 each).

    Each request is guarded on its own, so a deal changed meanwhile creates nothing more; the set
    itself comes last, with these contacts' ids as plain numbers (write_commands `created`).
    `linking`: contacts the last request checks before its write (save_commands), which take room.
    """
    new = [item for item in items if item.card.new]
    early = max(0, len(new) - (LAST_REQUEST_NEW - READS - min(linking, MAX_LINK_CHECKS)))
    requests = []
    for start in range(0, early, EARLY_REQUEST_NEW):
        commands = guard_commands(deal_id=deal_id, date_modify=date_modify, creating=True)
        for j in range(start, min(early, start + EARLY_REQUEST_NEW)):
            # https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-add.html
            commands[f"new{j}"] = ("crm.contact.add", {"fields": new_contact_fields(new[j].card)})
        requests.append(commands)
    return requests


def write_commands(
    *, deal_id: int, date_modify: str, items: list[ContactItem], created: dict[int, int] | None = None
) -> dict[str, Command]:
    """Run with halt=1: the first refused command stops the batch (module docstring).

    `created`: new contact number → id, for those creation_requests made already.
    """
    created = created or {}
    creating = sum(1 for item in items if item.card.new) > len(created)
    commands = guard_commands(deal_id=deal_id, date_modify=date_modify, creating=creating)
    wire: list[dict[str, Any]] = []
    ordinal = 0
    for index, item in enumerate(items):
        contact_id: int | str = item.card.id
        if item.card.new:
            key, ordinal = f"new{ordinal}", ordinal + 1
            if ordinal - 1 in created:
                contact_id = created[ordinal - 1]
            else:
                # https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-add.html
                commands[key] = ("crm.contact.add", {"fields": new_contact_fields(item.card)})
                contact_id = f"$result[{key}]"  # the whole value: the new id itself is passed on
        wire.append({"CONTACT_ID": contact_id, "SORT": (index + 1) * 10, "IS_PRIMARY": "Y" if item.primary else "N"})
    if wire:
        # https://apidocs.bitrix24.com/api-reference/crm/deals/contacts/crm-deal-contact-items-set.html
        commands["set"] = ("crm.deal.contact.items.set", {"id": GUARDED_ID, "items": wire})
    else:
        # An empty `items` cannot be spelled in a batch query string; unlinking all has its own method.
        # https://apidocs.bitrix24.com/api-reference/crm/deals/contacts/crm-deal-contact-items-delete.html
        commands["set"] = ("crm.deal.contact.items.delete", {"id": GUARDED_ID})
    commands["after"] = ("crm.deal.contact.items.get", {"id": deal_id})
    commands["deal"] = ("crm.deal.get", {"id": deal_id})
    return commands


READS = 2  # was, before: what save_commands reads before the write


def binding_checks(expected: tuple[ContactItem, ...] | list[ContactItem]) -> dict[str, Command]:
    """Commands that halt the batch (halt=1) unless each loaded binding still holds its contact, in order.

    `crm.deal.contact.items.get` takes no filter, so each position is checked with a list that finds
    the loaded contact only if it is the one now at that position (`ID` is the contact read just
    before, `@ID` the loaded one), then a get of what that list found: an empty list leaves
    `$result[isK][0][ID]` as `[]`, PHP (int) 0, refused, and the batch stops before any write. A
    position that no longer exists gives the list an array, which matches nothing or fails: the
    batch stops either way. Contacts this user cannot read are not checked (the list could not find
    them); added bindings are not seen here either: the service compares the bindings read before.
    """
    commands: dict[str, Command] = {}
    for position, item in enumerate(expected):
        if item.card.hidden or item.card.id <= 0:
            continue
        # https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-list.html
        commands[f"is{position}"] = (
            "crm.contact.list",
            {"filter": {"ID": f"$result[before][{position}][CONTACT_ID]", "@ID": [item.card.id]}, "select": ["ID"]},
        )
        # https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-get.html
        commands[f"hold{position}"] = ("crm.contact.get", {"id": f"$result[is{position}][0][ID]"})
    return commands


def save_commands(
    *,
    deal_id: int,
    date_modify: str,
    items: list[ContactItem],
    linking: list[int],
    created: dict[int, int] | None = None,
    expected: tuple[ContactItem, ...] = (),
) -> dict[str, Command]:
    """The save's last (usually only) request, run with halt=1 (docs/reliability.md, "Saving in one request").

    Before the write: the deal (`was`), its bindings just before the write (`before`; binding
    changes move neither DATE_MODIFY nor MODIFY_BY_ID, so the service compares them with the ones
    the tab loaded), and every contact about to be linked (a contact deleted meanwhile, or one this
    user may not see, fails its own `see` command and halts the batch before anything is written).
    Then binding_checks (each loaded binding still in place, else the batch stops) and
    write_commands (guard first). The cards of the bindings read before, for a conflict view: the
    loaded positions before the write, the others after it; a slot past the last binding fails or
    reads another contact, and is ignored.
    """
    commands: dict[str, Command] = {
        # https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-get.html
        "was": ("crm.deal.get", {"id": deal_id}),
        # https://apidocs.bitrix24.com/api-reference/crm/deals/contacts/crm-deal-contact-items-get.html
        "before": ("crm.deal.contact.items.get", {"id": deal_id}),
    }
    for index, contact_id in enumerate(linking[:MAX_LINK_CHECKS]):
        # https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-get.html
        commands[f"see{index}"] = ("crm.contact.get", {"id": contact_id})
    write = write_commands(deal_id=deal_id, date_modify=date_modify, items=items, created=created)
    checks = binding_checks(expected)
    # The cards at the loaded positions are read before the write, so a conflict that stops the
    # batch still shows their names; only positions whose loaded contact this user could read (one
    # that fails here stops the batch: the binding changed, a conflict anyway).
    early = [k for k, item in enumerate(expected[:CONTACT_SLOTS]) if not item.card.hidden]
    if len(commands) + len(checks) + len(early) + len(write) <= BATCH_LIMIT:
        commands.update(_slots(early))
        commands.update(checks)  # else the bindings read before still tell, after the write
    commands.update(write)
    late = [k for k in range(CONTACT_SLOTS) if f"c{k}" not in commands]
    commands.update(_slots(late[: max(0, BATCH_LIMIT - len(commands))]))
    return commands


def _slots(positions: list[int]) -> dict[str, Command]:
    # https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-get.html
    return {f"c{k}": ("crm.contact.get", {"id": f"$result[before][{k}][CONTACT_ID]"}) for k in positions}


def put_back_commands(
    *, deal_id: int, date_modify: str, bindings: list[Binding], delete: list[int]
) -> dict[str, Command]:
    """Write another user's bindings back after our write landed on them (binding changes keep
    DATE_MODIFY, so the guard let it through), delete the contacts that write created, read back.

    Guarded by the DATE_MODIFY our write's read-back saw; run with halt=1.
    """
    commands = guard_commands(deal_id=deal_id, date_modify=date_modify, creating=False)
    if bindings:
        wire = [{"CONTACT_ID": b.contact_id, "SORT": b.sort, "IS_PRIMARY": "Y" if b.primary else "N"} for b in bindings]
        # https://apidocs.bitrix24.com/api-reference/crm/deals/contacts/crm-deal-contact-items-set.html
        commands["set"] = ("crm.deal.contact.items.set", {"id": GUARDED_ID, "items": wire})
    else:
        # https://apidocs.bitrix24.com/api-reference/crm/deals/contacts/crm-deal-contact-items-delete.html
        commands["set"] = ("crm.deal.contact.items.delete", {"id": GUARDED_ID})
    commands.update(undo_create_commands(delete))
    commands["after"] = ("crm.deal.contact.items.get", {"id": deal_id})
    return commands


def created_ids(results: dict[str, Any], items: list[ContactItem]) -> list[int]:
    """The ids crm.contact.add answered with, for the new contacts in `items` order."""
    count = sum(1 for item in items if item.card.new)
    ids = []
    for j in range(count):
        value = results.get(f"new{j}")
        if isinstance(value, int | str) and str(value).isdigit():
            ids.append(int(value))
    return ids


def undo_create_commands(contact_ids: list[int]) -> dict[str, Command]:
    # https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-delete.html
    return {f"del{i}": ("crm.contact.delete", {"id": cid}) for i, cid in enumerate(contact_ids)}


CONTACT_SLOTS = 10  # contact details fetched inside the opening batch; more cost a second request


MORE_CONTACTS_LIMIT = 50  # one crm.contact.list page


CONTACT_SELECT = ["ID", "NAME", "SECOND_NAME", "LAST_NAME", "PHONE", "EMAIL"]


def more_contacts_command(contact_ids: list[int]) -> Command:
    # https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-list.html
    return ("crm.contact.list", {"filter": {"@ID": contact_ids[:MORE_CONTACTS_LIMIT]}, "select": CONTACT_SELECT})


@dataclass(frozen=True)
class Binding:
    contact_id: int
    primary: bool
    sort: int = 0


def bindings_from(raw: Any) -> list[Binding]:
    """crm.deal.contact.items.get's answer (JSON numbers, deals-api-spec.md §7.4), in its order."""
    bindings: list[Binding] = []
    for item in raw if isinstance(raw, list) else []:
        contact_id = int_of(item.get("CONTACT_ID")) if isinstance(item, dict) else None
        if contact_id and all(b.contact_id != contact_id for b in bindings):
            primary = str(item.get("IS_PRIMARY") or "N").upper() == "Y"
            bindings.append(Binding(contact_id, primary, int_of(item.get("SORT")) or 0))
    return bindings


def bindings_of(outcome: BatchResult, key: str = "bindings") -> list[Binding]:
    return [] if key in outcome.errors else bindings_from(outcome.results.get(key))


def cards_from_slots(outcome: BatchResult, bindings: list[Binding], prefix: str = "c") -> dict[int, ContactCard]:
    """The contacts read through $result references, by id; a refused slot is simply missing."""
    cards = {}
    for slot, binding in enumerate(bindings[:CONTACT_SLOTS]):
        key = f"{prefix}{slot}"
        card = None if key in outcome.errors else ContactCard.from_api(outcome.results.get(key))
        if card is not None and card.id == binding.contact_id:
            cards[card.id] = card
    return cards


def cards_from_list(result: Any) -> dict[int, ContactCard]:
    found = (ContactCard.from_api(item) for item in (result if isinstance(result, list) else []))
    return {card.id: card for card in found if card is not None}


def contact_items(bindings: list[Binding], cards: dict[int, ContactCard]) -> tuple[ContactItem, ...]:
    """Every binding, in order; one whose contact this user may not read keeps its place, unnamed."""
    return tuple(
        ContactItem(cards.get(b.contact_id) or ContactCard.unseen(b.contact_id), b.primary, b.sort) for b in bindings
    )
