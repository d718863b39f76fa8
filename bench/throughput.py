"""Benchmark 3: tab opens per second from gunicorn (2 workers × 8 threads), 50 users at once.

Locust (headless, its own process) plays 50 portal users opening deal tabs back to back against
the app's gunicorn, twice: with the sandbox portal (another gunicorn, limits off), then with a
stand-in on the sandbox's address that replays the sandbox's recorded answer at once
(bench/replay_portal.py), which leaves the app alone to measure. The portal's share is reported
apart: its request log (how long it took to answer each REST request) and the CPU time of each
process over the run. App, portal and load generator share this machine's cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from bench import report
from bench.actions import url
from bench.portal import calls_since, log_mark
from bench.stack import ROOT, Run, cpu_seconds
from devtools.portal import placement_form, portal_query, sandbox_tokens

NAME = "throughput"
USERS = 50
SECONDS = 40
PORTAL_USERS = (1, 2, 3, 4)


def _deals() -> list[int]:
    from django.db.models import Count

    from sandbox.models import Deal

    # Deals whose contacts fit the opening batch: one REST request per tab open.
    deals = Deal.objects.annotate(n=Count("contact_bindings")).filter(n__lte=10).order_by("id")
    return [int(d.pk) for d in deals[:50]]


def _forms(ctx: Run, users: int) -> list[dict[str, Any]]:
    deals = _deals()
    path = f"{url('tab_placement')}?{portal_query(ctx.config.sandbox_url)}"
    return [
        {
            "path": path,
            "form": placement_form(
                user=PORTAL_USERS[i % len(PORTAL_USERS)], placement="CRM_DEAL_DETAIL_TAB", deal_id=deals[i % len(deals)]
            ),
        }
        for i in range(users)
    ]


def _locust(ctx: Run, *, forms: Path, seconds: int, json_file: Path) -> tuple[int, float]:
    """Run the swarm; (exit code, CPU seconds of the load generator)."""
    argv = [
        *(sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless"),
        *("-u", str(USERS), "-r", str(USERS), "-t", f"{seconds}s", "--host", ctx.config.app_url.rstrip("/")),
        # locust adds ".json" to the name it is given
        *("--json-file", str(json_file.with_suffix("")), "--only-summary", "--reset-stats", "--stop-timeout", "5"),
        *("--loglevel", "WARNING"),
    ]
    env = {**os.environ, "BENCH_LOCUST_FORMS": str(forms)}
    with (ctx.config.root / "locust.log").open("ab") as log:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    # Bounded whatever locust does: stopped 60 s after its planned end.
    watchdog = threading.Timer(seconds + 60, lambda: process.send_signal(signal.SIGKILL))
    watchdog.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        watchdog.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime


def _stats(json_file: Path) -> dict[str, Any]:
    """Locust's final figures: its JSON report holds every response time (rounded, with counts)."""
    entries = json.loads(json_file.read_text())
    entry = next((e for e in entries if e.get("name") == "open deal tab"), None)
    if entry is None:
        return {"requests": 0, "failures": 0, "rps": float("nan"), "ms_p50": float("nan"), "ms_p95": float("nan")}
    times = [float(ms) for ms, count in entry["response_times"].items() for _ in range(int(count))]
    span = float(entry["last_request_timestamp"]) - float(entry["start_time"])
    return {
        "requests": int(entry["num_requests"]),
        "failures": int(entry["num_failures"]),
        "rps": int(entry["num_requests"]) / span if span > 0 else float("nan"),
        "ms_p50": report.percentile(times, 50),
        "ms_p95": report.percentile(times, 95),
        "ms_p99": report.percentile(times, 99),
        "ms_max": float(entry["max_response_time"]),
    }


def _record_answer(ctx: Run, path: Path) -> None:
    """The sandbox's answer to the batch a (warm) tab open sends, for the replaying stand-in."""
    from b24app.client import command_string
    from widgets.products.batch import open_commands

    access, _ = sandbox_tokens(PORTAL_USERS[0])
    commands = open_commands(deal_id=_deals()[0], with_user=True, ref={})
    cmd = {key: command_string(method, params) for key, (method, params) in commands.items()}
    body = {"halt": 0, "cmd": cmd, "auth": access}
    answer = requests.post(f"{ctx.config.sandbox_url}rest/batch.json", json=body, timeout=30)
    answer.raise_for_status()
    path.write_bytes(answer.content)


