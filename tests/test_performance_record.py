"""The figures in docs/performance.md are a committed `make bench` run, whole (issue 19).

`make bench` writes bench/results/summary.md and the same text between the `bench:figures` markers
of docs/performance.md (bench/summary.py), stamped with the commit it measured. These checks fail
when the block was edited by hand, comes from uncommitted code, a quick run or a run in which a
benchmark failed, or names a commit that is not in this branch's history. No server is started.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from bench.report import RESULTS, UNCOMMITTED
from bench.summary import DOCS, END, ORDER, START

FIX = "run `make bench` at a committed HEAD and commit bench/results and docs/performance.md"
SUMMARY = RESULTS / "summary.md"
# "...; commit 1a2b3c4. Databases: ..." or "...; commit 1a2b3c4 (with uncommitted changes). ..." (bench/summary.py)
STAMP = re.compile(r"; commit (?P<commit>\S+?)(?P<dirty>" + re.escape(UNCOMMITTED) + r")?\. Databases: ")
MEASURED = re.compile(r"<sub>(?P<name>[\w-]+): measured [^<]*</sub>")


def figures_block() -> str:
    docs = DOCS.read_text()
    assert docs.count(START) == 1 and docs.count(END) == 1, f"docs/performance.md needs one {START} … {END}: {FIX}"
    return docs.split(START, 1)[1].split(END, 1)[0].removeprefix("\n")


def summary() -> str:
    assert SUMMARY.exists(), f"bench/results/summary.md is missing: {FIX}"
    return SUMMARY.read_text()


def stamped_commit() -> str:
    found = STAMP.search(summary())
    assert found, f"bench/results/summary.md names no commit: {FIX}"
    assert not found["dirty"], f"the figures were measured {UNCOMMITTED.strip(' ()')}: {FIX}"
    commit = found["commit"]
    assert re.fullmatch(r"[0-9a-f]{7,40}", commit), f"the figures are stamped 'commit {commit}', not a commit: {FIX}"
    return commit


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=DOCS.parent, capture_output=True, text=True, timeout=30)


def test_the_figures_block_is_the_summary_bench_wrote() -> None:
    assert figures_block() == summary(), f"docs/performance.md's figures differ from bench/results/summary.md: {FIX}"


def test_the_figures_are_stamped_with_a_commit_and_no_uncommitted_changes() -> None:
    stamped_commit()


def test_the_figures_are_of_a_full_run_in_which_every_benchmark_ran() -> None:
    text = summary()
    assert "QUICK RUN" not in text, f"the figures are of a quick run (`python -m bench --quick`): {FIX}"
    assert "failed in the last run" not in text, f"a benchmark failed in the run the figures are from: {FIX}"


def test_every_table_in_the_summary_is_a_result_file_of_the_stamped_commit() -> None:
    text, commit = summary(), stamped_commit()
    names = MEASURED.findall(text)
    missing = sorted(set(ORDER) - set(names))
    assert not missing, f"bench/results/summary.md lacks {', '.join(missing)} measured at its commit: {FIX}"
    for name in names:
        data = json.loads((RESULTS / f"{name}.json").read_text())
        assert data.get("commit") == commit, f"bench/results/{name}.json is of commit {data.get('commit')}: {FIX}"
        assert not data.get("skipped"), f"the {name} benchmark was skipped: {FIX}"
        assert (RESULTS / f"{name}.md").read_text().rstrip() in text, f"bench/results/{name}.md differs: {FIX}"
    machine = json.loads((RESULTS / "machine.json").read_text())
    assert machine["commit"] == commit, f"bench/results/machine.json is of commit {machine['commit']}: {FIX}"


def test_the_stamped_commit_is_in_the_history_of_head() -> None:
    commit = stamped_commit()
    if git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout: the commit of the figures cannot be looked up")
    known = git("cat-file", "-e", f"{commit}^{{commit}}").returncode == 0
    shallow = git("rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    if not known and shallow:
        pytest.skip(f"shallow clone: commit {commit} of the figures is not fetched (git fetch --unshallow)")
    assert known, f"the figures are stamped with commit {commit}, which this repository does not have: {FIX}"
    ancestor = git("merge-base", "--is-ancestor", commit, "HEAD")
    assert ancestor.returncode == 0, f"the figures' commit {commit} is not an ancestor of HEAD: {FIX}"


def test_the_stamp_is_read_as_bench_writes_it() -> None:
    """The pattern above against the sentence bench/summary.py builds, so the checks cannot pass by not matching."""
    clean = "Machine: 2 × CPU, 1 GiB RAM, Python 3.13.0, Linux; commit 1a2b3c4. Databases: SQLite. Cache: x."
    dirty = clean.replace("1a2b3c4.", f"1a2b3c4{UNCOMMITTED}.")
    assert (found := STAMP.search(clean)) and (found["commit"], found["dirty"]) == ("1a2b3c4", None)
    assert (found := STAMP.search(dirty)) and (found["commit"], found["dirty"]) == ("1a2b3c4", UNCOMMITTED)
