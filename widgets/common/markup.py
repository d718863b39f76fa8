"""Markup the deal tab writes in Python rather than in its template (widgets.products.row_html,
widgets.contacts.card_html): a row of either editor costs far less CPU here (issue 17, server cost)."""

from __future__ import annotations

from django.utils.html import conditional_escape
from django.utils.translation import gettext


def esc(value: str) -> str:
    """A value as the template's {{ value }} writes it: escaped unless already safe."""
    return str(conditional_escape(value))


def move_buttons(index: int, *, up: str, down: str, first: bool, last: bool, focus: str = "") -> str:
    """The ↑ and ↓ buttons of a product row or a contact card; `up` and `down` their screen-reader
    text (translated, its name escaped); `focus` the button value that gets data-autofocus."""
    up_off, down_off = " disabled" if first else "", " disabled" if last else ""
    up_focus = " data-autofocus" if focus == f"up:{index}" else ""
    down_focus = " data-autofocus" if focus == f"down:{index}" else ""
    return (
        f'<button type="submit" name="action" value="up:{index}" class="icon i-up" title="{gettext("Move up")}"'
        f'{up_off}{up_focus}><span class="sr-only">{up}</span></button>'
        f'<button type="submit" name="action" value="down:{index}" class="icon i-down"'
        f' title="{gettext("Move down")}"{down_off}{down_focus}><span class="sr-only">{down}</span></button>'
    )
