"""Benchmark 1: REST requests per user action, counted in the sandbox's request log."""

from __future__ import annotations

from typing import Any

from bench import report
from bench.actions import ACTIONS, App
from bench.one_request_save import one_request_save
from bench.portal import calls_since, log_mark
from bench.stack import Run

NAME = "rest_requests"


def run(ctx: Run) -> dict[str, Any]:
    app = App.of(ctx.config)
    rows: list[dict[str, Any]] = []
    for action in ACTIONS:
        if action.act is None:
            rows.append({"action": action.key, "label": action.label, "budget": action.budget, "note": action.note})
            continue
        state: dict[str, Any] = {}
        action.prepare(app, state)
        mark = log_mark()
        outcome = action.act(app, state)
        calls = calls_since(mark)
        rows.append(
            {
                "action": action.key,
                "label": action.label,
                "budget": action.budget,
                "requests": len(calls),
                "within_budget": action.budget is None or len(calls) <= action.budget,
                "ok": outcome.ok,
                "calls": [{"method": c.method, "commands": list(c.batch_methods), "error": c.error} for c in calls],
                "note": action.note,
            }
        )
    experiment = one_request_save()
    markdown = report.table(
        "REST requests per action (sandbox request log)",
        ["action", "requests", "budget", "within budget", "worked", "what was sent"],
        [
            [
                r["label"],
                r.get("requests"),
                r["budget"],
                r.get("within_budget"),
                r.get("ok"),
                r["note"] or _sent(r.get("calls", [])),
            ]
            for r in rows
        ],
    )
    markdown += "\n" + report.table(
        "Experiment: a conflict-checked rows save in one request (guard + $result reference, halt=1)",
        ["another user changed the deal", "requests", "written", "rows changed", "as it should be", "write error"],
        [
            [_case_label(c["case"]), c["requests"], c["written"], c["rows_changed"], c["correct"], c["write_error"]]
            for c in experiment
        ],
    )
    print(markdown)
    data = {"actions": rows, "one_request_save": experiment}
    report.save(NAME, data, markdown)
    return data


def _sent(calls: list[dict[str, Any]]) -> str:
    parts = []
    for call in calls:
        if call["method"] == "batch":
            parts.append(f"batch of {len(call['commands'])}: " + ", ".join(dict.fromkeys(call["commands"])))
        else:
            parts.append(call["method"])
        if call["error"]:
            parts[-1] += f" ({call['error']})"
    return "; ".join(parts)


def _case_label(case: str) -> str:
    return {
        "none": "no",
        "later": "yes, a second or more after the tab read it",
        "same_second": "yes, within the same second as the tab's read",
    }[case]
