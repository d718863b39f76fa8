"""Benchmark 4: 9 a.m. — 100 users of one portal open deal tabs within one second.

The portal enforces its real limit (2 requests/s, burst 50, per portal and IP); the app runs with
its production pacing (B24_RATE_LIMIT=2, B24_RATE_BURST=40, growing on clean answers towards the
portal's bucket less a second's drain: 48), its limiter shared by both gunicorn workers through
Redis. Goals: no user sees an error, and the portal never has to answer QUERY_LIMIT_EXCEEDED
because the app paces itself. The total time is set against the least the portal allows for the
requests made: (requests - 50) / 2 seconds.

Each user's open is the placement POST (answered at once with the tab's frame and a skeleton: the
first paint) and the fill that skeleton sends (htmx load, the one opening batch). "Painted" is the
skeleton's answer: the time a user looks at a blank frame; "wait" is until the tab is filled.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from bench import report
from bench.actions import url
from bench.portal import calls_since, limits_set, log_mark, opening_of
from bench.stack import Run, app_cache_clear
from bench.throughput import PORTAL_USERS, _deals
from devtools.portal import placement_form, portal_query

NAME = "storm"
USERS = 100
SPREAD = 1.0  # seconds over which the tab opens start
RATE, BURST = 2.0, 50  # the portal's
APP_RATE, APP_BURST = "2", "40"  # the app's pacing (its production defaults)
APP_CEILING = 48  # what the burst grows to: the documented bucket of 50 less one second's drain
CLIENT_TIMEOUT = 240.0


@dataclass
class Visit:
    started: float = 0.0
    painted: float = 0.0  # the first paint arrived (the skeleton, or the whole answer)
    ended: float = 0.0
    status: int = 0
    outcome: str = "not run"


def _classify(response: requests.Response) -> str:
    if response.status_code == 200 and '<form id="editor"' in response.text:
        return "editor"
    if response.status_code == 200 and 'id="editor"' in response.text:
        return "editor (read-only)"
    return f"error: HTTP {response.status_code}" + ("" if response.status_code != 200 else ", no editor")


def _storm(ctx: Run, forms: list[dict[str, str]]) -> list[Visit]:
    target = f"{ctx.config.app_url.rstrip('/')}{url('tab_placement')}?{portal_query(ctx.config.sandbox_url)}"
    visits = [Visit() for _ in forms]
    t0 = time.monotonic() + 0.5

    def open_tab(index: int) -> None:
        time.sleep(max(0.0, t0 + index * SPREAD / len(forms) - time.monotonic()))
        visit = visits[index]
        visit.started = time.monotonic()
        try:
            response = requests.post(target, data=forms[index], timeout=CLIENT_TIMEOUT)
            visit.painted = time.monotonic()
            opening = opening_of(response.text) if response.status_code == 200 else None
            while opening is not None:  # the skeleton's htmx load, and its polls while Bitrix24 is busy
                time.sleep(opening.delay)
                fill = f"{ctx.config.app_url.rstrip('/')}{opening.url}"
                headers = {"X-Opening-Token": opening.token, "HX-Request": "true"}
                response = requests.post(fill, data=opening.fields, headers=headers, timeout=CLIENT_TIMEOUT)
                opening = opening_of(response.text) if response.status_code == 200 else None
            visit.status, visit.outcome = response.status_code, _classify(response)
        except requests.RequestException as exc:
            visit.outcome = f"error: {type(exc).__name__}"
        visit.ended = time.monotonic()

    threads = [threading.Thread(target=open_tab, args=(i,), daemon=True) for i in range(len(forms))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + CLIENT_TIMEOUT + 30
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    return visits


def run(ctx: Run) -> dict[str, Any]:
    users = 30 if ctx.quick else USERS
    deals = _deals()
    forms = [
        placement_form(
            user=PORTAL_USERS[i % len(PORTAL_USERS)], placement="CRM_DEAL_DETAIL_TAB", deal_id=deals[i % len(deals)]
        )
        for i in range(users)
    ]
    ctx.stack.restart_app(B24_RATE_LIMIT=APP_RATE, B24_RATE_BURST=APP_BURST)
    try:
        app_cache_clear()  # empty limiter slots, and the reference data cold as after a deploy
        limits_set(enabled=True, rate=RATE, burst=BURST)
        mark = log_mark()
        visits = _storm(ctx, forms)
        calls = calls_since(mark)
    finally:
        limits_set(enabled=False)
        ctx.stack.restart_app()
    done = [v for v in visits if v.ended]
    latencies = [v.ended - v.started for v in done]
    paints = [v.painted - v.started for v in visits if v.painted]
    errors = [v for v in visits if not v.outcome.startswith("editor")]
    answered = [c for c in calls if c.error != "QUERY_LIMIT_EXCEEDED"]
    limited = len(calls) - len(answered)
    total = max(v.ended for v in done) - min(v.started for v in done) if done else float("nan")
    minimum = max(0.0, (len(answered) - BURST) / RATE)
    paced = max(0.0, (len(answered) - APP_CEILING) / float(APP_RATE))
    outcomes: dict[str, int] = {}
    for visit in visits:
        outcomes[visit.outcome] = outcomes.get(visit.outcome, 0) + 1
    data = {
        "users": users,
        "spread_seconds": SPREAD,
        "portal": {"rate": RATE, "burst": BURST},
        "app_pacing": {"rate": float(APP_RATE), "burst": int(APP_BURST), "burst_grows_to": APP_CEILING},
        "user_visible_errors": len(errors),
        "outcomes": outcomes,
        "rest_requests": len(answered),
        "query_limit_exceeded": limited,
        "total_seconds": total,
        "theoretical_minimum_seconds": minimum,
        "app_pacing_minimum_seconds": paced,
        "latency_p50": report.percentile(latencies, 50),
        "latency_p95": report.percentile(latencies, 95),
        "latency_max": max(latencies) if latencies else float("nan"),
        "painted_p50": report.percentile(paints, 50),
        "painted_p95": report.percentile(paints, 95),
        "painted_max": max(paints) if paints else float("nan"),
        "painted_users": len(paints),
    }
    markdown = report.table(
        f"Rate-limit storm: {users} users open tabs within {SPREAD:.0f} s "
        "(portal 2 req/s, burst 50; the app paces itself at 2/s, burst 40 growing to 48 on clean answers)",
        [
            "errors users saw",
            "QUERY_LIMIT_EXCEEDED",
            "REST requests",
            "total s",
            "minimum s (portal)",
            "minimum s (app pacing)",
            "wait p50 s",
            "wait p95 s",
            "wait max s",
        ],
        [
            [
                len(errors),
                limited,
                len(answered),
                total,
                minimum,
                paced,
                data["latency_p50"],
                data["latency_p95"],
                data["latency_max"],
            ]
        ],
    )
    markdown += "\n" + report.table(
        "Storm: time until each user sees a painted tab (the skeleton; the wait above is until it is filled)",
        ["users painted", "painted p50 s", "painted p95 s", "painted max s"],
        [[len(paints), data["painted_p50"], data["painted_p95"], data["painted_max"]]],
    )
    if errors:
        markdown += "\nOutcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())) + "\n"
    print(markdown)
    report.save(NAME, data, markdown)
    return data
