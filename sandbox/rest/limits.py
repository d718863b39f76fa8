"""The portal's two limits (bitrix24-protocol.md §4.1, §4.3).

- A leaky bucket per portal and client IP: every HTTP request (a batch is one) adds 1, the bucket
  drains `rate` per second, and a request that would overflow `burst` gets 503
  QUERY_LIMIT_EXCEEDED.
- Operating time: seconds spent per (app or webhook, method) in one-minute buckets over a sliding
  10-minute window; once the sum reaches the limit, the next call of that method gets 429
  OPERATION_TIME_LIMIT. The call that crosses the limit still completes.

State lives in the sandbox database, so several server processes share it.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Sum

from sandbox.models import OperatingUsage, Portal, RateBucket
from sandbox.portal import limits_enabled, rate_limit
from sandbox.rest import errors

WINDOW_MINUTES = 10


def take_request_slot(portal: Portal, client_ip: str) -> None:
    """Count one request against the bucket; raise QUERY_LIMIT_EXCEEDED when it is full."""
    if not limits_enabled(portal):
        return
    rate, burst = rate_limit(portal)
    key = f"{portal.member_id}:{client_ip}"
    with transaction.atomic(using="sandbox"):
        bucket, _ = RateBucket.objects.select_for_update().get_or_create(key=key, defaults={"updated": time.time()})
        # The clock is read once the row is ours: a request that waited for the lock must not
        # see time run backwards and refill the bucket.
        now = time.time()
        level = max(0.0, bucket.level - max(0.0, now - bucket.updated) * rate)
        if level + 1 > burst:
            RateBucket.objects.filter(pk=bucket.pk).update(level=level, updated=now)
            raise errors.query_limit()
        RateBucket.objects.filter(pk=bucket.pk).update(level=level + 1, updated=now)


def _window_start(now: float) -> int:
    return int(now // 60) - WINDOW_MINUTES + 1


def operating_state(key: str, method: str) -> tuple[float, int | None]:
    """(seconds used in the window, unix time when the oldest bucket drops out)."""
    now = time.time()
    rows = OperatingUsage.objects.filter(key=key, method=method, minute__gte=_window_start(now))
    agg = rows.aggregate(total=Sum("seconds"), oldest=Min("minute"))
    total = float(agg["total"] or 0.0)
    oldest = agg["oldest"]
    reset_at = (int(oldest) + WINDOW_MINUTES) * 60 if oldest is not None else None
    return total, reset_at


def fresh_reset_at(now: float) -> int:
    """When a window that starts at `now` runs out: its first one-minute bucket plus 10 minutes."""
    return (int(now // 60) + WINDOW_MINUTES) * 60


def check_operating(key: str, method: str, portal: Portal) -> None:
    if not limits_enabled(portal):
        return
    used, _ = operating_state(key, method)
    if used >= settings.SANDBOX_OPERATING_LIMIT:
        raise errors.operation_time_limit(method)


def add_operating(key: str, method: str, seconds: float) -> None:
    minute = int(time.time() // 60)
    with transaction.atomic(using="sandbox"):
        usage, created = OperatingUsage.objects.select_for_update().get_or_create(
            key=key, method=method, minute=minute, defaults={"seconds": seconds}
        )
        if not created:
            OperatingUsage.objects.filter(pk=usage.pk).update(seconds=usage.seconds + seconds)
