"""What the contacts section of the deal tab shows, worked out from the editor's contacts and state."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from widgets.common.text import when_of
from widgets.contacts.card_html import cards_html
from widgets.contacts.editor import contacts_dirty, loaded_items
from widgets.contacts.state import ContactCard, ContactItem, ContactsState, card_sign, contacts_sign


@dataclass(frozen=True)
class ContactRow:
    index: int
    card: ContactCard
    token: str  # the signed card the page posts back
    primary: bool
    problem: str = ""
    differs: bool = False  # in a conflict: not at this place in the other version

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def keys(self) -> dict[str, str]:
        """Its buttons' values, which also name the one to focus after a swap."""
        return {name: f"{name}:{self.index}" for name in ("primary", "up", "down", "remove")}

    @property
    def label(self) -> str:
        """How the contact is named on its buttons and in messages."""
        if self.card.name:
            return self.card.name
        return _("contact #%(id)d") % {"id": self.card.id} if self.card.id else _("the new contact")


@dataclass(frozen=True)
class ContactHit:
    token: str
    card: ContactCard
    linked: bool  # already one of the deal's contacts in the editor
    because: str = ""  # a duplicate: "phone" or "email"


@dataclass
class ContactResults:
    q: str
    hits: list[ContactHit] = field(default_factory=list)
    error: bool = False
    session: bool = False
    whole_number: bool = False

    def __bool__(self) -> bool:
        return bool(self.q)


@dataclass
class ContactsConflict:
    theirs: list[ContactRow]
    mine: list[ContactRow]
    changed_by: str
    changed_at: str

    @property
    def sides(self) -> list[dict[str, object]]:
        return [
            {"title": _("Saved in Bitrix24"), "rows": self.theirs},
            {"title": _("Your version"), "rows": self.mine},
        ]


@dataclass
class ContactsView:
    deal_id: int
    mode: str  # "edit" | "readonly" | "conflict"
    state_token: str
    rows: list[ContactRow] = field(default_factory=list)
    dirty: bool = False
    theirs_token: str = ""
    conflict: ContactsConflict | None = None
    new_data: dict[str, str] = field(default_factory=dict)  # the new contact's fields as typed
    new_errors: dict[str, str] = field(default_factory=dict)
    new_open: bool = False
    duplicates: list[ContactHit] = field(default_factory=list)
    results: ContactResults | None = None
    status: str = ""
    status_tone: str = "ok"
    error: str = ""
    retry: str = ""
    session: bool = False
    reload: bool = False  # the outcome cannot be shown without reading the deal again: offer a reload
    focus: str = ""
    reload_card: bool = False  # the primary contact changed: the card around the tab shows the old one
    products_token: str = ""  # the products' state, so that a page without htmx can show them too

    @property
    def primary_index(self) -> int:
        return next((row.index for row in self.rows if row.primary), -1)

    @property
    def has_problems(self) -> bool:
        return any(row.problem for row in self.rows)

    @property
    def cards_html(self) -> SafeString:
        """The editable list's cards (widgets.contacts.card_html: the template's loop, in Python for speed)."""
        return cards_html(self.rows, focus=self.focus)


def contact_rows(
    items: list[ContactItem] | tuple[ContactItem, ...],
    *,
    portal_id: int,
    user_id: int,
    problems: dict[int, str] | None = None,
) -> list[ContactRow]:
    problems = problems or {}
    return [
        ContactRow(
            index=index,
            card=item.card,
            token=card_sign(item.card, portal_id=portal_id, user_id=user_id),
            primary=item.primary,
            problem=problems.get(index, ""),
        )
        for index, item in enumerate(items)
    ]


def contacts_view(
    *,
    state: ContactsState,
    items: list[ContactItem] | None = None,
    mode: str = "edit",
    problems: dict[int, str] | None = None,
    products_token: str = "",
) -> ContactsView:
    """The section for `items` (the contacts as loaded when None) against the loaded `state`."""
    shown = loaded_items(state) if items is None else items
    return ContactsView(
        deal_id=state.deal_id,
        mode=mode,
        state_token=contacts_sign(state),
        rows=contact_rows(shown, portal_id=state.portal_id, user_id=state.user_id, problems=problems),
        dirty=contacts_dirty(shown, state),
        products_token=products_token,
    )


def contacts_conflict(
    *, theirs: ContactsState, mine: list[ContactItem], changed_by: str, changed_at: str
) -> ContactsConflict:
    portal_id, user_id = theirs.portal_id, theirs.user_id
    their_rows = contact_rows(loaded_items(theirs), portal_id=portal_id, user_id=user_id)
    my_rows = contact_rows(mine, portal_id=portal_id, user_id=user_id)
    return ContactsConflict(
        theirs=_marked(their_rows, my_rows),
        mine=_marked(my_rows, their_rows),
        changed_by=changed_by,
        changed_at=when_of(changed_at),
    )


def _marked(rows: list[ContactRow], others: list[ContactRow]) -> list[ContactRow]:
    def same(row: ContactRow, other: ContactRow) -> bool:
        return (row.card.id or row.card.name, row.primary) == (other.card.id or other.card.name, other.primary)

    return [
        ContactRow(r.index, r.card, r.token, r.primary, differs=i >= len(others) or not same(r, others[i]))
        for i, r in enumerate(rows)
    ]
