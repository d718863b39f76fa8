"""Tables on the terminal, JSON under bench/results/, and the machine the figures came from."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
# Figures taken with PostgreSQL (BENCH_DATABASE_URL) are kept beside the default SQLite ones.
POSTGRES_SUFFIX = "-postgresql"


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile by nearest rank (p in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (readable on the terminal too), under a title."""
    cells = [[fmt(cell) for cell in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    return "\n".join([f"### {title}", "", line, rule, *body, ""])


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration, ValueError):
        mem_kb = 0
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "commit": _git_commit(),
    }


# What a run writes itself; a change there does not make the measured code uncommitted.
OWN_OUTPUT = ("bench/results", "docs/performance.md")
UNCOMMITTED = " (with uncommitted changes)"


def _git_commit() -> str:
    """HEAD, marked when the measured code differs from it (the run's own output aside)."""
    excluded = [f":(exclude){path}" for path in OWN_OUTPUT]
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", *excluded], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() + (UNCOMMITTED if dirty.strip() else "")


def save(name: str, data: dict[str, Any], markdown: str) -> Path:
    """bench/results/<name>.json (figures, machine, time) and <name>.md (the printed table)."""
    RESULTS.mkdir(exist_ok=True)
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        name += POSTGRES_SUFFIX
    # The commit measured, so that a summary shows only figures of the code it is stamped with.
    at = datetime.now(UTC).isoformat(timespec="seconds")
    payload = {"benchmark": name, "at": at, "commit": _git_commit(), **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(_clean(payload), indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)
    return path


def _clean(value: Any) -> Any:
    """NaN (no sample) as null: the files stay strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value
