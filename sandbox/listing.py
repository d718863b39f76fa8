"""filter / order / start for the legacy crm.*.list methods, on top of the ORM.

Operators (deals-api-spec.md §5.4, protocol §7.4): `=` `!=` `!` `>` `>=` `<` `<=` `@` (in) `!@`
(not in) `%` (LIKE %v%) `=%` and `%=` (LIKE with the caller's wildcards) `!%`. LIKE does not apply to
status/entity fields; there it falls back to equality. Pages are 50 rows; legacy list methods
round `start` down to a page (start=10 gives the first page, §4.5). As the server runs them
(bitrix24-lists.md: rest `getNavData`, main `CDBResult::NavQuery`, `CSqlUtil::PrepareWhere`): any
negative start skips counting, a page past the end is page 1, a direction other than ASC sorts
descending, an empty `%FIELD` means "FIELD is empty", and timestamps are whole seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from sandbox.rest.errors import legacy

PAGE_SIZE = 50
_LEADING_INT = re.compile(r"\s*([+-]?\d{1,19})")
_OPERATORS = ("!=", ">=", "<=", "=%", "%=", "!@", "!%", "@", ">", "<", "=", "!", "%")


@dataclass(frozen=True)
class FieldSpec:
    orm: str
    kind: str = "str"  # str | int | decimal | date | datetime | yn | ref (status/entity ids: no LIKE)


def split_key(key: str) -> tuple[str, str]:
    for op in _OPERATORS:
        if key.startswith(op):
            return op, key[len(op) :]
    return "", key


INT64_MAX = 2**63 - 1


def coerce(value: Any, kind: str) -> Any:
    """The filter value as the field's type, or None when it cannot be one (matches nothing)."""
    if value is None or isinstance(value, dict | list | bool):
        return None
    if kind == "int":
        try:
            number = int(str(value).strip())
        except ValueError:
            return None
        return number if abs(number) <= INT64_MAX else None
    if kind == "decimal":
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return amount if amount.is_finite() and abs(amount) < Decimal("1e18") else None
    if kind == "date":
        return _as_date(value)
    if kind == "datetime":
        return _as_datetime(value)
    return str(value)


def _as_date(value: Any) -> date | None:
    text = str(value).strip()
    if len(text) < 10:
        return None
    try:
        return parse_date(text[:10])
    except ValueError:  # well-formed but impossible, e.g. 2024-13-45
        return None


def _as_datetime(value: Any) -> datetime | date | None:
    """A full timestamp (made aware in the portal's zone), or a bare date for a whole-day match."""
    text = str(value).strip()
    if len(text) <= 10:
        return _as_date(text)
    try:
        parsed = parse_datetime(text)
    except ValueError:
        parsed = None
    if parsed is None:
        return _as_date(text)
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed


def _condition(spec: FieldSpec, op: str, value: Any) -> Q | None:
    field = spec.orm
    if (
        spec.kind == "datetime"
        and isinstance(coerce(value, spec.kind), date)
        and not isinstance(coerce(value, spec.kind), datetime)
    ):
        field = f"{field}__date"
    elif spec.kind == "datetime" and not isinstance(value, list) and op not in ("@", "!@"):
        moment = coerce(value, spec.kind)
        if isinstance(moment, datetime):
            return _whole_second(field, op, moment)
    if isinstance(value, list) or op in ("@", "!@"):
        values = value if isinstance(value, list) else [value]
        coerced = [c for c in (coerce(v, spec.kind) for v in values) if c is not None]
        q = Q(**{f"{field}__in": coerced})
        return ~q if op in ("!@", "!", "!=") else q
    if op == "%" and value in ("", None):
        # An empty "contains" value means "the field is empty" (CSqlUtil::PrepareWhere).
        return Q(**{f"{field}__isnull": True}) | Q(**{field: ""})
    if op in ("%", "=%", "%=", "!%") and spec.kind in ("str",):
        text = str(value)
        if op == "%" or op == "!%":
            q = Q(**{f"{field}__icontains": text})
            return ~q if op == "!%" else q
        return _like(field, text)
    coerced = coerce(value, spec.kind)
    if value in ("", None) and op in ("", "="):
        return (
            Q(**{f"{field}__isnull": True}) | Q(**{field: ""})
            if spec.kind in ("str", "ref")
            else Q(**{f"{field}__isnull": True})
        )
    if coerced is None:
        # A value that cannot be compared to the field's type matches nothing, as SQL would.
        return Q(pk__in=[]) if op not in ("!", "!=") else Q()
    lookups = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
    if op in lookups:
        return Q(**{f"{field}__{lookups[op]}": coerced})
    if op in ("!", "!="):
        return ~Q(**{field: coerced})
    return Q(**{field: coerced})


