"""The few fields of a portal's form POST that need more than a string: one parser for all.

The install page, the app-menu page and the deal tab all receive the same form from the portal
(bitrix24-protocol.md §1.2, §5.2), through a browser, so every field may be hostile:
`"²".isdigit()` is true but int() refuses it, int() refuses more than 4300 digits, 10**20 seconds
overflow a timedelta, and json.loads recurses once per `[`. Each guard lives here once.
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_EXPIRES_IN = 3600  # an access token lives an hour (protocol §2.4)
MAX_EXPIRES_IN = 24 * 3600  # a longer lifetime claimed by a request is not believed
MAX_SECONDS_DIGITS = 9
# The portal sends {"ID": "8061", "URI": "/crm/deal/details/8061/?…"}: small and flat.
MAX_OPTIONS_LENGTH = 8192
MAX_OPTIONS_DEPTH = 8


class PortalFieldError(ValueError):
    """A field no genuine portal would send."""


def expires_in_parse(raw: object) -> int:
    """AUTH_EXPIRES / auth[expires_in]: ASCII digits only, clamped to a minute..a day."""
    text = str(raw if raw is not None else "")
    if not text:
        return DEFAULT_EXPIRES_IN
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_SECONDS_DIGITS:
        raise PortalFieldError("AUTH_EXPIRES is not a number of seconds")
    return min(max(60, int(text)), MAX_EXPIRES_IN)


def expires_in_or_default(raw: object) -> int:
    """The same, where a bad value only means the usual hour (install: the token is verified anyway)."""
    try:
        return expires_in_parse(raw)
    except PortalFieldError:
        return DEFAULT_EXPIRES_IN


def options_parse(raw: str | None) -> dict[str, Any]:
    """PLACEMENT_OPTIONS: a JSON object, or {} when absent (the portal omits it when empty)."""
    if not raw:
        return {}
    if len(raw) > MAX_OPTIONS_LENGTH or _nesting(raw) > MAX_OPTIONS_DEPTH:
        raise PortalFieldError("PLACEMENT_OPTIONS is too long or too deep")
    try:
        options = json.loads(raw)
    except ValueError as exc:
        raise PortalFieldError("PLACEMENT_OPTIONS is not JSON") from exc
    if not isinstance(options, dict):
        raise PortalFieldError("PLACEMENT_OPTIONS is not a JSON object")
    return options


def _nesting(text: str) -> int:
    """The deepest bracket nesting outside JSON strings, counted before json.loads recurses into it."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
