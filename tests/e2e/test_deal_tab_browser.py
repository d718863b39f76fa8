"""The deal tab in a real browser, through the sandbox portal: installed from the Marketplace,
opened in a deal card by a sales rep, edited and saved; a conflict between two windows; and a
user Bitrix24 does not let change the deal."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import SandboxPortal
from tests.e2e.browser import open_deal_tab, sign_in_as
from tests.widgets.tab_support import deal_of, install, money

pytestmark = pytest.mark.browser


def install_from_marketplace(sandbox: SandboxPortal, page: Any) -> None:
    page.goto(sandbox.url + "marketplace/")
    page.get_by_role("button", name="Install").click()
    page.wait_for_url("**/sandbox/app/*/")
    # The installer (b24/install/) binds the tab, then BX24.installFinish() completes the install.
    page.locator('.badge[data-state="installed"]').wait_for(timeout=20_000)


def footer_total(frame: Any) -> Decimal:
    return money(frame.locator("#grand-total").inner_text())


def test_a_sales_rep_adds_a_catalog_product_and_saves_the_deal(
    sandbox: SandboxPortal, window: Any, fresh: None
) -> None:
    from sandbox.models import Deal, ProductRow

    page = window
    install_from_marketplace(sandbox, page)
    sign_in_as(page, sandbox, 3)
    deal_id = deal_of(3)
    rows_before = ProductRow.objects.filter(deal_id=deal_id).count()
    frame = open_deal_tab(page, sandbox, deal_id)
    assert frame.locator("tbody#editor-rows tr").count() == rows_before
    total_before = footer_total(frame)

    # The keyboard alone: Escape puts a cell back and leaves it, Enter goes down a row.
    first_quantity = frame.locator("#row-0-quantity")
    loaded_quantity = first_quantity.input_value()
    first_quantity.fill("9")
    first_quantity.press("Escape")
    expect_value(first_quantity, loaded_quantity)
    assert not first_quantity.evaluate("input => input === document.activeElement")
    first_quantity.focus()
    first_quantity.press("Enter")
    assert frame.locator("#row-1-quantity").evaluate("input => input === document.activeElement")

    # Search as you type, pick with the arrow keys and Enter.
    search = frame.get_by_label("Add a product")
    search.press_sequentially("CRM Profess", delay=30)
    frame.get_by_role("option", name=re.compile("CRM Professional licence")).wait_for()
    search.press("ArrowDown")
    page.keyboard.press("Enter")
    new_row = frame.locator("tbody#editor-rows tr").nth(rows_before)
    new_row.wait_for()
    assert "CRM Professional licence" in new_row.locator("input[data-cell=name]").input_value()

    quantity = new_row.locator("input[data-cell=quantity]")
    quantity.fill("3")
    quantity.press("Tab")
    discount = new_row.locator("input[data-cell=discount]")
    discount.fill("10")
    discount.press("Enter")
    # 3 x 360.00 with 10 % off: 972.00, recalculated by the server while the inputs stay put.
    expect_text(new_row.locator("td.total"), "$972.00")
    expect_total(frame, total_before + Decimal("972.00"))
    page.screenshot(path="/tmp/deal-tab.png", full_page=True)

    frame.get_by_role("button", name="Save", exact=True).click()
    frame.locator("#save-status").filter(has_text=re.compile(r"^Saved\.")).wait_for()
    deal = Deal.objects.get(pk=deal_id)
    rows = list(ProductRow.objects.filter(deal_id=deal_id).order_by("sort", "id"))
    assert len(rows) == rows_before + 1
    added = rows[-1]
    assert (added.product_name, added.quantity, added.discount_rate) == (
        "CRM Professional licence, 1 user / year",
        Decimal("3"),
        Decimal("10"),
    )
    assert deal.opportunity == footer_total(frame) == total_before + Decimal("972.00")
    assert money(frame.locator("#deal-amount strong").inner_text()) == deal.opportunity
    page.screenshot(path="/tmp/deal-tab-saved.png", full_page=True)
    assert page.errors == []


def expect_value(locator: Any, value: str) -> None:
    from playwright.sync_api import expect

    expect(locator).to_have_value(value, timeout=10_000)


def expect_text(locator: Any, text: str) -> None:
    from playwright.sync_api import expect

    expect(locator).to_have_text(text, timeout=10_000)


def expect_total(frame: Any, amount: Decimal) -> None:
    from playwright.sync_api import expect

    expect(frame.locator("#grand-total")).to_have_text(re.compile(re.escape(f"{amount:,.2f}")), timeout=10_000)


def test_two_windows_saving_the_same_deal_end_in_a_choice_not_a_lost_update(
    sandbox: SandboxPortal, chromium: Any, fresh: None
) -> None:
    from sandbox.models import ProductRow

    install(sandbox)
    deal_id = deal_of(3)
    windows = []
    for user in (3, 2):  # the rep and the sales manager, each in their own browser
        context = chromium.new_context(viewport={"width": 1360, "height": 1000})
        windows.append(context)
        page = context.new_page()
        sign_in_as(page, sandbox, user)
    rep, manager = (w.pages[0] for w in windows)
    rep_tab, manager_tab = open_deal_tab(rep, sandbox, deal_id), open_deal_tab(manager, sandbox, deal_id)

    manager_quantity = manager_tab.locator("#row-0-quantity")
    manager_quantity.fill("5")
    manager_quantity.press("Enter")
    manager_tab.get_by_role("button", name="Save", exact=True).click()
    manager_tab.locator("#save-status").filter(has_text=re.compile(r"^Saved\.")).wait_for()

    rep_quantity = rep_tab.locator("#row-0-quantity")
    rep_quantity.fill("7")
    rep_quantity.press("Enter")
    rep_tab.get_by_role("button", name="Save", exact=True).click()
    rep_tab.get_by_text("Someone else changed these products").wait_for()
    assert rep_tab.get_by_text("Mark Brennan saved a different version").is_visible()
    first = ProductRow.objects.filter(deal_id=deal_id).order_by("sort", "id").first()
    assert first is not None and first.quantity == 5  # nothing was overwritten
    rep.screenshot(path="/tmp/deal-tab-conflict.png", full_page=True)

    rep_tab.get_by_role("button", name="Replace it with mine").click()
    rep_tab.locator("#save-status").filter(has_text=re.compile(r"^Saved\.")).wait_for()
    first.refresh_from_db()
    assert first.quantity == 7
    for context in windows:
        context.close()


def test_a_user_who_may_not_change_the_deal_ends_up_with_a_read_only_tab(
    sandbox: SandboxPortal, window: Any, fresh: None
) -> None:
    from sandbox.models import ProductRow

    page = window
    install(sandbox)
    deal_id = deal_of(3)
    before = list(ProductRow.objects.filter(deal_id=deal_id).values_list("quantity", flat=True))
    sign_in_as(page, sandbox, 5)
    frame = open_deal_tab(page, sandbox, deal_id)
    quantity = frame.locator("#row-0-quantity")
    quantity.fill("42")
    quantity.press("Enter")
    frame.get_by_role("button", name="Save", exact=True).click()
    frame.get_by_text("Bitrix24 does not let you change them").wait_for()
    assert frame.locator("input[data-cell]").count() == 0
    assert list(ProductRow.objects.filter(deal_id=deal_id).values_list("quantity", flat=True)) == before
    page.screenshot(path="/tmp/deal-tab-readonly.png", full_page=True)
    assert page.errors == []
