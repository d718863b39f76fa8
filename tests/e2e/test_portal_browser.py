"""The portal in a real browser: home, the deal card with its sections and an app tab."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import SandboxPortal

pytestmark = pytest.mark.browser


@pytest.fixture
def tab(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def test_a_person_finds_the_deal_card_sections_and_the_apps_tab(sandbox: SandboxPortal, tab: Any) -> None:
    page = tab
    from sandbox.card_layout import effective_layout
    from sandbox.models import App, Deal, PlacementBinding

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sandbox.install_app()
    handler = f"{sandbox.app_url}b24/deal-tab/"
    PlacementBinding.objects.create(
        app=App.objects.get(),
        placement="CRM_DEAL_DETAIL_TAB",
        handler=handler,
        lang_all={"en": {"TITLE": "Deal Desk"}},
    )
    deal = Deal.objects.filter(category_id=0).order_by("id")[0]

    page.goto(sandbox.url)
    assert page.get_by_text("Install Deal Desk from the Marketplace").is_visible()
    assert page.locator(".badge.ok", has_text="Installed").first.is_visible()
    page.screenshot(path="/tmp/portal-home.png", full_page=True)

    page.get_by_role("link", name="Deals", exact=True).click()
    page.get_by_role("link", name=deal.title).first.click()
    page.wait_for_url(f"**/crm/deal/details/{deal.pk}/")

    expected = [s["title"] for s in effective_layout(category_id=0, user_id=1)]
    assert page.locator("#panel-general section[data-section] h2").all_inner_texts() == expected
    app_tab = page.get_by_role("tab", name="Deal Desk")
    assert app_tab.is_visible()
    iframe = page.locator("iframe[data-b24-app]")
    name = iframe.get_attribute("name")
    assert name is not None and name.startswith(f"{sandbox.url.split('/')[2]}|0|")
    form = page.locator(f'form[target="{name}"]')
    assert (form.get_attribute("action") or "").startswith(handler + "?DOMAIN=")
    assert form.locator('input[name="PLACEMENT"]').get_attribute("value") == "CRM_DEAL_DETAIL_TAB"
    assert not iframe.is_visible()  # the tab is loaded only when opened
    page.screenshot(path="/tmp/deal-card.png", full_page=True)

    # Opening the tab POSTs the placement form into the iframe, cross-site, to the handler (§5.3).
    with page.expect_request(lambda request: request.url.startswith(handler)) as posted:
        app_tab.click()
    request = posted.value
    assert request.method == "POST" and request.frame.name == name
    body = request.post_data or ""
    assert "PLACEMENT=CRM_DEAL_DETAIL_TAB" in body and "AUTH_ID=" in body and "APPLICATION_TOKEN=" in body
    assert iframe.is_visible()
    assert page.get_by_role("tab", name="General").get_attribute("aria-selected") == "false"

    with page.expect_navigation():
        page.get_by_label("Signed in as").select_option("3")  # portal.js submits the switcher
    assert page.get_by_text("You are now Sofia Ortiz").is_visible()
    assert errors == []


INSTALLER_PAGE = """<!DOCTYPE html><html><body><p>Installing…</p>
<script src="{portal}bx24.js"></script>
<script>BX24.init(function () {{ BX24.installFinish(); }});</script>
</body></html>"""


@pytest.fixture
def installer_site(sandbox: SandboxPortal) -> Iterator[str]:
    """A stand-in app site (another origin) whose installer page calls BX24.installFinish()."""
    page_html = INSTALLER_PAGE.format(portal=sandbox.url).encode()

    class Installer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the portal's form POST (§5.3)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page_html)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Installer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/install/"
    server.shutdown()
    server.server_close()


def test_installing_from_the_marketplace_finishes_when_the_installer_calls_install_finish(
    sandbox: SandboxPortal, tab: Any, installer_site: str
) -> None:
    page = tab
    from sandbox.models import App

    App.objects.update(install_url=installer_site)
    page.goto(sandbox.url + "marketplace/")
    page.get_by_role("button", name="Install").click()
    page.wait_for_url("**/sandbox/app/*/")
    # bx24.js in the installer asks applayout.js to finish; the portal marks the app installed
    # and the page reloads.
    page.locator('.badge[data-state="installed"]').wait_for(timeout=15_000)
    assert page.get_by_text("Deal Desk is installed.").is_visible()
    app = App.objects.get()
    assert (app.state, app.installed_by_id) == ("installed", 1)
