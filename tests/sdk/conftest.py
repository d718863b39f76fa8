"""Clients nobody here wrote, driven against the sandbox on its HTTPS address (tests/conftest.py).

Each SDK trusts the sandbox's local CA through its own documented setting, never with
verification turned off, and reaches the portal by its domain alone, as it would a real portal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

# Card layout sections as the docs show them (crm.item.details.configuration.set example).
LAYOUT: list[dict[str, Any]] = [
    {
        "name": "main",
        "title": "Deal, as an SDK set it",
        "type": "section",
        "elements": [{"name": "TITLE"}, {"name": "OPPORTUNITY_WITH_CURRENCY"}, {"name": "STAGE_ID"}],
    },
    {"name": "products", "title": "Products", "type": "section", "elements": [{"name": "PRODUCT_ROW_SUMMARY"}]},
]


@pytest.fixture
def full_bucket(settings: Any) -> Callable[[], None]:
    """Turn the portal's limits on (2 requests/s, burst 50) and fill this machine's bucket."""

    def fill() -> None:
        import time

        from sandbox.models import RateBucket
        from sandbox.portal import get_portal

        settings.SANDBOX_LIMITS_ENABLED = True
        burst = settings.SANDBOX_RATE_BURST
        key = f"{get_portal().member_id}:127.0.0.1"
        RateBucket.objects.update_or_create(key=key, defaults={"level": float(burst), "updated": time.time()})

    return fill


@pytest.fixture
def bulk_deals() -> Callable[[int, str], set[int]]:
    """Make `count` deals straight in the sandbox's database, tagged by SOURCE_ID; their ids."""

    def make(count: int, source: str) -> set[int]:
        from django.utils import timezone

        from sandbox.models import Deal

        now = timezone.now()
        Deal.objects.bulk_create(
            Deal(
                title=f"SDK list deal {i + 1}",
                source_id=source,
                opportunity=Decimal(100 + i),
                assigned_by_id=1,
                date_create=now - timedelta(minutes=i),
                date_modify=now - timedelta(minutes=i),
            )
            for i in range(count)
        )
        return set(Deal.objects.filter(source_id=source).values_list("id", flat=True))

    return make
