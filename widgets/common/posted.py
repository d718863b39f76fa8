"""What both editors read from their POST the same way: the pressed button and the posted count of rows."""

from __future__ import annotations

from django.http import QueryDict


def button_of(raw: object, *, default: str) -> tuple[str, str]:
    """The pressed button's value split at its first colon: ("delete", "3"), ("save", "")."""
    name, _sep, argument = str(raw or default).partition(":")
    return name, argument


def count_of(post: QueryDict, name: str, *, digits: int) -> int | None:
    """The posted number of rows, or None when it is not plain ASCII digits, at most `digits` of them."""
    text = post.get(name, "0")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= digits else None
