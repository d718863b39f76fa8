"""Texts and formats both editors of the deal tab show (session ended, unconfirmed writes, times,
user names), so the products and the contacts say the same thing the same way."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext as _


def session_ended() -> str:
    return _("Bitrix24 no longer accepts this tab's sign-in. Close the deal and open it again to continue.")


def unchecked_message() -> str:
    return _(
        "Bitrix24 sent a change time Deal Desk could not read, so it could not check for changes "
        "made meanwhile. Nothing was saved: reload the tab and try again."
    )


def not_applied_message() -> str:
    return _("Bitrix24 did not answer in time. Deal Desk read the deal again: nothing was saved.")


def unconfirmed_message() -> str:
    # Never "nothing was saved": the portal may have applied the write and lost only its answer.
    return _(
        "Bitrix24 did not answer in time, so Deal Desk cannot tell whether your changes were saved. "
        "Reload the tab to see what Bitrix24 holds now."
    )


def when_of(iso: str) -> str:
    """DATE_MODIFY as "14:05" (the portal's offset), or as sent when it is not a timestamp."""
    try:
        return datetime.fromisoformat(iso).strftime("%H:%M")
    except ValueError:
        return iso


def user_name_of(result: object) -> str:
    """The first user's full name in a user.get answer ("" when there is none)."""
    users = result if isinstance(result, list) else []
    if users and isinstance(users[0], dict):
        return " ".join(str(users[0].get(k) or "").strip() for k in ("NAME", "LAST_NAME")).strip()
    return ""
