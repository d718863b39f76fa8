"""Benchmark: the limiter under contention — 2 processes × 100 threads reserving permits from one Redis.

Each permit's granted time is when its reservation lets it go (the clock at the reservation plus
the wait the limiter returned). A correct shared limiter never grants more than burst + rate × w
permits over any span of w seconds, whatever the contention; the figure is how far the grants
went above that (0 is the goal). Also counted: Redis commands per permit (one script call is one
round trip). tests/b24app/test_limiter.py runs the same workers (`python -m bench.limiter worker`).

Without Redis (no BENCH_REDIS_URL answering) the limiter is per process and nothing is measured.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

NAME = "limiter"
PROCESSES, THREADS, PERMITS = 2, 100, 3  # permits per thread
RATE, BURST = 100.0, 50  # fast pacing, so the run takes seconds; the contention is what is measured
ROOT = Path(__file__).resolve().parent.parent


def grants_above(times: Sequence[float], *, rate: float, burst: int) -> int:
    """The most grants, over any span [t_i, t_j], above burst + rate × (t_j − t_i); 0 when never."""
    ordered = sorted(times)
    worst = 0.0
    for i, start in enumerate(ordered):
        for j in range(i, len(ordered)):
            worst = max(worst, (j - i + 1) - burst - rate * (ordered[j] - start))
    return max(0, math.ceil(worst - 1e-6))


def workers(
    *, redis_url: str, processes: int, threads: int, permits: int, rate: float, burst: int, timeout: float = 120.0
) -> dict[str, Any]:
    """Run the worker processes against one limiter key in `redis_url`; their grants, merged."""
    key = f"bench-{uuid.uuid4().hex[:12]}"
    start_at = time.time() + 3.0  # every process set up and waiting by then
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
    env.setdefault("DJANGO_SETTINGS_MODULE", "b24app.settings")
    argv = [sys.executable, "-m", "bench.limiter", "worker", key, str(threads), str(permits), str(rate), str(burst)]
    procs = [
        subprocess.Popen([*argv, repr(start_at)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(processes)
    ]
    merged: dict[str, Any] = {"grants": [], "refused": 0, "errors": [], "redis_commands": 0}
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"limiter worker failed ({proc.returncode}):\n{err.decode()[-3000:]}")
        part = json.loads(out.decode().strip().splitlines()[-1])
        merged["grants"] += part["grants"]
        merged["refused"] += part["refused"]
        merged["errors"] += part["errors"]
        merged["redis_commands"] += part["redis_commands"]
    return merged


def _worker(key: str, threads: int, permits: int, rate: float, burst: int, start_at: float) -> None:
    """One process: `threads` threads, each taking `permits` permits; prints a JSON line of the grants."""
    import django

    django.setup()
    import redis

    from b24app import limiter
    from b24app.errors import RateLimited

    commands = [0]
    count_lock = threading.Lock()
    # redis-py leaves execute_command unannotated: name the type we call it with.
    execute: Callable[..., Any] = redis.Redis.execute_command

    def counted(self: Any, *args: Any, **options: Any) -> Any:
        with count_lock:
            commands[0] += 1
        return execute(self, *args, **options)

    redis.Redis.execute_command = counted  # type: ignore[method-assign]
    limits = limiter.Limits(rate=rate, burst=burst)
    grants: list[float] = []
    errors: list[str] = []
    refused = [0]
    barrier = threading.Barrier(threads)
    stamp = threading.local()

    def clock() -> float:
        stamp.now = time.time()
        return float(stamp.now)

    def work() -> None:
        barrier.wait(timeout=60)
        time.sleep(max(0.0, start_at - time.time()))
        for _ in range(permits):
            try:
                wait = limiter.acquire(key, limits, max_wait=60.0, clock=clock)
            except RateLimited:
                refused[0] += 1
                continue
            except Exception as exc:  # reported, so a broken limiter shows as errors, not as a hang
                errors.append(repr(exc))
                continue
            grants.append(stamp.now + wait)

    pool = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    if limiter._redis() is None:
        errors.append("the cache is not Redis: REDIS_URL was not used")
    print(json.dumps({"grants": grants, "refused": refused[0], "errors": errors, "redis_commands": commands[0]}))


def run(ctx: Any) -> dict[str, Any]:
    from bench import report

    processes, threads, permits = PROCESSES, THREADS, 1 if ctx.quick else PERMITS
    title = f"Limiter: {processes} processes × {threads} threads reserving permits from one Redis"
    headers = ["permits", "rate /s", "burst", "seconds", "granted above the bucket", "Redis commands per permit"]
    if not ctx.config.redis_url:
        data: dict[str, Any] = {"measured": False, "why": ctx.config.redis_note}
        markdown = f"### {title}\n\nNot measured: {ctx.config.redis_note}.\n"
    else:
        started = time.monotonic()
        outcome = workers(
            redis_url=ctx.config.redis_url,
            processes=processes,
            threads=threads,
            permits=permits,
            rate=RATE,
            burst=BURST,
        )
        grants = sorted(outcome["grants"])
        above = grants_above(grants, rate=RATE, burst=BURST)
        span = grants[-1] - grants[0] if grants else math.nan
        per_permit = outcome["redis_commands"] / len(grants) if grants else math.nan
        data = {
            "measured": True,
            "processes": processes,
            "threads": threads,
            "permits": len(grants),
            "refused": outcome["refused"],
            "errors": outcome["errors"][:10],
            "rate": RATE,
            "burst": BURST,
            "seconds": span,
            "granted_above_bucket": above,
            "redis_commands_per_permit": per_permit,
            "wall_seconds": time.monotonic() - started,
        }
        markdown = report.table(title, headers, [[len(grants), RATE, BURST, span, above, report.fmt(per_permit, 2)]])
        if outcome["errors"] or outcome["refused"]:
            markdown += f"\nRefused: {outcome['refused']}; errors: {outcome['errors'][:3]}\n"
    print(markdown)
    report.save(NAME, data, markdown)
    return data


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    name, threads_arg, permits_arg, rate_arg, burst_arg, start_arg = sys.argv[2:8]
    _worker(name, int(threads_arg), int(permits_arg), float(rate_arg), int(burst_arg), float(start_arg))
