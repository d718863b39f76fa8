"""The app's Content-Security-Policy in a real browser: the install page, the deal tab and the card
layout page load and work inside the sandbox portal with not one CSP violation, and the policy
really is enforced there (an injected inline script does not run)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.portal import fresh_app_cache
from tests.conftest import SandboxPortal
from tests.e2e.browser import open_deal_tab, sign_in_as
from tests.e2e.test_deal_tab_browser import install_from_marketplace
from tests.widgets.tab_support import deal_of

pytestmark = pytest.mark.browser
POLL_SECONDS = 2

# Runs in every frame before its own scripts (Playwright injects it past the page's CSP): each
# violation the browser reports becomes a console line the test collects.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const blocked = event.blockedURI || "inline";
  console.error(`CSP violation: ${event.effectiveDirective} blocked ${blocked} in ${event.documentURI}`);
});
"""


class Browser:
    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        self.errors: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def violations(self) -> list[str]:
        return [line for line in self.console if "CSP violation" in line or "Content Security Policy" in line]


@pytest.fixture
def browser(chromium: Any, settings: Any) -> Iterator[Browser]:
    settings.DEAL_DESK_VERSION_POLL_SECONDS = POLL_SECONDS
    with fresh_app_cache(settings):
        context = chromium.new_context(viewport={"width": 1360, "height": 1000})
        context.add_init_script(REPORT_VIOLATIONS)
        yield Browser(context.new_page())
        context.close()


def test_install_deal_tab_and_layout_page_run_with_no_csp_violation(sandbox: SandboxPortal, browser: Browser) -> None:
    from playwright.sync_api import expect

    page = browser.page
    # The install page, in the marketplace's frame: BX24.js and install.js run (installFinish).
    install_from_marketplace(sandbox, page)

    # The deal tab: htmx GETs and POSTs, the catalog listbox, the stage colour, the notice.
    sign_in_as(page, sandbox, 3)
    frame = open_deal_tab(page, sandbox, deal_of(3))
    stage = frame.locator(".tab-header .stage[data-stage-color]")
    expect(stage).to_have_count(1)
    colour = stage.get_attribute("data-stage-color")
    assert stage.evaluate("el => getComputedStyle(el).getPropertyValue('--stage').trim()") == colour
    search = frame.get_by_label("Add a product")
    search.press_sequentially("CRM Profess", delay=30)
    frame.get_by_role("option", name=re.compile("CRM Professional licence")).wait_for()
    rows = frame.locator("tbody#editor-rows tr")
    rows_before = rows.count()
    search.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(rows).to_have_count(rows_before + 1)
    expect(rows.nth(rows_before).locator("input[data-cell=name]")).to_have_value(re.compile("CRM Professional"))
    quantity = frame.locator("#row-0-quantity")
    quantity.fill("7")
    quantity.press("Enter")
    frame.locator("#editor-actions").get_by_text("Unsaved changes").wait_for()

    manager = page.context.new_page()
    manager.goto(f"{sandbox.url}crm/deal/details/{deal_of(3)}/")
    manager.get_by_role("link", name="Edit").click()
    manager.get_by_label("Title").fill("Renamed by the manager")
    manager.get_by_role("button", name="Save").click()
    manager.wait_for_url(re.compile(r"/crm/deal/details/\d+/$"))
    manager.close()
    notice = frame.locator("#freshness .notice")
    expect(notice.filter(has_text="This deal was changed elsewhere.")).to_be_visible(
        timeout=(2 * POLL_SECONDS + 3) * 1000
    )
    frame.get_by_role("button", name="Keep editing").click()  # an htmx POST now
    expect(notice).to_be_hidden()
    assert quantity.input_value() == "7"

    # The card layout page from the portal's app menu, and an htmx swap on it.
    sign_in_as(page, sandbox, 1)
    page.goto(f"{sandbox.url}app/1/")
    layout = page.frame_locator("iframe.app-frame")
    layout.get_by_role("heading", name="General").wait_for()
    layout.get_by_role("button", name="Move Amount and currency up").click()
    layout.get_by_text("“Amount and currency” moved up.").wait_for()
    page.wait_for_timeout(300)  # violations are reported asynchronously

    assert browser.violations() == [], browser.console
    assert browser.errors == []


def test_the_policy_is_enforced_in_the_tab(sandbox: SandboxPortal, browser: Browser) -> None:
    """Zero violations above means nothing, unless the browser really applies the policy."""
    page = browser.page
    install_from_marketplace(sandbox, page)
    sign_in_as(page, sandbox, 3)
    frame = open_deal_tab(page, sandbox, deal_of(3))
    frame.locator("body").evaluate(
        """body => {
          const div = document.createElement("div");
          div.innerHTML = '<img src="x" onerror="window.__injected = true">';
          body.appendChild(div);
        }"""
    )
    page.wait_for_timeout(500)
    assert frame.locator("body").evaluate("() => window.__injected === true") is False
    assert any("script-src" in line or "script-src-attr" in line for line in browser.violations()), browser.console
