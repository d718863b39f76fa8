"""A leaky-bucket limiter per portal, shared by every process of the app, with a burst that adapts.

The portal allows about 2 requests per second with a bucket of 50, counted per portal and source
IP (bitrix24-protocol.md §4.1) — for the app as a whole, not per worker. Each request reserves
the next free slot (GCRA: a "theoretical arrival time" per portal) and sleeps until it; so the app
paces itself instead of meeting QUERY_LIMIT_EXCEEDED.

One reservation is one atomic step: a Lua script in the Redis behind Django's cache (one round
trip, no lock), or, with the local-memory cache (one process: SQLite and development runs), the
same arithmetic under a threading lock.

The burst adapts. Callers this limiter cannot see (another integration calling the same portal
from the same address) share the portal's bucket, so the app starts at `Limits.burst`
(B24_RATE_BURST, 40) below the portal's `Limits.bucket` (B24_RATE_BUCKET; by default the documented
one for the rate: 50 at 2/s). Every clean answer
lets it grow by one towards the bucket, less a margin for requests that reach the portal later
than ones reserved after them (`ARRIVAL_SPREAD`). A 503 QUERY_LIMIT_EXCEEDED says the bucket is
fuller than we thought: the burst falls back to B24_RATE_BURST (and lower on further refusals),
stays there for `REFUSAL_HOLD` seconds, and our model of the bucket is set to full, so the
portal drains before we send again; the refused request is retried by the client (b24app.client).
The portal reports nothing else about the bucket: `time.operating` in its answers is the separate
per-method execution budget (§4.3).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from b24app.errors import RateLimited

# Seconds by which one request may reach the portal later than a request reserved after it (a slow
# thread, a busy portal): the burst never grows closer to the bucket than what drains in that time.
ARRIVAL_SPREAD = 1.0
REFUSAL_HOLD = 60.0  # seconds after a refusal during which the burst does not grow back
# Refusals within this many seconds of a shrink are answers to requests already on their way when
# the first one came: one shrink for them all.
REFUSAL_EPISODE = 2.0
SHRINK_STEP = 5  # each later episode of refusals, at or below B24_RATE_BURST, takes this much more off
STATE_TTL = 120.0  # seconds a quiet portal's state is kept beyond what it needs


# The portal's bucket by its drain rate (bitrix24-protocol.md §4.1: Enterprise 5/s and 250, others 2/s and 50).
DOCUMENTED_BUCKETS = {2.0: 50, 5.0: 250}


def documented_bucket(rate: float) -> int:
    """The bucket the limits doc gives for a portal draining `rate` a second; 0 for another rate."""
    return DOCUMENTED_BUCKETS.get(float(rate), 0)


@dataclass(frozen=True)
class Limits:
    rate: float  # requests per second
    burst: int  # requests allowed at once after a quiet spell, until answers show there is room for more
    bucket: int = 0  # the portal's own bucket; 0: unknown, the burst never grows beyond `burst`

    @property
    def interval(self) -> float:
        return 1.0 / self.rate

    @property
    def ceiling(self) -> int:
        """The most the burst grows to: the bucket less what drains in ARRIVAL_SPREAD."""
        return max(self.burst, self.bucket - math.ceil(self.rate * ARRIVAL_SPREAD))

    @property
    def ttl(self) -> float:
        return max(self.ceiling, self.bucket) * self.interval + REFUSAL_HOLD + STATE_TTL


# --- the arithmetic, in Python (local memory) and in Lua (Redis): the two must say the same ----------------

State = dict[str, float]


def _reserve(state: State, limits: Limits, *, now: float, max_wait: float, clean: int) -> tuple[bool, float]:
    """Update `state` for one reservation at `now`: (granted, wait). Refused, it reserves nothing."""
    tat = max(state.get("tat", now), now)
    burst = state.get("allowance", limits.burst)
    if clean > 0 and now - state.get("refused_at", -math.inf) >= REFUSAL_HOLD:
        burst += clean
    burst = max(1.0, min(burst, limits.ceiling))
    state["allowance"] = burst
    wait = max(0.0, tat + limits.interval - burst * limits.interval - now)
    if wait > max_wait:
        return False, wait
    state["tat"] = tat + limits.interval
    return True, wait


def _refuse(state: State, limits: Limits, *, now: float) -> float:
    """Update `state` for a QUERY_LIMIT_EXCEEDED answer at `now`; the burst from now on."""
    burst = state.get("allowance", limits.burst)
    if now - state.get("shrunk_at", -math.inf) >= REFUSAL_EPISODE:
        burst = float(limits.burst) if burst > limits.burst else max(1.0, burst - SHRINK_STEP)
        state["shrunk_at"] = now
    full = max(limits.bucket, limits.burst)
    state["tat"] = max(state.get("tat", now), now + full * limits.interval)
    state["allowance"] = burst
    state["refused_at"] = now
    return burst


RESERVE_LUA = """
local now, interval, burst0, ceiling = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local max_wait, clean, hold = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local s = redis.call('HMGET', KEYS[1], 'tat', 'allowance', 'refused_at')
local tat = math.max(tonumber(s[1]) or now, now)
local burst = tonumber(s[2]) or burst0
if clean > 0 and (s[3] == false or now - tonumber(s[3]) >= hold) then burst = burst + clean end
burst = math.max(1, math.min(burst, ceiling))
local wait = math.max(0, tat + interval - burst * interval - now)
if wait > max_wait then
  redis.call('HSET', KEYS[1], 'allowance', string.format('%.17g', burst))
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  return {0, string.format('%.17g', wait)}
end
redis.call('HSET', KEYS[1], 'tat', string.format('%.17g', tat + interval), 'allowance', string.format('%.17g', burst))
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return {1, string.format('%.17g', wait)}
"""

REFUSE_LUA = """
local now, interval, burst0, full = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local episode, step = tonumber(ARGV[5]), tonumber(ARGV[6])
local s = redis.call('HMGET', KEYS[1], 'tat', 'allowance', 'shrunk_at')
local burst = tonumber(s[2]) or burst0
if s[3] == false or now - tonumber(s[3]) >= episode then
  if burst > burst0 then burst = burst0 else burst = math.max(1, burst - step) end
  redis.call('HSET', KEYS[1], 'shrunk_at', string.format('%.17g', now))
