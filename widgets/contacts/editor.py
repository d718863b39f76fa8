"""What the contacts editor's buttons do before anything is saved: no REST here.

The contacts live in the page; each request brings them all, one of these functions changes them,
and the page gets them back. A deal with contacts always has exactly one primary contact
(deals-api-spec.md §7): adding the first contact makes it primary, removing the primary one passes
the badge to the first contact left.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.utils.translation import gettext as _

from widgets.contacts.state import MAX_CONTACTS, ContactCard, ContactItem, ContactsState


@dataclass
class ContactsEdited:
    items: list[ContactItem]
    focus: str = ""  # the value of the button to focus after the swap ("up:2"), or an element id
    status: str = ""
    error: str = ""


def one_primary(items: list[ContactItem], preferred: int | None = None) -> list[ContactItem]:
    """Exactly one primary contact when there are any: `preferred`, else the marked one, else the first."""
    if not items:
        return []
    index = preferred
    if index is None or not 0 <= index < len(items):
        index = next((i for i, item in enumerate(items) if item.primary), 0)
    return [replace(item, primary=i == index) for i, item in enumerate(items)]


def contacts_add(items: list[ContactItem], card: ContactCard) -> ContactsEdited:
    if not card.new and any(item.card.id == card.id for item in items):
        return ContactsEdited(
            items, error=_("%(name)s is already linked to this deal.") % {"name": card.name or card.id}
        )
    if len(items) >= MAX_CONTACTS:
        return ContactsEdited(
            items, error=_("A deal can have at most %(count)d contacts here.") % {"count": MAX_CONTACTS}
        )
    added = one_primary([*items, ContactItem(card)])
    if card.new:
        status = _("%(name)s will be created in Bitrix24 when you save.") % {"name": card.name}
    else:
        status = _("%(name)s added. Save to link them to the deal.") % {"name": card.name}
    return ContactsEdited(added, focus="contact-search", status=status)


def contacts_apply(*, name: str, argument: str, items: list[ContactItem]) -> ContactsEdited:
    """Remove, make primary, move up or down: the button's name and the contact's index."""
    index = int(argument) if argument.isdigit() and int(argument) < len(items) else None
    if index is None:
        return ContactsEdited(one_primary(items))
    if name == "remove":
        was_primary = items[index].primary
        rest = items[:index] + items[index + 1 :]
        rest = one_primary(rest, 0 if was_primary else None)
        focus = f"remove:{min(index, len(rest) - 1)}" if rest else "contact-search"
        return ContactsEdited(rest, focus=focus)
    if name == "primary":
        return ContactsEdited(one_primary(items, index), focus=f"remove:{index}")
    if name in ("up", "down"):
        target = index - 1 if name == "up" else index + 1
        if 0 <= target < len(items):
            moved = list(items)
            moved[index], moved[target] = moved[target], moved[index]
            return ContactsEdited(one_primary(moved), focus=f"{name}:{target}")
    return ContactsEdited(one_primary(items))


def loaded_items(state: ContactsState) -> list[ContactItem]:
    return one_primary([ContactItem(item.card, item.primary) for item in state.items])


def contacts_dirty(items: list[ContactItem], state: ContactsState) -> bool:
    """Whether saving would change the deal's contacts: who, in which order, which one is primary."""
    return _shape(items) != _shape(loaded_items(state))


def _shape(items: list[ContactItem]) -> list[tuple[object, bool]]:
    return [(item.card.id if not item.card.new else "new", item.primary) for item in items]
