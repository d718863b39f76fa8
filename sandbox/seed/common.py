"""What the seed builders share: money rounding, weighted picks, conversion with the seeded
rates, times on the seed's clock and stage ids."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

from sandbox.seed import data

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


def stage_code(category_id: int, status_id: str) -> str:
    return status_id if category_id == 0 else f"C{category_id}:{status_id}"


def weighted[T](rng: random.Random, choices: Iterable[tuple[T, int]]) -> T:
    pairs = list(choices)
    return rng.choices([value for value, _ in pairs], [weight for _, weight in pairs])[0]


def convert(amount: Decimal, from_currency: str, to_currency: str) -> Decimal:
    """Convert through the base currency with the seeded rates, to whole cents."""
    source = data.CURRENCY_BY_CODE[from_currency]
    target = data.CURRENCY_BY_CODE[to_currency]
    in_base = amount * source.amount / source.amount_cnt
    return (in_base * target.amount_cnt / target.amount).quantize(CENT, ROUND_HALF_UP)


def at_time(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=data.BASE_TIME.tzinfo)
