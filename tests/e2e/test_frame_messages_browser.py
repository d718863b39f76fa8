"""The sandbox portal's parent side of the app frame (sandbox/static/sandbox/applayout.js) in a real
Chromium, answering messages the way Bitrix24's `BX.rest.AppLayout` (rest module
install/js/rest/applayout.js, app.layout template) does, and the version switches of the faults page.

A stand-in app site on another origin is framed by the real sandbox portal (live_server); the
tests post raw messages from inside the frame, as the official SDKs do, and read the replies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests

from tests.conftest import SandboxPortal

pytestmark = pytest.mark.browser

# The stand-in app page keeps every reply from the parent and knows its APP_SID from window.name.
APP_PAGE = b"""<!DOCTYPE html><html><body style="height: 3000px"><p>Stand-in app</p>
<script>
window.__replies = [];
window.__loaded = Date.now();
window.__sid = window.name.split('|')[2];
window.addEventListener('message', (event) => window.__replies.push(String(event.data)));
</script></body></html>"""

NEWER_FIELDS = {"SERVER_ENDPOINT", "APPLICATION_TOKEN", "APPLICATION_SCOPE"}


@dataclass
class AppSite:
    url: str
    posts: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def app_site() -> Iterator[AppSite]:
    """Answers the portal's form POST (§5.3) with APP_PAGE and records the posted fields."""
    site = AppSite(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            site.posts.append(dict(parse_qsl(body, keep_blank_values=True)))
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(APP_PAGE)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    site.url = f"http://127.0.0.1:{server.server_address[1]}/app/"
    yield site
    server.shutdown()
    server.server_close()


@pytest.fixture
def tab(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 700})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def open_main_page(sandbox: SandboxPortal, tab: Any, app_site: AppSite) -> Any:
    """The app's DEFAULT page in the portal, framing the stand-in site; returns the app frame."""
    from sandbox.models import App

    sandbox.install_app()
    App.objects.update(handler_url=app_site.url)
    app = App.objects.get()
    tab.goto(f"{sandbox.url}app/{app.pk}/")
    return wait_for_app(tab)


def open_deal_tab(sandbox: SandboxPortal, tab: Any, app_site: AppSite) -> Any:
    """The app's CRM_DEAL_DETAIL_TAB in a deal card, opened; returns the app frame."""
    from sandbox.models import Deal, PlacementBinding

    app = sandbox.install_app()
    PlacementBinding.objects.get_or_create(
        app=app,
        placement="CRM_DEAL_DETAIL_TAB",
        handler=app_site.url,
        defaults={"lang_all": {"en": {"TITLE": "Stand-in"}}},
    )
    deal = Deal.objects.order_by("id")[0]
    tab.goto(f"{sandbox.url}crm/deal/details/{deal.pk}/")
    tab.get_by_role("tab", name="Stand-in").click()
    return wait_for_app(tab)


def wait_for_app(tab: Any) -> Any:
    iframe = tab.locator("iframe[data-b24-app]")
    iframe.wait_for(state="attached")
    name = iframe.get_attribute("name")
    frame = tab.frame(name=name)
    assert frame is not None
    frame.wait_for_function("() => window.__sid !== undefined")
    return frame


def post(frame: Any, message: Any) -> None:
    """parent.postMessage(message) from inside the app frame; `{sid}` in a string is the APP_SID."""
    frame.evaluate(
        """(message) => {
          const sid = window.__sid;
          const data = typeof message === 'string' ? message.replaceAll('{sid}', sid)
            : { ...message, appSid: message.appSid === '{sid}' ? sid : message.appSid };
          parent.postMessage(data, '*');
        }""",
        message,
    )


def reply(frame: Any, callback: str) -> Any:
    """The parsed reply for `callback`, once it has arrived."""
    frame.wait_for_function("(id) => window.__replies.some((r) => r.startsWith(id + ':'))", arg=callback)
    raw = frame.evaluate("(id) => window.__replies.find((r) => r.startsWith(id + ':'))", callback)
    payload = raw[len(callback) + 1 :]
    return json.loads(payload) if payload else None


def replied(frame: Any, callback: str) -> bool:
    return bool(frame.evaluate("(id) => window.__replies.some((r) => r.startsWith(id + ':'))", callback))


