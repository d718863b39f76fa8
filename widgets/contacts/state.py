"""The deal's contacts as the tab keeps them: cards, bindings, and the signed values the page carries.

Like the product rows (widgets.products.state), the contacts editor is stateless on the server. Each
request brings
- `cstate`: the bindings as they were read from Bitrix24 (CONTACT_ID, SORT, IS_PRIMARY, in order)
  with the cards shown for them, signed, so that Cancel needs no REST call and the save can compare
  the fingerprint of what was loaded with what Bitrix24 holds now;
- one signed card per contact in the editor: a contact can only enter the editor from Bitrix24's
  own answers to this user (the deal's bindings, a search, a duplicate found), never as a bare id
  typed into a request;
- `contacts-primary`: the index of the primary contact, a single value, so there is never more than one.

A contact created in the tab is a card with id 0 and the fields typed for it; it is created in
Bitrix24 when the contacts are saved (widgets.contacts.services).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.core import signing

from widgets.common.auth import StateInvalid
from widgets.common.money import int_of

CARD_SALT = "dealdesk.tab.contact"
CONTACTS_SALT = "dealdesk.tab.contacts"
MAX_CHANNELS = 5  # phones or e-mails shown per contact
MAX_CONTACTS = 100  # a deal's contacts in the editor; Bitrix24 itself takes more


@dataclass(frozen=True)
class ContactCard:
    """A contact as the tab shows it."""

    id: int  # 0: created in Bitrix24 when the contacts are saved
    name: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    hidden: bool = False  # linked to the deal, but Bitrix24 did not give this user its details
    first_name: str = ""  # a new contact's fields, as crm.contact.add takes them
    last_name: str = ""

    @property
    def new(self) -> bool:
        return self.id == 0

    def as_list(self) -> list[Any]:
        return [self.id, self.name, list(self.phones), list(self.emails), self.hidden, self.first_name, self.last_name]

    @classmethod
    def from_list(cls, data: list[Any]) -> ContactCard:
        cid, name, phones, emails, hidden, first, last = data
        return cls(int(cid), str(name), tuple(map(str, phones)), tuple(map(str, emails)), bool(hidden), first, last)

    @classmethod
    def from_api(cls, data: Any) -> ContactCard | None:
        """crm.contact.get / crm.contact.list's answer; None when it is not a contact."""
        if not isinstance(data, dict) or not int_of(data.get("ID")):
            return None
        parts = " ".join(str(data.get(k) or "").strip() for k in ("NAME", "SECOND_NAME", "LAST_NAME")).split()
        return cls(
            id=int_of(data.get("ID")) or 0,
            name=" ".join(parts)[:200],
            phones=_values(data.get("PHONE")),
            emails=_values(data.get("EMAIL")),
        )

    @classmethod
    def unseen(cls, contact_id: int) -> ContactCard:
        """A linked contact whose details Bitrix24 did not give (no access, or not loaded)."""
        return cls(id=contact_id, name="", hidden=True)

    @classmethod
    def created(cls, *, first_name: str, last_name: str, phone: str, email: str) -> ContactCard:
        name = " ".join(part for part in (first_name, last_name) if part)
        phones, emails = (phone,) if phone else (), (email,) if email else ()
        return cls(0, name, phones, emails, first_name=first_name, last_name=last_name)


def _values(channels: Any) -> tuple[str, ...]:
    """The VALUEs of a crm_multifield list (bitrix24-protocol.md §7.4), in their order."""
    found: list[str] = []
    for channel in channels if isinstance(channels, list) else []:
        value = str(channel.get("VALUE") or "").strip() if isinstance(channel, dict) else ""
        if value and value not in found:
            found.append(value[:250])
    return tuple(found[:MAX_CHANNELS])


@dataclass(frozen=True)
class ContactItem:
    """One contact of the deal, in the editor or as loaded."""

    card: ContactCard
    primary: bool = False
    sort: int = 0  # as loaded; the editor writes (index + 1) * 10


@dataclass(frozen=True)
class ContactsState:
    """The deal's contact bindings as read from Bitrix24, in their order."""

    portal_id: int
    user_id: int
    deal_id: int
    items: tuple[ContactItem, ...]
    fingerprint: str = field(default="")
    # The deal's DATE_MODIFY read with these bindings: it guards the save's write (widgets.common.guard).
    # Binding changes never move it (bitrix24-batch.md "Ids"), so the bindings are compared as well.
    date_modify: str = ""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", bindings_fingerprint(self.items))

    @property
    def primary_id(self) -> int:
        return next((item.card.id for item in self.items if item.primary), 0)

    def card(self, contact_id: int) -> ContactCard | None:
        return next((item.card for item in self.items if item.card.id == contact_id), None)


def bindings_fingerprint(items: tuple[ContactItem, ...] | list[ContactItem]) -> str:
    """sha256 of (CONTACT_ID, SORT, IS_PRIMARY) in order: what a save must find unchanged."""
    data = [[item.card.id, item.sort, item.primary] for item in items]
    return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()


# --- signing -----------------------------------------------------------------------------------------


def card_sign(card: ContactCard, *, portal_id: int, user_id: int) -> str:
    return signing.dumps({"p": portal_id, "u": user_id, "c": card.as_list()}, salt=CARD_SALT, compress=True)


def card_read(value: str, *, portal_id: int, user_id: int) -> ContactCard:
    try:
        data = signing.loads(value, salt=CARD_SALT)
        card = ContactCard.from_list(data["c"])
        owner = (int(data["p"]), int(data["u"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise StateInvalid(type(exc).__name__) from exc
    if owner != (portal_id, user_id):
        raise StateInvalid("a contact card of another portal or user")
    return card


def contacts_sign(state: ContactsState) -> str:
    payload = {
        "p": state.portal_id,
        "u": state.user_id,
        "d": state.deal_id,
        "i": [[item.card.as_list(), item.primary, item.sort] for item in state.items],
        "fp": state.fingerprint,
        "dm": state.date_modify,
    }
    return signing.dumps(payload, salt=CONTACTS_SALT, compress=True)


def contacts_read(value: str, *, portal_id: int, user_id: int, deal_id: int) -> ContactsState:
    try:
        data = signing.loads(value, salt=CONTACTS_SALT)
        items = tuple(ContactItem(ContactCard.from_list(c), bool(p), int(s)) for c, p, s in data["i"])
        state = ContactsState(
            int(data["p"]), int(data["u"]), int(data["d"]), items, str(data["fp"]), str(data.get("dm") or "")
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise StateInvalid(type(exc).__name__) from exc
    if (state.portal_id, state.user_id, state.deal_id) != (portal_id, user_id, deal_id):
        raise StateInvalid("contacts of another portal, user or deal")
    return state
