"""bench/results/summary.md — every benchmark's latest table, the goals, and the machine — and the
same text in docs/performance.md, between its two `bench:figures` markers (full runs only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import report
from bench.stack import Config, database_kind

DOCS = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
START, END = "<!-- bench:figures:start -->", "<!-- bench:figures:end -->"
ORDER = ["rest_requests", "server_time", "throughput", "storm", "limiter", "bulk_read", "browser"]


def _load(name: str) -> dict[str, Any] | None:
    path = report.RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _measured_at(name: str, commit: str) -> bool:
    """Whether bench/results/<name>.json was measured at `commit` (what the summary is stamped with)."""
    return bool(commit) and (_load(name) or {}).get("commit") == commit


def _current(name: str, commit: str) -> dict[str, Any] | None:
    """The results of `name` measured at `commit`, else None: goals are judged on this code only."""
    return _load(name) if _measured_at(name, commit) else None


# Issue 17's goal for the app's CPU per tab open, as the throughput benchmark measures it.
CPU_PER_OPEN_GOAL_MS = 10.0


def _throughput_goals(commit: str) -> list[list[Any]]:
    """App CPU per tab open, with the sandbox and with the stand-in portal (the app alone)."""
    rows: list[list[Any]] = []
    phases = (_current("throughput", commit) or {}).get("phases", {})
    for phase, label in (("sandbox", "with the sandbox"), ("replay", "the app alone")):
        cpu = phases.get(phase, {}).get("app", {}).get("cpu_ms_per_open")
        if cpu is not None:
            goal = f"throughput: app CPU ms per tab open ({label}) ≤ {CPU_PER_OPEN_GOAL_MS:g}"
            rows.append([goal, round(cpu, 1), "met" if cpu <= CPU_PER_OPEN_GOAL_MS else "MISSED"])
    return rows


def goals(commit: str) -> list[list[Any]]:
    """Each goal of the issue with what the results measured at `commit` say."""
    rows: list[list[Any]] = []
    rest = _current("rest_requests", commit)
    if rest:
        for action in rest["actions"]:
            if action.get("requests") is None:
                rows.append([f"{action['label']}: ≤ {action['budget']} REST request(s)", "n/a", action["note"]])
            else:
                met = action["within_budget"] and action["ok"]
                rows.append(
                    [
                        f"{action['label']}: ≤ {action['budget']} REST request(s)",
                        action["requests"],
                        "met" if met else "MISSED",
                    ]
                )
    storm = _current("storm", commit)
    if storm:
        rows.append(
            [
                "storm: errors users see = 0",
                storm["user_visible_errors"],
                "met" if storm["user_visible_errors"] == 0 else "MISSED",
            ]
        )
        rows.append(
            [
                "storm: QUERY_LIMIT_EXCEEDED answers = 0",
                storm["query_limit_exceeded"],
                "met" if storm["query_limit_exceeded"] == 0 else "MISSED",
            ]
        )
        ratio = (
            storm["total_seconds"] / storm["theoretical_minimum_seconds"]
            if storm["theoretical_minimum_seconds"]
            else None
        )
        rows.append(
            [
                "storm: total time vs the portal's minimum ≤ 1.1×",
                f"{report.fmt(ratio, 2)}×",
                "met" if ratio is not None and ratio <= 1.1 else "MISSED",
            ]
        )
        if "painted_p95" in storm:
            painted = storm["painted_p95"]
            met = painted < 1.0 and storm.get("painted_users") == storm["users"]
            rows.append(
                ["storm: time until every user sees a painted tab, p95 < 1 s", painted, "met" if met else "MISSED"]
            )
    browser = _current("browser", commit)
    if browser and browser.get("slow_portal"):
        slow = browser["slow_portal"]
        skeleton = slow["skeleton_ms"]["p95"]
        met = skeleton < 300 and bool(slow["skeleton_seen"]["all"])
        rows.append(
            [
                "browser: POST → first paint (skeleton), portal delayed 3 s, p95 < 300 ms",
                skeleton,
                "met" if met else "MISSED",
            ]
        )
    limits = _current("limiter", commit)
    if limits and limits.get("measured"):
        above = limits["granted_above_bucket"]
        rows.append(
            [
                f"limiter: {limits['processes']} processes × {limits['threads']} threads, "
                "permits granted above the bucket = 0",
                above,
                "met" if above == 0 and not limits["errors"] else "MISSED",
            ]
        )
    return rows + _throughput_goals(commit)


def summarize(*, failures: dict[str, str], config: Config, quick: bool, publish: bool) -> Path:
    """The summary file always; docs/performance.md only for a full run of `make bench` (`publish`)."""
    info = report.machine()
    lines = [
        "## Latest figures",
        "",
        f"Machine: {info['cpus']} × {info['cpu_model']}, {info['ram_gib']} GiB RAM, Python {info['python']}, "
        f"{info['platform']}; commit {info['commit'] or 'unknown'}. Databases: {database_kind(config)}. "
        f"Cache: {config.redis_note}." + (" QUICK RUN: fewer runs, not for publishing." if quick else ""),
        "",
        report.table("Goals", ["goal", "latest", "status"], goals(info["commit"])),
    ]
    older: list[str] = []
    for name in [n + suffix for n in ORDER for suffix in ("", report.POSTGRES_SUFFIX)]:
        path = report.RESULTS / f"{name}.md"
        if path.exists() and not _measured_at(name, info["commit"]):
            older.append(name)  # figures of other code: never stamped with this commit (issue 19)
        elif path.exists():
            at = (_load(name) or {}).get("at", "")
            if name.endswith(report.POSTGRES_SUFFIX):
                lines += ["The same with PostgreSQL for both databases (BENCH_DATABASE_URL), for comparison:", ""]
            lines += [path.read_text().rstrip(), "", f"<sub>{name}: measured {at}</sub>", ""]
    if older:
        lines += [f"Left out, measured at another commit: {', '.join(older)} (bench/results/<name>.md).", ""]
    for name, trace in failures.items():
        lines += [f"**{name} failed in the last run:** `{trace.strip().splitlines()[-1][:300]}`", ""]
    text = "\n".join(lines).rstrip() + "\n"
    out = report.RESULTS / "summary.md"
    out.write_text(text)
    (report.RESULTS / "machine.json").write_text(json.dumps({**info, "cache": config.redis_note}, indent=2) + "\n")
    if publish and (not info["commit"] or report.UNCOMMITTED in info["commit"] or failures):
        # docs/performance.md holds only figures of committed code, measured whole (issue 19).
        print("\nbench: docs/performance.md left as it was: the code is not committed, or a benchmark failed")
        publish = False
    if publish and DOCS.exists():
        docs = DOCS.read_text()
        if START in docs and END in docs:
            head, rest = docs.split(START, 1)
            _, tail = rest.split(END, 1)
            DOCS.write_text(f"{head}{START}\n{text}{END}{tail}")
    print(f"\nbench: figures in {out}" + (f" and {DOCS}" if publish else ""))
    return out
