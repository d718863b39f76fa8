"""A layout version's note in the reader's language.

Notes are stored as written when the version was made (English, so the history reads the same
for everyone and in exports); they are translated when shown.
"""

from __future__ import annotations

import re

from django import template
from django.utils.translation import gettext as _

register = template.Library()

ALL_USERS = " and made the layout for all users"


@register.filter
def version_note(note: str) -> str:
    fixed = {
        "saved": _("saved"),
        "imported": _("imported"),
        "saved" + ALL_USERS: _("saved and made the layout for all users"),
        "imported" + ALL_USERS: _("imported and made the layout for all users"),
        "as found in Bitrix24": _("as found in Bitrix24"),
        "changed outside Deal Desk": _("changed outside Deal Desk"),
        "reset to the Bitrix24 default": _("reset to the Bitrix24 default"),
    }
    if note in fixed:
        return fixed[note]
    if match := re.fullmatch(r"rolled back to version (\d+)", note):
        return _("rolled back to version %(n)s") % {"n": match.group(1)}
    if match := re.fullmatch(r"version (\d+)", note):  # what a rollback to a rollback restores
        return _("version %(n)s") % {"n": match.group(1)}
    if match := re.fullmatch(r"copied from “(.*)”", note, flags=re.S):
        return _("copied from “%(funnel)s”") % {"funnel": match.group(1)}
    return note