@contextmanager
def replayed_portal(ctx: Run) -> Iterator[subprocess.Popen[bytes]]:
    """The stand-in on the sandbox's port while the sandbox is stopped; the sandbox again after."""
    answer = ctx.config.root / "replay-answer.json"
    _record_answer(ctx, answer)
    ctx.stack.sandbox.stop()
    argv = [sys.executable, "-m", "bench.replay_portal", "--port", str(ctx.config.sandbox_port)]
    with (ctx.config.root / "replay.log").open("ab") as log:
        process = subprocess.Popen([*argv, "--answer", str(answer)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.post(f"{ctx.config.sandbox_url}rest/batch.json", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the replaying portal did not start") from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
        ctx.stack.sandbox.start()


def _phase(ctx: Run, *, seconds: int, forms: Path, portal_pid: int | None) -> dict[str, Any]:
    """One swarm: the app's figures, and the portal's (its log, or the stand-in's CPU only)."""
    json_file = ctx.config.root / "locust.json"
    json_file.unlink(missing_ok=True)
    portal_cpu: Callable[[], float] = (lambda: cpu_seconds(portal_pid)) if portal_pid else ctx.stack.sandbox.cpu
    mark = log_mark() if portal_pid is None else 0
    app_cpu, portal_cpu_before, started = ctx.stack.app.cpu(), portal_cpu(), time.monotonic()
    code, locust_cpu = _locust(ctx, forms=forms, seconds=seconds, json_file=json_file)
    wall = time.monotonic() - started
    app_cpu, portal_used = ctx.stack.app.cpu() - app_cpu, portal_cpu() - portal_cpu_before
    stats = _stats(json_file)
    portal: dict[str, Any] = {"cpu_seconds": portal_used}
    if portal_pid is None:
        calls = calls_since(mark)
        durations = [float(c.duration_ms) for c in calls]
        portal.update(
            requests=len(calls),
            errors=sum(1 for c in calls if c.http_status != 200),
            ms_p50=report.percentile(durations, 50),
            ms_p95=report.percentile(durations, 95),
            cpu_ms_per_request=portal_used * 1000 / max(1, len(calls)),
        )
    opens = max(1, stats["requests"])
    app = {**stats, "cpu_seconds": app_cpu, "cpu_ms_per_open": app_cpu * 1000 / opens}
    return {"wall_seconds": wall, "locust_exit": code, "app": app, "portal": portal, "locust_cpu_seconds": locust_cpu}


def run(ctx: Run) -> dict[str, Any]:
    seconds = 10 if ctx.quick else SECONDS
    forms = ctx.config.root / "locust-forms.json"
    forms.write_text(json.dumps(_forms(ctx, USERS)))
    phases = {"sandbox": _phase(ctx, seconds=seconds, forms=forms, portal_pid=None)}
    with replayed_portal(ctx) as stand_in:
        phases["replay"] = _phase(ctx, seconds=seconds, forms=forms, portal_pid=stand_in.pid)
    data = {
        "users": USERS,
        "seconds": seconds,
        "app_workers": ctx.stack.app.workers,
        "app_threads": ctx.stack.app.threads,
        "cores": os.cpu_count(),
        "phases": phases,
    }
    labels = {"sandbox": "the sandbox portal", "replay": "a stand-in replaying one answer (the app alone)"}
    # The figures of the app each row shows after its label, in the headers' order.
    app_columns = ("requests", "failures", "rps", "ms_p50", "ms_p95", "ms_p99", "cpu_ms_per_open")
    markdown = report.table(
        f"Throughput: {USERS} users opening deal tabs for {seconds} s (app: gunicorn 2 workers × 8 threads)",
        ["portal", "tab opens", "failed", "tab opens/s", "p50 ms", "p95 ms", "p99 ms", "app CPU ms/open"],
        [[labels[key], *(phase["app"][column] for column in app_columns)] for key, phase in phases.items()],
    )
    sandbox, replay = phases["sandbox"], phases["replay"]
    markdown += "\n" + report.table(
        "The portal's own cost in those runs (its request log and CPU), and the load generator's",
        [
            "portal",
            "portal requests",
            "errors",
            "portal ms p50",
            "portal ms p95",
            "portal CPU ms/request",
            "portal CPU s",
            "app CPU s",
            "locust CPU s",
            "wall s",
        ],
        [
            [
                labels["sandbox"],
                sandbox["portal"]["requests"],
                sandbox["portal"]["errors"],
                sandbox["portal"]["ms_p50"],
                sandbox["portal"]["ms_p95"],
                sandbox["portal"]["cpu_ms_per_request"],
                sandbox["portal"]["cpu_seconds"],
                sandbox["app"]["cpu_seconds"],
                sandbox["locust_cpu_seconds"],
                sandbox["wall_seconds"],
            ],
            [
                labels["replay"],
                None,
                None,
                None,
                None,
                None,
                replay["portal"]["cpu_seconds"],
                replay["app"]["cpu_seconds"],
                replay["locust_cpu_seconds"],
                replay["wall_seconds"],
            ],
        ],
    )
    print(markdown)
    report.save(NAME, data, markdown)
    return data
