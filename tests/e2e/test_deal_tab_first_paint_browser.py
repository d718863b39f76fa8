"""The deal tab's first paint in a real browser (issue 17): with the portal answering 3 s late
(the sandbox's delay fault), the tab's frame shows the skeleton first, then fills itself with the
editor, which works (its widget token and tab id came with the fill)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SandboxPortal
from tests.e2e.browser import sign_in_as
from tests.widgets.tab_support import deal_of, install, sandbox_fault

pytestmark = pytest.mark.browser


def test_a_slow_portal_shows_the_skeleton_first_then_the_filled_tab(
    sandbox: SandboxPortal, window: Any, fresh: None
) -> None:
    page = window
    install(sandbox)
    deal_id = deal_of(3)
    sign_in_as(page, sandbox, 3)
    page.goto(f"{sandbox.url}crm/deal/details/{deal_id}/")
    sandbox_fault(sandbox, delay_ms=3000)
    try:
        page.get_by_role("tab", name="Deal Desk").click()
        frame = page.frame_locator("iframe[data-b24-app]")
        # The skeleton is painted while the portal still holds the opening batch.
        frame.locator(".opening-skeleton").wait_for(state="visible", timeout=10_000)
        assert frame.locator("#products-title").count() == 0
        # After a second the calm busy line shows (CSS only); no Retry yet.
        busy = frame.get_by_text("Bitrix24 is busy, loading…")
        busy.wait_for(state="visible", timeout=5_000)
        assert not frame.get_by_role("button", name="Retry").is_visible()
        # Then the tab fills itself.
        frame.locator("#products-title").wait_for(timeout=30_000)
    finally:
        sandbox_fault(sandbox, delay_ms=0)
    assert frame.locator(".opening-skeleton").count() == 0
    # The filled tab works: a recalculation goes out with the widget token the fill brought.
    quantity = frame.locator("#row-0-quantity")
    with page.expect_response(lambda r: "/rows/" in r.url and r.request.method == "POST") as answered:
        quantity.fill("7")
        quantity.press("Enter")
    response = answered.value
    assert response.status == 200
    assert response.request.headers.get("x-widget-token") and response.request.headers.get("x-deal-tab")
    assert frame.locator("#session-notice").is_hidden()
    assert page.errors == []
