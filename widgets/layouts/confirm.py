"""What a card layout write did when its answer was lost (b24app.errors.OutcomeUnknown).

The portal may have applied the write and lost only the answer (a timeout, a dropped connection,
a 502 from a proxy). One more read of the layout tells: Bitrix24 holds what was sent (saved), or
still holds the last version Deal Desk recorded (not saved), or anything else (cannot tell).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from b24app.errors import B24Error, OutcomeUnknown, PortalUnavailable

log = logging.getLogger(__name__)

Normalized = list[dict[str, Any]] | None
NOT_FOUND = object()  # history has no version of this layout yet


class NotApplied(PortalUnavailable):
    """The write went unanswered, and reading the layout again shows it was not applied."""


def layout_write_confirm(
    *, read: Callable[[], Normalized], sent: Normalized, before: object, exc: OutcomeUnknown
) -> None:
    """Return when Bitrix24 holds `sent`; raise NotApplied when it holds `before`, else `exc` again.

    `read` is one request (a read: b24app.client may repeat it once); `before` the last version
    recorded for this layout, or NOT_FOUND.
    """
    try:
        now = read()
    except B24Error as failed:
        log.warning("layout write unanswered, and the layout could not be read again: %s", failed.code)
        raise exc from failed
    if now == sent:
        return
    if before is not NOT_FOUND and now == before:
        raise NotApplied(exc.code, "the write was not applied")
    raise exc
