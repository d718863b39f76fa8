"""What the browser tests share: a watched window, signing in to the sandbox portal, opening the deal tab."""

from __future__ import annotations

from typing import Any

from tests.conftest import SandboxPortal


def watched_page(chromium: Any) -> Any:
    """A page in a context of its own (1360×1000); its uncaught script errors collect in `page.errors`."""
    context = chromium.new_context(viewport={"width": 1360, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return page


def sign_in_as(page: Any, sandbox: SandboxPortal, user_id: int) -> None:
    """The portal's user switcher: the next pages are seen as `user_id`."""
    page.goto(sandbox.url)
    with page.expect_navigation():
        page.get_by_label("Signed in as").select_option(str(user_id))


def open_deal_tab(page: Any, sandbox: SandboxPortal, deal_id: int) -> Any:
    """The deal card's Deal Desk tab, once its editor is there: the frame to drive."""
    page.goto(f"{sandbox.url}crm/deal/details/{deal_id}/")
    page.get_by_role("tab", name="Deal Desk").click()
    frame = page.frame_locator("iframe[data-b24-app]")
    frame.locator("#products-title").wait_for(timeout=20_000)
    return frame
