"""The sandbox portal on a phone and a tablet: nothing scrolls sideways, its top bar (brand, menu,
user, language and theme switches) wraps, in the portal's light and dark themes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SandboxPortal

pytestmark = pytest.mark.browser

# What sticks out past the viewport's right edge, and by how much: empty when nothing does.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('.topbar, .topbar *')]
    .filter((e) => e.getBoundingClientRect().right > width + 1)
    .map((e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + (e.id ? '#' + e.id : ''));
  return {sideways: document.documentElement.scrollWidth - width, wide: wide.slice(0, 5)};
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_top_bar_fits_at_360_and_768_px(sandbox: SandboxPortal, chromium: Any, theme: str) -> None:
    from sandbox.models import Deal

    deal = Deal.objects.order_by("id").first()
    assert deal is not None
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(sandbox.url)
    with page.expect_navigation():
        page.locator("#switch-user").select_option("1")  # signed in: the language and theme switches show
    with page.expect_navigation():
        page.locator("#portal-theme").select_option(theme)
    assert page.evaluate("() => document.documentElement.dataset.theme") == theme
    problems = []
    for path in ("", "crm/deal/", f"crm/deal/details/{deal.pk}/", "marketplace/", "faults/"):
        page.goto(sandbox.url + path)
        for width in (360, 768):
            page.set_viewport_size({"width": width, "height": 800})
            measured = page.evaluate(OVERFLOW)
            if measured["wide"] or measured["sideways"] > 0:
                problems.append(f"/{path} at {width}px: the page scrolls sideways: {measured}")
            # Every control of the bar stays usable: none is pushed out of sight or under another.
            for control in ("#switch-user", "#portal-lang", "#portal-theme"):
                box = page.locator(control).bounding_box()
                if box is None or box["x"] < 0 or box["x"] + box["width"] > width + 1:
                    problems.append(f"/{path} at {width}px: {control} is out of view: {box}")
        page.set_viewport_size({"width": 1280, "height": 800})
    context.close()
    assert not problems, "\n".join(problems)