def set_switches(sandbox: SandboxPortal, **switches: bool) -> None:
    response = requests.post(f"{sandbox.url}faults.json", json=switches, timeout=10)
    assert response.status_code == 200, response.text
    assert {name: response.json()[name] for name in switches} == switches


# --- message shapes ---------------------------------------------------------------------------------


def test_a_three_part_message_without_parameters_is_answered(
    sandbox: SandboxPortal, tab: Any, app_site: AppSite
) -> None:
    """b24jssdk frame/message/controller.ts MessageManager.send drops empty parts, so getInitData
    goes out as "getInitData:<callback>:<APP_SID>"; applayout.js splits it as command / callback /
    sid with no parameters. Expected: the reply "<callback>:{...}" with the init data."""
    frame = open_main_page(sandbox, tab, app_site)
    post(frame, "getInitData:cb3parts:{sid}")
    init = reply(frame, "cb3parts")
    assert init["PLACEMENT"] == "DEFAULT" and init["AUTH_ID"] and init["MEMBER_ID"]


def test_an_object_message_is_answered(sandbox: SandboxPortal, tab: Any, app_site: AppSite) -> None:
    """b24jssdk MessageManager.send posts {method, params, callback, appSid} for a command that
    contains ':'; the parent reads the same fields. Expected: getInitData with params '' answers
    the init data; resizeWindow with an object of params resizes the frame and answers its size."""
    frame = open_main_page(sandbox, tab, app_site)
    post(frame, {"method": "getInitData", "params": "", "callback": "cbobject", "appSid": "{sid}"})
    assert reply(frame, "cbobject")["PLACEMENT"] == "DEFAULT"
    params = {"width": "100%", "height": 987}
    post(frame, {"method": "resizeWindow", "params": params, "callback": "cbsize", "appSid": "{sid}"})
    assert reply(frame, "cbsize")["height"] == 987
    post(frame, {"method": "getInitData", "params": "", "callback": "cbwrongsid", "appSid": "not-the-sid"})
    post(frame, "getInitData:cbafter:{sid}")
    reply(frame, "cbafter")
    assert not replied(frame, "cbwrongsid")


def test_a_message_whose_parameters_are_not_json_gets_no_answer(
    sandbox: SandboxPortal, tab: Any, app_site: AppSite
) -> None:
    """applayout.js JSON.parse of the parameters throws, so the command never runs. Expected: no
    reply and no resize for 'resizeWindow:{height:777:<cb>:<sid>'; a valid message after it is
    answered, and the frame keeps its height."""
    frame = open_main_page(sandbox, tab, app_site)
    height = tab.locator("iframe[data-b24-app]").evaluate("(el) => el.offsetHeight")
    post(frame, "resizeWindow:{height:777,width:'100%'}:cbbroken:{sid}")
    post(frame, "getInitData::cbnext:{sid}")
    reply(frame, "cbnext")
    assert not replied(frame, "cbbroken")
    assert tab.locator("iframe[data-b24-app]").evaluate("(el) => el.offsetHeight") == height


def test_install_finish_with_value_false_leaves_the_app_not_installed(
    sandbox: SandboxPortal, tab: Any, app_site: AppSite
) -> None:
    """applayout.js setInstallFinish posts value N for {value: false}, and the portal stores
    INSTALLED=N. Expected: the page reloads into the installer again and the app is not installed;
    a second call without value:false then installs it."""
    from sandbox.models import App

    App.objects.update(install_url=app_site.url, state=App.State.INSTALLING)
    app = App.objects.get()
    tab.goto(f"{sandbox.url}app/{app.pk}/")
    frame = wait_for_app(tab)
    with tab.expect_navigation():
        post(frame, 'setInstallFinish:{"value":false}::{sid}')
    assert App.objects.get().state == App.State.INSTALLING
    frame = wait_for_app(tab)
    with tab.expect_navigation():
        post(frame, "setInstallFinish:{}::{sid}")
    assert App.objects.get().state == App.State.INSTALLED


# --- version switches -----------------------------------------------------------------------------