def _whole_second(field: str, op: str, moment: datetime) -> Q | None:
    """Compare as the portal's database does, where timestamps have no fraction of a second: the
    sandbox stores microseconds, so `=` is "within that second" and the bounds move to match."""
    second = moment.replace(microsecond=0)
    after = second + timedelta(seconds=1)
    within = Q(**{f"{field}__gte": second, f"{field}__lt": after})
    conditions = {
        "": within,
        "=": within,
        "!": ~within,
        "!=": ~within,
        ">": Q(**{f"{field}__gte": after}),
        ">=": Q(**{f"{field}__gte": second}),
        "<": Q(**{f"{field}__lt": second}),
        "<=": Q(**{f"{field}__lt": after}),
    }
    return conditions.get(op, within)


def _like(field: str, pattern: str) -> Q:
    starts, ends = pattern.startswith("%"), pattern.endswith("%")
    core = pattern.strip("%")
    if starts and ends:
        return Q(**{f"{field}__icontains": core})
    if ends:
        return Q(**{f"{field}__istartswith": core})
    if starts:
        return Q(**{f"{field}__iendswith": core})
    return Q(**{f"{field}__iexact": core})


def apply_filter(qs: QuerySet[Any], raw: Any, fields: dict[str, FieldSpec]) -> QuerySet[Any]:
    if raw in (None, "", []) or (isinstance(raw, list) and not raw):
        return qs
    if isinstance(raw, list):
        return qs  # a PHP list has only numeric keys: no field names, nothing to filter on
    if not isinstance(raw, dict):
        raise legacy("Parameter 'filter' must be array.")
    for key, value in raw.items():
        op, name = split_key(str(key))
        spec = fields.get(name.upper())
        if spec is None:
            continue  # unknown fields are ignored, as the portal does
        condition = _condition(spec, op, value)
        if condition is not None:
            qs = qs.filter(condition)
    return qs


def apply_order(qs: QuerySet[Any], raw: Any, fields: dict[str, FieldSpec]) -> QuerySet[Any]:
    if raw in (None, "", []) or isinstance(raw, list):
        return qs.order_by("pk")
    if not isinstance(raw, dict):
        raise legacy("Parameter 'order' must be array.")
    ordering: list[str] = []
    for key, direction in raw.items():
        spec = fields.get(str(key).upper())
        if spec is None:
            continue
        # Only ASC (any case) is ascending; anything else sorts descending (bitrix24-lists.md).
        desc = str(direction).upper() != "ASC"
        ordering.append(f"-{spec.orm}" if desc else spec.orm)
    ordering.append("pk")
    return qs.order_by(*ordering)


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    total: int
    next: int | None


def paginate(qs: QuerySet[Any], raw_start: Any, *, round_to_page: bool = True) -> Page:
    # `start` is PHP intval(): leading digits count ("-5x" is -5), anything else is 0.
    match = _LEADING_INT.match(raw_start) if isinstance(raw_start, str) else None
    if isinstance(raw_start, int | float) and not isinstance(raw_start, bool):
        start = int(raw_start) if raw_start == raw_start and abs(raw_start) < 2**63 else 0
    else:
        start = int(match.group(1)) if match else 0
    if start < 0:
        # Any negative start: the first 50 rows, no COUNT(*), so total 0 and no `next`
        # (rest getNavData, bitrix24-lists.md "Paging").
        return Page(list(qs[:PAGE_SIZE]), 0, None)
    if round_to_page:
        start = (start // PAGE_SIZE) * PAGE_SIZE
    total = qs.count()
    if start >= total:
        # A page past the last is page 1 again (CDBResult::NavQuery): a loop must stop on `next`.
        start = 0
    rows = list(qs[start : start + PAGE_SIZE])
    nxt = start + PAGE_SIZE if start + PAGE_SIZE < total else None
    return Page(rows, total, nxt)


def select_fields(raw: Any, *, default: list[str], available: list[str], user_fields: list[str]) -> list[str]:
    """Which keys a list returns: `*` means all standard fields, `UF_*` all user fields."""
    if raw in (None, "", []) or not isinstance(raw, list | dict):
        return list(default)
    names = [str(v) for v in (raw.values() if isinstance(raw, dict) else raw)]
    chosen: list[str] = []
    for name in names:
        upper = name.upper()
        if upper == "*":
            chosen.extend(available)
        elif upper == "UF_*":
            chosen.extend(user_fields)
        elif upper in available or upper in user_fields:
            chosen.append(upper)
    ordered = list(dict.fromkeys(chosen))
    if "ID" not in ordered:
        ordered.insert(0, "ID")
    return ordered
