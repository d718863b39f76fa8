"""The deal write guard both editors put in front of a write: the batch first lists the deal
only if its DATE_MODIFY is still the one loaded, and the write refers to that answer, so a deal
changed meanwhile is not written (bitrix24-batch.md "Ids, and what a write changes")."""

from __future__ import annotations

from datetime import datetime, timedelta

from b24app.client import BatchResult


class GuardUnavailable(Exception):
    """DATE_MODIFY could not be read, so no guard can be built: the write must not be sent.

    A guard without its DATE_MODIFY window would find the deal whatever happened to it meanwhile,
    so the write would go through blind.
    """


def modified_window(date_modify: str) -> dict[str, str]:
    """A filter matching the deal only while DATE_MODIFY is still the value read.

    DATE_MODIFY comes with whole seconds; the portal may keep finer time, so "unchanged" is "within
    the second read" rather than an equality that would never hold. Only a full ISO 8601 time
    with its offset is exact whatever the user's time zone (bitrix24-batch.md, "Ids"): anything
    else, an empty value included, raises GuardUnavailable.
    """
    try:
        moment = datetime.fromisoformat(date_modify.strip())
    except (AttributeError, ValueError) as exc:
        raise GuardUnavailable(f"DATE_MODIFY {date_modify[:40]!r} is not a time") from exc
    if moment.tzinfo is None or len(date_modify.strip()) < len("2000-01-01T00:00:00"):
        raise GuardUnavailable(f"DATE_MODIFY {date_modify[:40]!r} has no time of day or offset")
    later = (moment + timedelta(seconds=1)).isoformat(timespec="seconds")
    return {">=DATE_MODIFY": moment.isoformat(timespec="seconds"), "<DATE_MODIFY": later}


def guard_passed(outcome: BatchResult) -> bool:
    found = outcome.results.get("guard")
    return "guard" not in outcome.errors and isinstance(found, list) and len(found) == 1
