"""A leaky-bucket limiter per portal, shared by every process of the app through the cache.

The portal allows about 2 requests per second with a burst of 50, counted per portal and source
IP (bitrix24-protocol.md §4.1) — for the app as a whole, not per worker. Each request reserves
the next free slot (GCRA: a "theoretical arrival time" per portal kept in the cache, Redis in
production) and sleeps until it; so the app paces itself instead of meeting QUERY_LIMIT_EXCEEDED.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.cache import cache

from b24app.errors import RateLimited

LOCK_TTL = 5


@dataclass(frozen=True)
class Limits:
    rate: float  # requests per second
    burst: int  # requests allowed at once after a quiet spell


@contextmanager
def cache_lock(key: str, *, timeout: float = 10.0) -> Iterator[None]:
    """A short mutex through cache.add (SET NX on Redis), for read-modify-write of the slot."""
    token = secrets.token_hex(8)
    deadline = time.monotonic() + timeout
    while not cache.add(key, token, LOCK_TTL):
        if time.monotonic() > deadline:
            raise RateLimited("LIMITER_BUSY", "The rate limiter is busy", retry_after=1.0)
        time.sleep(0.002)
    try:
        yield
    finally:
        if cache.get(key) == token:
            cache.delete(key)


def reserve_slot(key: str, limits: Limits, *, now: float, max_wait: float) -> float:
    """Reserve the next request slot for `key`; returns how long to wait before sending."""
    tat_key = f"b24:limiter:{key}:tat"
    interval = 1.0 / limits.rate
    with cache_lock(f"b24:limiter:{key}:lock"):
        tat = max(float(cache.get(tat_key) or now), now)
        wait = max(0.0, tat + interval - limits.burst * interval - now)
        if wait > max_wait:
            raise RateLimited("LIMITER_QUEUE_FULL", "Too many requests queued for this portal", retry_after=wait)
        cache.set(tat_key, tat + interval, timeout=int(limits.burst * interval) + 120)
    return wait


def acquire(
    key: str,
    limits: Limits,
    *,
    max_wait: float = 120.0,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    wait = reserve_slot(key, limits, now=clock(), max_wait=max_wait)
    if wait > 0:
        sleep(wait)
    return wait
