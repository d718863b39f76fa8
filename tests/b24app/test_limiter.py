"""The shared per-portal limiter: the app paces itself under the portal's leaky bucket (protocol §4.1)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.cache import cache

from b24app import limiter
from b24app.client import B24Client
from b24app.errors import RateLimited
from b24app.limiter import Limits, reserve_slot
from b24app.models import Portal
from b24app.oauth import PortalTokens
from tests.b24app.conftest import Installed, in_threads

LIMITS = Limits(rate=10.0, burst=3)


@pytest.fixture
def fresh_cache() -> None:
    cache.clear()


def slot(now: float, *, key: str = "acme", limits: Limits = LIMITS, max_wait: float = 60.0) -> float:
    return reserve_slot(key, limits, now=now, max_wait=max_wait)


def test_a_quiet_portal_allows_a_burst_without_waiting(fresh_cache: None) -> None:
    assert [slot(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]


def test_after_the_burst_each_request_waits_one_interval_more(fresh_cache: None) -> None:
    waits = [slot(100.0) for _ in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3:] == pytest.approx([0.1, 0.2, 0.3])


def test_requests_spread_at_the_rate_never_wait(fresh_cache: None) -> None:
    assert [slot(100.0 + i * 0.1) for i in range(20)] == [0.0] * 20


def test_a_quiet_spell_gives_the_burst_back(fresh_cache: None) -> None:
    for _ in range(6):
        slot(100.0)
    assert slot(101.0) == 0.0
    assert [slot(101.0) for _ in range(2)] == [0.0, 0.0]
    assert slot(101.0) == pytest.approx(0.1)


def test_each_portal_has_its_own_bucket(fresh_cache: None) -> None:
    for _ in range(5):
        slot(100.0, key="acme")
    assert slot(100.0, key="other") == 0.0


def test_a_queue_longer_than_max_wait_is_refused_and_takes_no_slot(fresh_cache: None) -> None:
    waits = [slot(100.0, max_wait=0.25) for _ in range(5)]
    assert waits[3:] == pytest.approx([0.1, 0.2])
    with pytest.raises(RateLimited) as raised:
        slot(100.0, max_wait=0.25)
    assert raised.value.code == "LIMITER_QUEUE_FULL"
    assert raised.value.retry_after == pytest.approx(0.3)
    assert slot(100.0, max_wait=1.0) == pytest.approx(0.3)  # the refused request reserved nothing


def test_acquire_sleeps_for_the_reserved_wait(fresh_cache: None) -> None:
    slept: list[float] = []
    for _ in range(4):
        limiter.acquire("acme", LIMITS, clock=lambda: 100.0, sleep=slept.append)
    assert slept == pytest.approx([0.1])


APP_BURST = 10


def test_a_hundred_calls_from_ten_threads_keep_to_the_portals_rate(
    installed: Installed, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The portal allows 20/s with a burst of 20; the app paces itself at 20/s with a burst of 10.

    The margin (10 requests, half a second at this rate) plays the part of production's 50 vs 40
    at 2/s: it absorbs threads that wake late and requests that arrive bunched on a busy machine.

    If the releases below keep to APP_BURST + 20/s but the portal still logged QUERY_LIMIT_EXCEEDED, the
    portal counted wrongly: see the report on sandbox/rest/limits.py (time read before the lock).
    """
    from sandbox.models import RequestLog

    settings.SANDBOX_LIMITS_ENABLED = True
    settings.SANDBOX_RATE_LIMIT = 20
    settings.SANDBOX_RATE_BURST = 20
    settings.B24_RATE_LIMIT = 20
    settings.B24_RATE_BURST = APP_BURST
    cache.clear()
    time.sleep(0.6)  # the portal's bucket drains what the install put in it
    released: list[float] = []
    real_acquire = limiter.acquire

    def acquire(*args: Any, **kwargs: Any) -> float:
        waited = real_acquire(*args, **kwargs)
        released.append(time.time())
        return waited

    monkeypatch.setattr(limiter, "acquire", acquire)
    portal_pk = installed.portal.pk
    before = RequestLog.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def ten_calls(_: int) -> list[str]:
        client = B24Client(PortalTokens(Portal.objects.get(pk=portal_pk)))
        return [client.result("user.current")["ID"] for _ in range(10)]

    started = time.monotonic()
    results = in_threads(10, ten_calls)
    elapsed = time.monotonic() - started

    assert [r for r in results if not isinstance(r, list)] == []
    assert sum(len(r) for r in results) == 100
    assert elapsed >= (100 - APP_BURST) / 20
    released.sort()
    assert len(released) >= 100  # retries, if the portal refused any, were paced too
    # Within two requests (a tenth of a second here): threads that wake a little after the slot
    # they reserved arrive together; the portal's own verdict below is what must hold exactly.
    assert max(most_released_within(released, start) for start in range(len(released))) <= 2
    calls = RequestLog.objects.filter(id__gt=before)
    refused = list(calls.filter(error="QUERY_LIMIT_EXCEEDED").values_list("created_at", flat=True))
    assert refused == [], f"the app kept to {APP_BURST} + 20/s, yet the portal refused: see the docstring"
    assert calls.count() == 100


def most_released_within(times: list[float], start: int) -> float:
    """How far the releases from `start` on exceed APP_BURST + 20/s over any span (0 or less: never)."""
    return max((end - start + 1) - (APP_BURST + 20 * (times[end] - times[start])) for end in range(start, len(times)))
