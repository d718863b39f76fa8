"""When a recurring deal is due: the schedule arithmetic of crm.deal.recurring.* (NEXT_EXECUTION,
the offsets of exposed deals), kept apart from the REST methods in sandbox/methods/recurring.py."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from sandbox.models import RecurringDeal
from sandbox.wire import parse_int

PERIODS = ("day", "week", "month", "year")
MAX_INTERVAL = 1000


def add_period(day: date, kind: str, count: int) -> date:
    if kind == "day":
        return day + timedelta(days=count)
    if kind == "week":
        return day + timedelta(weeks=count)
    months = count * (12 if kind == "year" else 1)
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    year = min(max(year, 1), 9999)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_param(
    params: dict[str, Any], type_key: str, value_key: str, default_kind: str, default_value: int
) -> tuple[str, int]:
    kind = str(params.get(type_key, default_kind)).lower()
    value = parse_int(params.get(value_key))
    return (kind if kind in PERIODS else default_kind), (default_value if value is None else value)


def next_execution(rec: RecurringDeal, *, today: date) -> date | None:
    """When the next deal is due; None when nothing more will be created (NEXT_EXECUTION empty).

    MODE single: once, on START_DATE less SINGLE_BEFORE_START_DATE_*. MODE multiple (the default):
    START_DATE (or today) plus whole MULTIPLE_INTERVAL periods, the first one from today on.
    """
    if rec.active != "Y":
        return None
    params = rec.params if isinstance(rec.params, dict) else {}
    start = rec.start_date or today
    if str(params.get("MODE", "multiple")).lower() == "single":
        if rec.counter_repeat >= 1:
            return None
        kind, before = period_param(params, "SINGLE_BEFORE_START_DATE_TYPE", "SINGLE_BEFORE_START_DATE_VALUE", "day", 0)
        due = max(add_period(start, kind, -max(0, min(before, MAX_INTERVAL))), today)
    else:
        kind, interval = period_param(params, "MULTIPLE_TYPE", "MULTIPLE_INTERVAL", "month", 1)
        interval = max(1, min(interval, MAX_INTERVAL))
        not_before = today if rec.last_execution is None else max(today, rec.last_execution + timedelta(days=1))
        due = _first_on_or_after(start, kind, interval, not_before)
    if rec.is_limit == "D" and rec.limit_date is not None and due > rec.limit_date:
        return None
    if rec.is_limit == "T" and rec.limit_repeat is not None and rec.counter_repeat >= rec.limit_repeat:
        return None
    return due


def _first_on_or_after(start: date, kind: str, interval: int, not_before: date) -> date:
    if start >= not_before:
        return start
    days = {"day": 1, "week": 7}.get(kind)
    if days is not None:
        step = days * interval
        periods = -(-(not_before - start).days // step)
        return start + timedelta(days=periods * step)
    months = interval * (12 if kind == "year" else 1)
    elapsed = (not_before.year - start.year) * 12 + (not_before.month - start.month)
    periods = max(0, elapsed // months)
    due = add_period(start, "month", periods * months)
    while due < not_before:
        periods += 1
        due = add_period(start, "month", periods * months)
    return due
