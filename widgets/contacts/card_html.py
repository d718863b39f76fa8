"""The contacts editor's cards (<li> of templates/widgets/deal_tab.html's contact list), written here.

Why not in the template: a card cost about a third of a millisecond of CPU in Django's template
engine (a partial in a partial, four translated buttons), a large part of opening a tab (issue 17,
server cost per open); here it costs a few string escapes. The markup is the template's, which
still has its `contact_card` and `contact_name` partials for the read-only and conflict views.
As in the template, values are escaped and translated messages are not ({% translate %} is
gettext(...); {% blocktranslate %} escapes only its arguments).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from widgets.common.markup import esc, move_buttons

if TYPE_CHECKING:
    from widgets.contacts.present import ContactRow


def _name(row: ContactRow) -> str:
    """The template's contact_name partial."""
    if row.card.hidden:
        return gettext("Contact #%(id)s") % {"id": row.card.id}
    return esc(row.card.name) if row.card.name else gettext("Unnamed contact")


def card_html(row: ContactRow) -> str:
    """The template's contact_card partial: name, tags, what is hidden, phones and e-mails."""
    card = row.card
    tags = (f'<span class="tag primary">{gettext("Primary")}</span>' if row.primary else "") + (
        f'<span class="tag new">{gettext("New: created when you save")}</span>' if card.new else ""
    )
    hidden = (
        f'<p class="muted small">{gettext("Bitrix24 does not show you this contact's details.")}</p>'
        if card.hidden
        else ""
    )
    channels = ""
    if card.phones or card.emails:
        phones = "".join(f'<a href="tel:{esc(p)}" class="channel phone">{esc(p)}</a>' for p in card.phones)
        emails = "".join(f'<a href="mailto:{esc(m)}" class="channel email">{esc(m)}</a>' for m in card.emails)
        channels = f'<div class="contact-channels">{phones}{emails}</div>'
    return f'<div class="contact-head"><span class="contact-name">{_name(row)}</span>{tags}</div>{hidden}{channels}'


def _focus(row: ContactRow, name: str, focus: str) -> str:
    return " data-autofocus" if focus == f"{name}:{row.index}" else ""


def _actions(row: ContactRow, *, focus: str, first: bool, last: bool) -> str:
    i, label = row.index, esc(row.label)
    named = {"name": label}
    autofocus = _focus(row, "primary", focus)
    primary = (
        ""
        if row.primary
        else f'<button type="submit" name="action" value="primary:{i}" class="link small"{autofocus}>'
        f'{gettext("Make primary")}<span class="sr-only">: {label}</span></button>'
    )
    up, down = gettext("Move %(name)s up") % named, gettext("Move %(name)s down") % named
    moves = move_buttons(i, up=up, down=down, first=first, last=last, focus=focus)
    return (
        f'<div class="contact-actions">{primary}<span class="spacer"></span>{moves}'
        f'<button type="submit" name="action" value="remove:{i}" class="icon i-remove danger"'
        f' title="{gettext("Remove from the deal")}"{_focus(row, "remove", focus)}>'
        f'<span class="sr-only">{gettext("Remove %(name)s from the deal") % named}</span></button></div>'
    )


def editable_card_html(row: ContactRow, *, focus: str, first: bool, last: bool) -> str:
    i = row.index
    classes = (
        "contact-card"
        + (" is-primary" if row.primary else "")
        + (" is-new" if row.card.new else "")
        + (" has-problem" if row.problem else "")
    )
    problem = (
        f'<p class="contact-problem" id="contact-{i}-problem" role="alert">{esc(row.problem)}</p>'
        if row.problem
        else ""
    )
    actions = _actions(row, focus=focus, first=first, last=last)
    return f'<li id="contact-{i}" class="{classes}">{card_html(row)}{problem}{actions}</li>'


def cards_html(rows: Sequence[ContactRow], *, focus: str) -> SafeString:
    """Every card of the editable list; `focus` the button to focus after a swap (ContactsView.focus)."""
    last = len(rows) - 1
    return mark_safe(  # noqa: S308 - every value above is escaped as the template escaped it
        "".join(editable_card_html(row, focus=focus, first=n == 0, last=n == last) for n, row in enumerate(rows))
    )
