"""The card layout page in a real browser, opened from the sandbox portal as its administrator:
edit a funnel's layout, save, see it on a deal card, roll back, see the old one again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.widgets.layout_support import Installed, clean_cache, installed_fixture  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

# The README's picture is refreshed only on request (UPDATE_SCREENSHOTS=1), so a test run never
# changes the working tree.
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "layout-admin.png"


@pytest.fixture
def tab(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 1500})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # "Send version 1 to Bitrix24 again?"
    yield page
    context.close()


def card_sections(page: Any, sandbox_url: str, deal_id: int) -> list[str]:
    page.goto(f"{sandbox_url}crm/deal/details/{deal_id}/")
    return [t.strip() for t in page.locator("#panel-general section[data-section] h2").all_inner_texts()]


def card_fields(page: Any, section: str) -> list[str]:
    rows = page.locator(f'#panel-general section[data-section="{section}"] .field-row')
    return [str(rows.nth(i).get_attribute("data-field")) for i in range(rows.count())]


def open_app(page: Any, sandbox_url: str) -> Any:
    """The app from the portal's app page: an iframe filled by the DEFAULT placement POST."""
    page.goto(f"{sandbox_url}app/1/")
    frame = page.frame_locator("iframe.app-frame")
    frame.get_by_role("heading", name="General").wait_for()
    return frame


def test_an_administrator_edits_saves_sees_the_card_and_rolls_back(installed: Installed, tab: Any) -> None:
    from sandbox.models import Deal

    sandbox_url = installed.sandbox.url
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    deal = Deal.objects.filter(category_id=0).order_by("id").first()
    assert deal is not None
    assert card_sections(tab, sandbox_url, deal.pk) == ["About the deal", "More", "Products"]
    assert card_fields(tab, "main")[:2] == ["TITLE", "OPPORTUNITY_WITH_CURRENCY"]

    frame = open_app(tab, sandbox_url)
    # Move "Amount and currency" above "Title" with the keyboard-usable button.
    frame.get_by_role("button", name="Move Amount and currency up").click()
    frame.get_by_text("“Amount and currency” moved up.").wait_for()
    assert frame.get_by_role("button", name="Move Amount and currency up").is_disabled()
    # Drag "Close Date" to the top of "More".
    frame.locator('li[data-field="CLOSEDATE"]').drag_to(frame.locator('li[data-field="TYPE_ID"]'))
    frame.get_by_text("Fields rearranged.").wait_for()
    # Rename a section: type the new title and press Enter.
    title = frame.get_by_label("Title of section 2")
    title.fill("Details")
    title.press("Enter")
    frame.get_by_text("Unsaved changes", exact=True).wait_for()
    frame.get_by_role("button", name="Preview").click()
    preview = frame.get_by_label("Preview of the deal card")
    preview.wait_for()
    assert preview.locator("h3").all_inner_texts() == ["About the deal", "Details", "Products"]
    tab.screenshot(path="/tmp/layout-admin-preview.png")
    frame.get_by_role("button", name="Edit", exact=True).click()
    frame.get_by_label("Title of section 2").wait_for()

    frame.get_by_role("button", name="Save", exact=True).click()
    frame.get_by_text("Saved as version 2.").wait_for()
    tab.wait_for_timeout(400)  # the frame follows the new height after a short debounce
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        tab.screenshot(path=str(SCREENSHOT), full_page=True)

    assert card_sections(tab, sandbox_url, deal.pk) == ["About the deal", "Details", "Products"]
    assert card_fields(tab, "main")[:2] == ["OPPORTUNITY_WITH_CURRENCY", "TITLE"]
    assert card_fields(tab, "additional")[0] == "CLOSEDATE"

    frame = open_app(tab, sandbox_url)
    history = frame.locator("table.la-versions")
    assert history.locator("tbody tr").count() == 2
    frame.get_by_role("link", name="Changes").first.click()
    frame.get_by_text("Section “More” renamed to “Details”").wait_for()
    history.locator("tbody tr").nth(1).get_by_role("button", name="Roll back").click()
    frame.get_by_text("Rolled back: version 3 restores version 1.").wait_for()

    assert card_sections(tab, sandbox_url, deal.pk) == ["About the deal", "More", "Products"]
    assert card_fields(tab, "main")[:2] == ["TITLE", "OPPORTUNITY_WITH_CURRENCY"]
    assert errors == []


def test_export_downloads_a_json_file_and_no_request_carries_the_token_in_its_url(
    installed: Installed, chromium: Any
) -> None:
    import json

    context = chromium.new_context(viewport={"width": 1280, "height": 1500}, accept_downloads=True)
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    try:
        frame = open_app(page, installed.sandbox.url)
        with page.expect_download() as download_info:
            frame.get_by_role("button", name="Export the saved layout (JSON)").click()
        download = download_info.value
        assert download.suggested_filename == "card-layout-general-saved.json"
        payload = json.loads(Path(download.path()).read_text(encoding="utf-8"))
        assert payload["format"] == "deal-desk.card-layout" and payload["data"]
        # Another funnel, then the people search: htmx sends the token in a header, never a URL.
        frame.get_by_role("link", name="Enterprise").click()
        frame.get_by_role("heading", name="Enterprise").wait_for()
        frame.get_by_label("Find a colleague").fill("an")
        page.wait_for_timeout(800)
    finally:
        context.close()
    assert urls and not [u for u in urls if "widget_token" in u]


def test_with_a_slow_portal_the_layout_page_shows_its_skeleton_then_fills_and_works(
    installed: Installed, tab: Any
) -> None:
    """Bitrix24 answering 3 s late (the sandbox's delay fault): the frame paints the skeleton at
    once, says Bitrix24 is busy after a second, then fills itself with a page whose buttons work
    (the widget token came with the fill)."""
    from tests.widgets.tab_support import sandbox_fault

    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    sandbox_fault(installed.sandbox, delay_ms=3000)
    try:
        tab.goto(f"{installed.sandbox.url}app/1/")
        frame = tab.frame_locator("iframe.app-frame")
        frame.locator(".opening-skeleton").wait_for(state="visible", timeout=10_000)
        assert frame.locator("#editor").count() == 0
        frame.get_by_text("Bitrix24 is busy, loading…").wait_for(state="visible", timeout=5_000)
        frame.locator("#editor").wait_for(timeout=30_000)
    finally:
        sandbox_fault(installed.sandbox, delay_ms=0)
    assert frame.locator(".opening-skeleton").count() == 0
    with tab.expect_response(lambda r: "/layout/edit/" in r.url) as answered:
        frame.locator('button[value="preview"]').click()
    assert answered.value.status == 200
    frame.locator(".la-preview").wait_for()
    assert frame.locator("#session-ended").is_hidden()
    assert errors == []