end
local tat = math.max(tonumber(s[1]) or now, now + full * interval)
redis.call('HSET', KEYS[1], 'tat', string.format('%.17g', tat), 'allowance', string.format('%.17g', burst),
  'refused_at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return string.format('%.17g', burst)
"""

_scripts: dict[str, Any] = {}
_local_lock = threading.Lock()
_clean_lock = threading.Lock()
_clean: dict[str, int] = {}


def _state_key(key: str) -> str:
    return f"b24:limiter:{key}:state"


def _redis_key(key: str) -> str:
    """The cache's own key (its prefix and version), so cache.clear() and the bench's cleanup reach it."""
    return cache.make_key(_state_key(key))


def _floats(values: list[float]) -> list[str]:
    return [repr(float(v)) for v in values]  # repr: every digit, Lua's tonumber reads it back exactly


def _ms(limits: Limits) -> int:
    return math.ceil(limits.ttl * 1000)


def _redis() -> Any | None:
    """The Redis client behind Django's cache, or None when the cache is not Redis."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # Django's own client and connection pool for the cache's LOCATION (the primary: scripts write).
        return backend._cache.get_client(write=True)
    return None


def _script(client: Any, name: str, source: str) -> Any:
    """A registered script (EVALSHA, loaded again by redis-py if the server lost it)."""
    script = _scripts.get(name)
    if script is None:
        script = _scripts[name] = client.register_script(source)
    return script


def _local[T](key: str, update: Callable[[State], T], limits: Limits) -> T:
    """Run `update` on the state kept in the (per-process) cache, under a process-wide lock."""
    with _local_lock:
        state: State = dict(cache.get(_state_key(key)) or {})
        outcome = update(state)
        cache.set(_state_key(key), state, timeout=math.ceil(limits.ttl))
    return outcome


def _take_clean(key: str) -> int:
    with _clean_lock:
        return _clean.pop(key, 0)


def answered(key: str) -> None:
    """The portal answered without QUERY_LIMIT_EXCEEDED: evidence of room, sent with the next reservation.

    Counted in the process, so a clean answer costs no round trip of its own.
    """
    with _clean_lock:
        _clean[key] = _clean.get(key, 0) + 1


def reserve_slot(key: str, limits: Limits, *, now: float, max_wait: float) -> float:
    """Reserve the next request slot for `key`; returns how long to wait before sending."""
    clean = _take_clean(key)
    client = _redis()
    if client is None:
        granted, wait = _local(key, lambda s: _reserve(s, limits, now=now, max_wait=max_wait, clean=clean), limits)
    else:
        args = [now, limits.interval, limits.burst, limits.ceiling, max_wait, clean, REFUSAL_HOLD]
        answer = _script(client, "reserve", RESERVE_LUA)(keys=[_redis_key(key)], args=[*_floats(args), _ms(limits)])
        granted, wait = bool(int(answer[0])), float(answer[1])
    if not granted:
        raise RateLimited("LIMITER_QUEUE_FULL", "Too many requests queued for this portal", retry_after=wait)
    return wait


def refused(key: str, limits: Limits, *, now: float | None = None) -> float:
    """The portal answered QUERY_LIMIT_EXCEEDED: shrink the burst and take the bucket as full.

    Returns the burst from now on.
    """
    at = time.time() if now is None else now
    client = _redis()
    if client is None:
        return float(_local(key, lambda s: _refuse(s, limits, now=at), limits))
    full = max(limits.bucket, limits.burst)
    args = [at, limits.interval, limits.burst, full, REFUSAL_EPISODE, SHRINK_STEP]
    return float(_script(client, "refuse", REFUSE_LUA)(keys=[_redis_key(key)], args=[*_floats(args), _ms(limits)]))


def queued_seconds(key: str, limits: Limits, *, now: float | None = None) -> float:
    """How long a reservation made now would wait: the queue ahead of it. Reserves nothing.

    A read (one HMGET), so a page can tell "Bitrix24 is busy" before it takes a slot and a thread.
    """
    now = time.time() if now is None else now
    client = _redis()
    if client is None:
        state = cache.get(_state_key(key)) or {}
        tat, allowance = state.get("tat"), state.get("allowance")
    else:
        tat, allowance = client.hmget(_redis_key(key), "tat", "allowance")
    start = max(float(tat), now) if tat is not None else now
    burst = max(1.0, min(float(allowance) if allowance is not None else float(limits.burst), limits.ceiling))
    return max(0.0, start + limits.interval - burst * limits.interval - now)


def burst_now(key: str, limits: Limits) -> float:
    """The burst the limiter allows `key` at present (for tests and metrics)."""
    client = _redis()
    if client is None:
        state = cache.get(_state_key(key)) or {}
        value = state.get("allowance")
    else:
        value = client.hget(_redis_key(key), "allowance")
    return float(value) if value is not None else float(limits.burst)


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
