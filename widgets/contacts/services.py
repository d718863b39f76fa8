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

import re
from dataclasses import dataclass, field

from django import forms

from b24app.client import B24Client
from b24app.models import Portal, UserToken
from b24app.oauth import UserTokens
from widgets.common.guard import deal_save_lock
from widgets.contacts.batch import (
    cards_in,
    created_ids,
    duplicate_commands,
    has_exactly,
    save_commands,
    search_commands,
)
from widgets.contacts.forms import email_normalise, phone_normalise
from widgets.contacts.outcome import ContactsAttempt, ContactsSaved, creations_sent, save_outcome
from widgets.contacts.state import ContactCard, ContactItem, ContactsState

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


def deal_contacts_save(
    *, portal: Portal, user_token: UserToken, expected: ContactsState, items: list[ContactItem]
) -> ContactsSaved:
    """Write `items` as the deal's contacts unless the bindings are no longer `expected`: 1 request.

    Two when the guard cannot tell (module docstring); one more per 48 new contacts past the first 45.
    widgets.contacts.outcome sends each request and reads the answer.
    """
    client = B24Client(UserTokens(user_token), max_retries=1)
    deal_id = expected.deal_id
    attempt: ContactsAttempt | ContactsSaved = ContactsAttempt(expected=expected, date_modify=expected.date_modify)
    with deal_save_lock(portal_id=portal.pk, deal_id=deal_id):
        # It ends: a newer DATE_MODIFY is tried once, and the binding checks dropped at most once for each.
        while isinstance(attempt, ContactsAttempt):
            merged = creations_sent(client, attempt, items)
            if isinstance(merged, ContactsSaved):
                return merged
            commands = {}
            if not merged.errors:  # a creation request refused: nothing more is sent
                commands = save_commands(
                    deal_id=deal_id,
                    date_modify=attempt.date_modify,
                    items=items,
                    linking=attempt.linking(items),
                    created=dict(enumerate(created_ids(merged.results, items))),
                    expected=attempt.expected.items if attempt.checked else (),
                )
            attempt = save_outcome(client, attempt, commands, merged=merged, items=items, user_id=user_token.user_id)
    return attempt
