"""Benchmark 6: from the iframe's POST to a painted and to a usable tab, in Chromium (Playwright).

A sales rep opens one of their deals in the sandbox's deal card and clicks the Deal Desk tab; the
card then POSTs the placement into the tab's iframe. The clock is the iframe document's own: its
time origin is the start of that POST's navigation. The placement POST answers at once with the
frame and a skeleton (first paint); the skeleton's htmx load then fills it with the one opening
batch. "Painted" is the skeleton's first paint (the browser's "first-paint" entry); "usable" is the
editor form in the page with htmx ready. The first open (empty browser cache) is reported apart
from the 20 that follow, and a second series runs with the portal slowed by 3 s (the sandbox's
delay fault), where the skeleton must still paint within 300 ms.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench import report
from bench.portal import deal_with_rows
from bench.stack import Run

NAME = "browser"
RUNS = 20
SLOW_RUNS = 5
SLOW_PORTAL_MS = 3000
USER = 3
# Read from the iframe's own timing entries where they exist (so the figure does not depend on how
# often it is polled): painted = the first paint, which is the skeleton's; usable = the
# moment the filled editor is first seen (polled each animation frame) once DOMContentLoaded
# handlers are done.
READY = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  if (!nav || nav.domContentLoadedEventEnd === 0 || !paint) return false;
  if (!document.querySelector('form#editor') || !window.htmx) return false;
  return {ready: Math.max(nav.domContentLoadedEventEnd, paint.startTime, performance.now()), ttfb: nav.responseStart,
          response_end: nav.responseEnd, dom_content_loaded: nav.domContentLoadedEventEnd,
          paint: paint.startTime, load: nav.loadEventEnd, origin: performance.timeOrigin,
          resources: performance.getEntriesByType('resource').map(
            (r) => [r.name.split('?')[0].split('/').pop(), r.startTime, r.responseEnd])};
}"""
# The skeleton's own paint: the browser's first paint ("first-paint": its shimmering bars are drawn
# shapes, not text, so "first-contentful-paint" would wait for the busy line or the filled tab).
SKELETON = """() => {
  const paint = performance.getEntriesByName('first-paint')[0];
  if (!paint) return false;
  return {paint: paint.startTime, skeleton: !!document.querySelector('.opening-skeleton'),
          editor: !!document.querySelector('form#editor')};
}"""


def _open_once(page: Any, card_url: str) -> dict[str, float]:
    page.goto(card_url, wait_until="load")
    clicked = float(page.evaluate("Date.now()"))
    page.get_by_role("tab", name="Deal Desk").click()
    frame = page.locator("iframe[data-b24-app]").element_handle().content_frame()
    frame.wait_for_url("**/deal-tab/**", wait_until="commit", timeout=30_000)
    painted = frame.wait_for_function(SKELETON, polling="raf", timeout=30_000).json_value()
    timing = frame.wait_for_function(READY, polling="raf", timeout=30_000).json_value()
    return {
        "skeleton_ms": float(painted["paint"]),
        "skeleton_seen": 1.0 if painted["skeleton"] and not painted["editor"] else 0.0,
        "ready_ms": float(timing["ready"]),
        "ttfb_ms": float(timing["ttfb"]),
        "response_end_ms": float(timing["response_end"]),
        "dom_content_loaded_ms": float(timing["dom_content_loaded"]),
        "first_paint_ms": float(timing["paint"]),
        "from_click_ms": float(timing["origin"]) + float(timing["ready"]) - clicked,
        **{f"loaded {name}": float(end) for name, _, end in timing["resources"] if name},
    }


@contextmanager
def _portal_delayed(ms: int) -> Iterator[None]:
    """The sandbox answers every REST request `ms` late (its faults page's delay)."""
    from sandbox.models import Portal

    Portal.objects.update(fault_delay_ms=ms)
    try:
        yield
    finally:
        Portal.objects.update(fault_delay_ms=0)


def _summary(samples: list[dict[str, float]], keys: list[str]) -> dict[str, dict[str, float]]:
    return {
        key: {
            "median": report.median([s[key] for s in samples]),
            "p95": report.percentile([s[key] for s in samples], 95),
        }
        for key in keys
    }


def run(ctx: Run) -> dict[str, Any]:
    from tests.conftest import CHROMIUM, CHROMIUM_ARGS

    if not os.path.exists(CHROMIUM):
        markdown = f"### Browser\n\nSkipped: {CHROMIUM} is missing (apt-get install chromium).\n"
        print(markdown)
        report.save(NAME, {"skipped": True}, markdown)
        return {"skipped": True}
    from playwright.sync_api import sync_playwright

    runs = 5 if ctx.quick else RUNS
    card_url = f"{ctx.config.sandbox_url}crm/deal/details/{deal_with_rows(user=USER)}/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1360, "height": 1000}).new_page()
            page.goto(ctx.config.sandbox_url)
            with page.expect_navigation():
                page.get_by_label("Signed in as").select_option(str(USER))
            first = _open_once(page, card_url)
            samples = [_open_once(page, card_url) for _ in range(runs)]
            page.screenshot(path=str(ctx.config.root / "browser-tab.png"))
            with _portal_delayed(SLOW_PORTAL_MS):
                slow = [_open_once(page, card_url) for _ in range(3 if ctx.quick else SLOW_RUNS)]
        finally:
            browser.close()
    keys = ["skeleton_ms", "ready_ms", "ttfb_ms", "dom_content_loaded_ms", "first_paint_ms", "from_click_ms"]
    summary = _summary(samples, keys)
    slow_summary = _summary(slow, ["skeleton_ms", "ready_ms", "ttfb_ms"])
    slow_summary["skeleton_seen"] = {"all": float(all(s["skeleton_seen"] for s in slow))}
    labels = {
        "skeleton_ms": "POST → first paint (the skeleton)",
        "ready_ms": "POST → tab usable",
        "ttfb_ms": "POST → first byte",
        "dom_content_loaded_ms": "POST → DOMContentLoaded done",
        "first_paint_ms": "POST → first contentful paint",
        "from_click_ms": "click → tab usable",
    }
    markdown = report.table(
        f"In the browser: Chromium, sales rep opening their deal's tab (ms, median of {runs})",
        ["measure", "median", "p95", "first open (empty cache)"],
        [[labels[key], summary[key]["median"], summary[key]["p95"], first[key]] for key in keys],
    )
    markdown += "\n" + report.table(
        f"Portal slowed by {SLOW_PORTAL_MS / 1000:g} s (sandbox delay fault): ms, median of {len(slow)}",
        ["measure", "median", "p95"],
        [
            [labels[key], slow_summary[key]["median"], slow_summary[key]["p95"]]
            for key in ["skeleton_ms", "ttfb_ms", "ready_ms"]
        ],
    )
    markdown += (
        f"\nSkeleton painted before the editor in every slow open: {bool(slow_summary['skeleton_seen']['all'])}\n"
    )
    resources = sorted({key for s in samples for key in s if key.startswith("loaded ")})
    markdown += "\n" + report.table(
        "What the tab page loads: when each file had arrived (ms after the POST, median)",
        ["file", "median", "p95"],
        [
            [
                key.removeprefix("loaded "),
                report.median([s[key] for s in samples if key in s]),
                report.percentile([s[key] for s in samples if key in s], 95),
            ]
            for key in resources
        ],
    )
    print(markdown)
    data = {"runs": runs, "summary": summary, "first": first, "samples": samples, "slow_portal": slow_summary}
    report.save(NAME, data, markdown)
    return data
