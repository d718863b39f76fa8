"""How values look on the wire in Bitrix24's legacy CRM methods (deals-api-spec.md §3).

IDs and amounts are strings in get/list answers ("410", "1000000.00"), dates ISO-8601 with the
portal's offset, Y/N flags as strings, unset values null.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date

TWO_PLACES = Decimal("0.01")


def field_descriptor(
    type_: str, title: str, *, required: bool = False, read_only: bool = False, immutable: bool = False
) -> dict[str, Any]:
    """A plain (not multiple, not user) field as a `*.fields` method describes it, in the samples' key order."""
    return {
        "type": type_,
        "isRequired": required,
        "isReadOnly": read_only,
        "isImmutable": immutable,
        "isMultiple": False,
        "isDynamic": False,
        "title": title,
    }


def id_str(value: int | None) -> str | None:
    return None if value is None else str(value)


def money_str(value: Decimal | None) -> str | None:
    """`"1000000.00"`: two decimals, as deal amounts are sent."""
    if value is None:
        return None
    return str(Decimal(value).quantize(TWO_PLACES, rounding=ROUND_HALF_UP))


def number(value: Decimal | None) -> int | float | None:
    """A JSON number without trailing zeros (999, 899.1), as product rows are sent."""
    if value is None:
        return None
    normalized = Decimal(value).normalize()
    if normalized == normalized.to_integral_value():
        return int(normalized)
    return float(normalized)


def datetime_str(value: datetime | None) -> str | None:
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


def date_str(value: date | None) -> str | None:
    """Deal dates come back as a datetime at local midnight: "2024-08-30T00:00:00+02:00"."""
    if value is None:
        return None
    aware = timezone.make_aware(datetime.combine(value, time.min), timezone.get_current_timezone())
    return aware.isoformat(timespec="seconds")


def parse_decimal(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        return None
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def parse_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        text = str(value).strip()
        return int(text)
    except ValueError:
        return None


def yn(value: Any, default: str = "N") -> str:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return "Y" if value else "N"
    text = str(value).strip().upper()
    if text in ("Y", "1", "TRUE"):
        return "Y"
    if text in ("N", "0", "FALSE"):
        return "N"
    return default


def strict_int(value: Any) -> int | None:
    """A whole number as Bitrix24 reads one: an int, a float without a fraction, or a string of up
    to 19 digits with an optional sign; None for anything else (arrays, booleans, "1_000", "1.5")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,19}\s*", value):
        return int(value)
    return None


# --- Reading ids and days the way the legacy proxy does -------------------------------------------

PHP_INT_MAX = 2**63 - 1


def parse_entity_id(value: Any) -> int:
    """PHP `(int)` of the id, as CCrmRestHelper::resolveEntityID: "12abc" is 12, "abc" is 0, and an
    array is 1 when not empty (0 when empty), true 1, null 0 (bitrix24-batch.md "Ids").

    The result is capped at PHP_INT_MAX; callers treat anything but a positive result as invalid.
    """
    if isinstance(value, list | dict):
        return 1 if value else 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        number_value = value
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return 0
        number_value = int(value)
    elif isinstance(value, str):
        match = re.match(r"\s*([+-]?\d+)", value)
        number_value = int(match.group(1)[:20]) if match else 0
    else:
        return 0
    return max(min(number_value, PHP_INT_MAX), -PHP_INT_MAX)


def parse_day(value: Any) -> date | None:
    """A date from ISO (`2024-08-30`, `2024-08-30T12:19:57+02:00`) or the portal's `08/30/2024`."""
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        us = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s.*)?", text)
        if us:
            return date(int(us.group(3)), int(us.group(1)), int(us.group(2)))
        return parse_date(text[:10]) if re.match(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None