def test_inside_a_placement_set_scroll_and_reload_window_work_as_on_the_current_cloud(
    sandbox: SandboxPortal, tab: Any, app_site: AppSite
) -> None:
    """Bitrix24 docs (reloadWindow and scrollParentWindow allowed in placements since rest
    25.800.0, bitrix24-protocol.md §5.3 item 4). Expected with the switch off: setScroll is
    echoed and scrolls the portal page; reloadWindow reloads it."""
    frame = open_deal_tab(sandbox, tab, app_site)
    post(frame, 'setScroll:{"scroll":120}:cbscroll:{sid}')
    assert reply(frame, "cbscroll") == {"scroll": 120}
    tab.wait_for_function("() => window.scrollY === 120")
    with tab.expect_navigation():
        post(frame, "reloadWindow::cbreload:{sid}")


def test_the_older_portal_switch_ignores_set_scroll_and_reload_window_in_a_placement(
    sandbox: SandboxPortal, tab: Any, app_site: AppSite
) -> None:
    """Older app.layout (applayout.js before rest 25.800.0) denies setScroll and reloadWindow for
    any placement but DEFAULT, silently. Expected with older_placement_commands on: no echo, no
    scroll, no reload; a later getInitData is still answered; the DEFAULT page keeps setScroll."""
    set_switches(sandbox, older_placement_commands=True)
    frame = open_deal_tab(sandbox, tab, app_site)
    loaded = frame.evaluate("() => window.__loaded")
    post(frame, 'setScroll:{"scroll":120}:cbscroll:{sid}')
    post(frame, "reloadWindow::cbreload:{sid}")
    post(frame, "getInitData::cbafter:{sid}")
    assert reply(frame, "cbafter")["PLACEMENT"] == "CRM_DEAL_DETAIL_TAB"
    tab.wait_for_timeout(300)
    assert not replied(frame, "cbscroll") and tab.evaluate("() => window.scrollY") == 0
    assert frame.evaluate("() => window.__loaded") == loaded
    main = open_main_page(sandbox, tab, app_site)
    post(main, 'setScroll:{"scroll":0}:cbmain:{sid}')
    assert reply(main, "cbmain") == {"scroll": 0}


def test_the_older_portal_switch_posts_the_form_without_the_newer_fields(
    sandbox: SandboxPortal, tab: Any, app_site: AppSite
) -> None:
    """bitrix24-protocol.md §5.2: the older app.layout template posts AUTH_ID, AUTH_EXPIRES,
    REFRESH_ID, member_id, status, PLACEMENT, PLACEMENT_OPTIONS only. Expected: the current form
    carries SERVER_ENDPOINT, APPLICATION_TOKEN, APPLICATION_SCOPE; with older_placement_form on the
    deal tab's POST has none of them and still everything else."""
    open_deal_tab(sandbox, tab, app_site)
    assert set(app_site.posts[-1]) >= NEWER_FIELDS
    set_switches(sandbox, older_placement_form=True)
    open_deal_tab(sandbox, tab, app_site)
    posted = app_site.posts[-1]
    assert not NEWER_FIELDS & set(posted)
    assert {"AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID", "member_id", "status", "PLACEMENT", "PLACEMENT_OPTIONS"} <= set(
        posted
    )


def test_the_faults_page_offers_the_version_switches(sandbox: SandboxPortal) -> None:
    """The sandbox's own page (docs/sandbox.md "Version switches"). Expected: both switches are on
    the faults page, off by default, and faults.json reports them."""
    page = requests.get(f"{sandbox.url}faults/", timeout=10).text
    assert 'name="older_placement_commands"' in page and 'name="older_placement_form"' in page
    state = requests.get(f"{sandbox.url}faults.json", timeout=10).json()
    assert (state["older_placement_commands"], state["older_placement_form"]) == (False, False)
    bad = requests.post(f"{sandbox.url}faults.json", json={"older_placement_form": "yes"}, timeout=10)
    assert bad.status_code == 400
    # A person ticks one on the page: it is saved and said so.
    with requests.Session() as person:
        person.get(f"{sandbox.url}faults/", timeout=10)
        form = {"csrfmiddlewaretoken": person.cookies["csrftoken"], "fault": "", "fault_delay_ms": "0"}
        saved = person.post(f"{sandbox.url}faults/", data={**form, "older_placement_commands": "on"}, timeout=10)
    assert saved.status_code == 200 and "setScroll/reloadWindow ignored in placements" in saved.text
    state = requests.get(f"{sandbox.url}faults.json", timeout=10).json()
    assert (state["older_placement_commands"], state["older_placement_form"]) == (True, False)
