"""A rep who clicks Save while the tab is still recalculating their last edit: the save goes
through, and the console stays clean (no htmx error for the recalculation it replaces)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.test_look_browser import Watch, sign_in
from tests.widgets.layout_support import Installed, clean_cache, installed_fixture  # noqa: F401 - fixtures
from tests.widgets.tab_support import deal_of

pytestmark = pytest.mark.browser


def _is_save(response: Any) -> bool:
    return bool(re.search(r"/rows/$", response.url)) and "action=save" in (response.request.post_data or "")


def test_save_clicked_during_a_recalculation_saves_and_logs_nothing(installed: Installed, chromium: Any) -> None:
    from sandbox.models import Deal, ProductRow

    deal = Deal.objects.get(pk=deal_of(0))
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    sign_in(page, installed.sandbox.url, 1)
    page.goto(f"{installed.sandbox.url}crm/deal/details/{deal.pk}/")
    page.get_by_role("tab", name=re.compile("Deal Desk")).click()
    tab = page.frame_locator("iframe[data-b24-app]")
    tab.locator("#products-title").wait_for(timeout=20_000)
    for quantity in ("7", "8", "9"):
        quantity_cell = tab.locator("#row-0-quantity")
        with page.expect_request(re.compile(r"/rows/$")):  # the recalculation is on its way...
            quantity_cell.fill(quantity)
            quantity_cell.dispatch_event("change")
        with page.expect_response(_is_save, timeout=20_000):
            tab.locator('#editor-actions button[value="save"]').click()  # ...and Save comes right after it
        page.wait_for_timeout(600)  # late answers of the replaced request would log now
    row = ProductRow.objects.filter(deal=deal).first()
    context.close()
    assert row is not None and float(row.quantity) == 9, "the last save did not reach Bitrix24"
    assert not watch.problems, "\n".join(watch.problems)
