"""Benchmark 2: the time our server adds to an action, without the time spent waiting on the portal.

Opening the tab (warm reference cache) and saving rows, 200 times each, in this process through
Django's test client; b24app.client's HTTP session is timed, and its time is taken off each
request's wall time. What remains is ours: middleware, views, templates, our database, the cache
and limiter round trips.
"""

from __future__ import annotations

from typing import Any

from bench import report
from bench.actions import TAB_USER, App, Timed, rows_save, rows_saved, tab_open
from bench.portal import deal_with_rows
from bench.stack import Run

NAME = "server_time"
RUNS = 200
WARMUP = 5
TIME_LIMIT = 150.0  # seconds per action, whatever RUNS says


# The figures each table row shows after its label, in the headers' order.
_COLUMNS = (
    "runs",
    "server_ms_p50",
    "server_ms_p95",
    "portal_ms_p50",
    "total_ms_p50",
    "total_ms_p95",
    "portal_requests_per_run",
)


def _summary(samples: list[Timed], failures: int) -> dict[str, Any]:
    server = [t.server_seconds * 1000 for t in samples]
    portal = [t.portal_seconds * 1000 for t in samples]
    total = [t.seconds * 1000 for t in samples]
    return {
        "runs": len(samples),
        "failures": failures,
        "server_ms_p50": report.percentile(server, 50),
        "server_ms_p95": report.percentile(server, 95),
        "portal_ms_p50": report.percentile(portal, 50),
        "total_ms_p50": report.percentile(total, 50),
        "total_ms_p95": report.percentile(total, 95),
        "portal_requests_per_run": sum(t.portal_requests for t in samples) / len(samples) if samples else 0,
    }


def _measure(runs: int, one: Any) -> dict[str, Any]:
    import time

    for _ in range(WARMUP):
        one()
    samples: list[Timed] = []
    failures = 0
    deadline = time.monotonic() + TIME_LIMIT
    while len(samples) + failures < runs and time.monotonic() < deadline:
        timed, ok = one()
        if ok:
            samples.append(timed)
        else:
            failures += 1
    return _summary(samples, failures)


def run(ctx: Run) -> dict[str, Any]:
    runs = 20 if ctx.quick else RUNS
    app = App.of(ctx.config)
    deal_id = deal_with_rows(user=TAB_USER)

    def open_once() -> tuple[Timed, bool]:
        tab, timed = tab_open(app, deal_id=deal_id, cold=False)
        return timed, tab.page.editor_ready

    tab, _ = tab_open(app, deal_id=deal_id, cold=False)

    def save_once() -> tuple[Timed, bool]:
        timed = rows_save(app, tab)
        return timed, rows_saved(timed)

    results = {"tab_open": _measure(runs, open_once), "rows_save": _measure(runs, save_once)}
    labels = {"tab_open": "open the deal tab (warm cache)", "rows_save": "save product rows"}
    markdown = report.table(
        f"Server time per action, portal wait excluded (ms, {runs} runs each, in process)",
        ["action", "runs", "server p50", "server p95", "portal wait p50", "total p50", "total p95", "REST/run"],
        [[labels[key], *(r[column] for column in _COLUMNS)] for key, r in results.items()],
    )
    print(markdown)
    report.save(NAME, {"runs": runs, "actions": results}, markdown)
    return results
