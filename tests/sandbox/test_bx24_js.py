"""BX24.js (app side) and applayout.js (portal side) talking to each other in a real Chromium.

Protocol reference §5.3-5.7: the portal frames the app, the two sides speak postMessage across
origins, and BX24.callMethod POSTs form-encoded text/plain to the portal's REST endpoint.

No Django view is involved: two plain http.server instances play the portal
(http://localhost:<p1>, also the REST and refresh/install/option endpoints) and the app handler
(http://127.0.0.1:<p2>), serving small pages generated into a tmp dir.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from playwright.sync_api import Browser, Frame, Page

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "sandbox" / "static" / "sandbox"
APP_SID = "5552d735db7b7b4d5c16dd9c272bfe7d"
CSRF_TOKEN = "csrf-from-the-cookie"
VALID_TOKENS = {"good-token", "fresh-token"}
EXPIRED_TOKENS = {"stale-token", "still-stale-token"}
FRESH_AUTH = {"AUTH_ID": "fresh-token", "AUTH_EXPIRES": "3600", "REFRESH_ID": "refresh-2"}

# The portal page records what applayout.js does, and sets the CSRF cookie it must forward.
OBSERVER_JS = f"""'use strict';
document.cookie = 'csrftoken={CSRF_TOKEN}; path=/';
window.__b24Messages = [];
window.__rawMessages = [];
document.addEventListener('b24:message', (event) => window.__b24Messages.push(event.detail));
window.addEventListener('message', (event) => {{
  window.__rawMessages.push({{ origin: event.origin, data: event.data }});
}});
"""

# The app page keeps what BX24.init delivered.
APP_HARNESS_JS = """'use strict';
window.__b24Init = null;
BX24.init(() => {
  window.__b24Init = { now: Date.now(), placement: BX24.placement.info(), auth: BX24.getAuth() };
});
"""

APP_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>app</title></head>
<body><div style="height: 900px">Deal Desk tab</div>
<script src="/bx24.js"></script><script src="/app-harness.js"></script></body></html>
"""

PORTAL_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>portal</title></head>
<body>
<h1 data-b24-title>Deal #8061</h1>
<form data-b24-autosubmit method="post" target="{name}" action="{action}" hidden>{inputs}</form>
<iframe data-b24-app name="{name}" data-app-origin="{app_origin}" data-app-sid="{sid}"
        data-init="{init}" data-refresh-url="/refresh" data-install-finish-url="/install-finish"
        data-option-url="/option" style="display: block; width: 100%; height: 200px; border: 0">
</iframe>
<script src="/observer.js"></script>
<script src="/applayout.js"></script>
</body></html>
"""


# ------------------------------------------------------------------------------- fake portal


def envelope(result: Any, **extra: Any) -> dict[str, Any]:
    return {"result": result, "time": {"start": 1.0, "finish": 1.01, "duration": 0.01}, **extra}


def rest_answer(method: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Just enough of §3 for the library: auth errors, legacy CRM errors, a list, a batch."""
    token = params.pop("auth", "")
    if token in EXPIRED_TOKENS:
        return 401, {
            "error": "expired_token",
            "error_description": "The access token provided has expired",
        }
    if token not in VALID_TOKENS:
        return 401, {"error": "invalid_token", "error_description": "Unable to get application by token"}
    if method == "echo":
        return 200, envelope(params)
    if method == "crm.deal.get":
        if params.get("id") == "5":
            return 200, envelope({"ID": "5", "TITLE": "Five"})
        return 400, {"error": "", "error_description": "Not found"}
    if method == "list":
        start = int(params.get("start", "0"))
        items = ["a", "b", "c"][start : start + 2]
        return 200, envelope(items, total=3, **({"next": start + 2} if start + 2 < 3 else {}))
    if method == "batch":
        return 200, envelope(batch_answer(token, params))
    return 404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}


def batch_answer(token: str, params: dict[str, str]) -> dict[str, Any]:
    buckets: dict[str, dict[str, Any]] = {
        "result": {},
        "result_error": {},
        "result_total": {},
        "result_next": {},
    }
    for key, command in params.items():
        name = re.fullmatch(r"cmd\[(.+)\]", key)
        if not name:
            continue
        method, _, query = command.partition("?")
        status, answer = rest_answer(method, {"auth": token, **dict(parse_qsl(query))})
        if status >= 400:
            buckets["result_error"][name[1]] = answer
            continue
        buckets["result"][name[1]] = answer["result"]
        for field_name in ("total", "next"):
            if field_name in answer:
                buckets[f"result_{field_name}"][name[1]] = answer[field_name]
    return buckets


@dataclass
class Portal:
    """Both servers and what they received; one per test (the servers are per module)."""

    root: Path
    portal_origin: str
    app_origin: str
    evil_origin: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    refresh_answer: dict[str, str] = field(default_factory=lambda: dict(FRESH_AUTH))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, **request: Any) -> None:
        with self.lock:
            self.requests.append(request)

    def received(self, path: str, method: str = "POST") -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path and r["method"] == method]

    def write_portal_page(self, **init_overrides: Any) -> str:
        host = self.portal_origin.removeprefix("http://")
        init: dict[str, Any] = {
            "LANG": "en",
            "DOMAIN": host,
            "PROTOCOL": 0,
            "PATH": "/rest",
            "AUTH_ID": "good-token",
            "AUTH_EXPIRES": "3600",
            "REFRESH_ID": "refresh-1",
            "MEMBER_ID": "member-1",
            "FIRST_RUN": False,
            "IS_ADMIN": True,
            "INSTALL": False,
            "USER_OPTIONS": [],
            "APP_OPTIONS": {},
            "PLACEMENT": "CRM_DEAL_DETAIL_TAB",
            # As the portal's form posts it (§5.2): a JSON string; both sides must parse it.
            "PLACEMENT_OPTIONS": json.dumps({"ID": "8061"}),
            **init_overrides,
        }
        fields = {
            "AUTH_ID": init["AUTH_ID"],
            "AUTH_EXPIRES": init["AUTH_EXPIRES"],
            "REFRESH_ID": init["REFRESH_ID"],
            "member_id": init["MEMBER_ID"],
            "status": "L",
            "PLACEMENT": init["PLACEMENT"],
            "PLACEMENT_OPTIONS": init["PLACEMENT_OPTIONS"],
        }
        inputs = "".join(f'<input type="hidden" name="{k}" value="{html.escape(str(v))}">' for k, v in fields.items())
        page = PORTAL_HTML.format(
            name=html.escape(f"{host}|0|{APP_SID}"),
            action=html.escape(f"{self.app_origin}/app.html?DOMAIN={host}&PROTOCOL=0&LANG=en&APP_SID={APP_SID}"),
            inputs=inputs,
            app_origin=self.app_origin,
            sid=APP_SID,
            init=html.escape(json.dumps(init)),
        )
        name = f"portal-{len(list(self.root.glob('portal-*.html')))}.html"
        (self.root / name).write_text(page)
        return f"{self.portal_origin}/{name}"


class Handler(SimpleHTTPRequestHandler):
    portal: Portal

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        # §3.3: the REST endpoint answers any origin.
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    def do_OPTIONS(self) -> None:
        # A preflight would mean BX24.js set a non-simple header; recorded so tests can object.
        self.portal.record(method="OPTIONS", path=urlsplit(self.path).path, headers={}, body="")
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "origin, content-type, accept")
        self.end_headers()

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.portal.record(
            method="POST",
            path=url.path,
            query=url.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        if url.path.startswith("/rest/") and url.path.endswith(".json"):
            method = url.path.removeprefix("/rest/").removesuffix(".json")
            self.send_json(*rest_answer(method, dict(parse_qsl(body, keep_blank_values=True))))
        elif url.path == "/refresh":
            self.send_json(200, self.portal.refresh_answer)
        elif url.path in ("/install-finish", "/option"):
            self.send_json(200, {"ok": True})
        elif url.path == "/app.html":
            # The portal's hidden form POSTs the handler (§5.3); answer with the app page.
            page = APP_HTML.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
        else:
            self.send_error(404)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    root = tmp_path_factory.mktemp("bx24")
    for name in ("bx24.js", "applayout.js"):
        shutil.copy(STATIC / name, root / name)
    (root / "observer.js").write_text(OBSERVER_JS)
    (root / "app-harness.js").write_text(APP_HARNESS_JS)
    (root / "app.html").write_text(APP_HTML)
    (root / "evil.html").write_text("<!doctype html><title>evil</title>")
    (root / "lonely.html").write_text('<!doctype html><script src="/bx24.js"></script>')

    handler: type[Handler] = type("BoundHandler", (Handler,), {})
    portal_server = ThreadingHTTPServer(("localhost", 0), partial(handler, directory=str(root)))
    app_server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    p1, p2 = portal_server.server_address[1], app_server.server_address[1]
    portal = Portal(
        root=root,
        portal_origin=f"http://localhost:{p1}",
        app_origin=f"http://127.0.0.1:{p2}",
        # Same server as the portal, but another origin for the browser.
        evil_origin=f"http://127.0.0.1:{p1}",
    )
    handler.portal = portal
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in (portal_server, app_server)]
    for thread in threads:
        thread.start()
    yield portal
    for server in (portal_server, app_server):
        server.shutdown()
        server.server_close()


@pytest.fixture
def portal(servers: Portal) -> Portal:
    with servers.lock:
        servers.requests.clear()
    servers.refresh_answer = dict(FRESH_AUTH)
    return servers


@pytest.fixture
def tab(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def open_app(tab: Page, portal: Portal, **init_overrides: Any) -> Frame:
    """Open a portal page and return the app frame once BX24.init has run."""
    tab.goto(portal.write_portal_page(**init_overrides))
    frame = tab.frame(name=f"{portal.portal_origin.removeprefix('http://')}|0|{APP_SID}")
    assert frame is not None
    frame.wait_for_url(re.compile(r"/app\.html\?"))
    frame.wait_for_function("() => window.__b24Init !== null && window.__b24Init !== undefined")
    return frame


def iframe_height(tab: Page) -> int:
    height: int = tab.locator("iframe[data-b24-app]").evaluate("(el) => el.offsetHeight")
    return height


def commands_seen(tab: Page) -> list[str]:
    commands: list[str] = tab.evaluate("() => window.__b24Messages.map((m) => m.command)")
    return commands


CALL = """([method, params]) => new Promise((resolve) => BX24.callMethod(method, params, (r) => {
  const e = r.error();
  resolve({
    data: r.data() ?? null,
    error: e ? { status: e.status, ex: e.ex, text: String(e) } : null,
    description: r.error_description() ?? null,
  });
}))"""


# ------------------------------------------------------------------------------------ tests


def test_init_delivers_the_portal_data_with_parsed_placement_options(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal)
    init = frame.evaluate("window.__b24Init")

    assert init["placement"] == {"placement": "CRM_DEAL_DETAIL_TAB", "options": {"ID": "8061"}}
    assert commands_seen(tab)[0] == "getInitData"
    # The handler was opened by the portal's auto-submitted form, as in §5.3.
    form_post = portal.received("/app.html")[-1]
    assert parse_qs(form_post["query"])["APP_SID"] == [APP_SID]
    assert parse_qs(form_post["body"])["PLACEMENT"] == ["CRM_DEAL_DETAIL_TAB"]


def test_get_auth_reports_expires_in_as_an_absolute_millisecond_timestamp(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal)
    init = frame.evaluate("window.__b24Init")
    auth = init["auth"]

    assert auth["access_token"] == "good-token"
    assert auth["refresh_token"] == "refresh-1"
    assert auth["member_id"] == "member-1"
    assert auth["domain"] == portal.portal_origin.removeprefix("http://")
    assert init["now"] + 3_600_000 - 10_000 <= auth["expires_in"] <= init["now"] + 3_600_000


def test_outside_a_portal_frame_the_library_refuses_to_start(tab: Page, portal: Portal) -> None:
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(error.message))
    tab.goto(f"{portal.app_origin}/lonely.html")

    assert tab.evaluate("() => window.BX24") is None
    assert errors == ["Unable to initialize Bitrix24 JS library!"]


def test_fit_window_resizes_the_iframe_in_the_portal_to_the_app_content(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal)
    assert iframe_height(tab) == 200

    reply = frame.evaluate("() => new Promise((resolve) => BX24.fitWindow(resolve))")

    height = iframe_height(tab)
    assert height >= 900
    assert reply["height"] == height
    assert frame.evaluate("() => BX24.getScrollSize().scrollHeight") == height


def test_messages_with_another_app_sid_or_from_another_origin_are_ignored(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal)

    # Same window and origin, wrong APP_SID; the genuine resize after it arrives in order.
    frame.evaluate(
        """() => {
          parent.postMessage('resizeWindow:{"width":"100%","height":1111}::not-the-sid', '*');
          BX24.resizeWindow(500, 333);
        }"""
    )
    tab.wait_for_function("() => document.querySelector('iframe').offsetHeight === 333")

    # The app frame navigated to another origin still knows the SID from window.name.
    frame.evaluate(f"() => {{ location.href = '{portal.evil_origin}/evil.html'; }}")
    frame.wait_for_url(f"{portal.evil_origin}/evil.html")
    frame.evaluate(
        """() => parent.postMessage(
          'resizeWindow:{"width":"100%","height":1234}::' + window.name.split('|')[2], '*')"""
    )
    tab.wait_for_function("() => window.__rawMessages.some((m) => String(m.data).includes('1234'))")

    assert iframe_height(tab) == 333
    heights = tab.evaluate("() => window.__b24Messages.map((m) => m.params.height)")
    assert 1111 not in heights
    assert 1234 not in heights


def test_call_method_posts_a_form_encoded_body_without_a_content_type(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal)
    params = {
        "id": 5,
        "fields": {"TITLE": "A&B [x]", "TAGS": ["a", "b"], "EMPTY": [], "GONE": None},
        "start": 50,  # §4.5 quirk: a truthy start is dropped by callMethod
    }

    result = frame.evaluate(CALL, ["echo", params])

    [request] = portal.received("/rest/echo.json")
    assert request["headers"]["content-type"] == "text/plain;charset=UTF-8"
    assert request["body"] == (
        "auth=good-token&id=5&fields[TITLE]=A%26B%20%5Bx%5D&fields[TAGS][0]=a&fields[TAGS][1]=b&fields[EMPTY]="
    )
    assert portal.received("/rest/echo.json", method="OPTIONS") == []
    assert result["data"] == {
        "id": "5",
        "fields[TITLE]": "A&B [x]",
        "fields[TAGS][0]": "a",
        "fields[TAGS][1]": "b",
        "fields[EMPTY]": "",
    }
    assert result["error"] is None


def test_a_legacy_crm_error_with_an_empty_code_reaches_result_error(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal)

    result = frame.evaluate(CALL, ["crm.deal.get", {"id": 404}])

    assert result["data"] is None
    assert result["error"] == {
        "status": 400,
        "ex": {"error": "", "error_description": "Not found"},
        "text": ": Not found (400)",
    }
    assert result["description"] == "Not found"


def test_an_expired_token_is_refreshed_through_the_portal_and_the_call_retried(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal, AUTH_ID="stale-token")

    result = frame.evaluate(CALL, ["crm.deal.get", {"id": 5}])

    assert result["data"] == {"ID": "5", "TITLE": "Five"}
    calls = portal.received("/rest/crm.deal.get.json")
    assert [parse_qs(c["body"])["auth"] for c in calls] == [["stale-token"], ["fresh-token"]]
    [refresh] = portal.received("/refresh")
    assert refresh["headers"]["x-csrftoken"] == CSRF_TOKEN
    assert refresh["body"] == f"app_sid={APP_SID}"
    assert "refreshAuth" in commands_seen(tab)
    assert frame.evaluate("() => BX24.getAuth().access_token") == "fresh-token"


def test_a_token_rejected_again_after_the_refresh_is_reported_not_retried_forever(tab: Page, portal: Portal) -> None:
    portal.refresh_answer = {**FRESH_AUTH, "AUTH_ID": "still-stale-token"}
    frame = open_app(tab, portal, AUTH_ID="stale-token")

    result = frame.evaluate(CALL, ["crm.deal.get", {"id": 5}])

    assert result["error"]["ex"]["error"] == "expired_token"
    assert result["error"]["status"] == 401
    assert len(portal.received("/rest/crm.deal.get.json")) == 2
    assert len(portal.received("/refresh")) == 1


def test_a_token_past_its_expiry_is_refreshed_before_the_call(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal, AUTH_ID="stale-token", AUTH_EXPIRES="0")
    assert frame.evaluate("() => BX24.getAuth()") is False

    result = frame.evaluate(CALL, ["crm.deal.get", {"id": 5}])

    assert result["data"] == {"ID": "5", "TITLE": "Five"}
    calls = portal.received("/rest/crm.deal.get.json")
    assert [parse_qs(c["body"])["auth"] for c in calls] == [["fresh-token"]]


def test_call_batch_double_encodes_commands_and_splits_the_results(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal)

    results = frame.evaluate(
        """() => new Promise((resolve) => BX24.callBatch({
          deal: ['crm.deal.get', { id: 5 }],
          missing: { method: 'crm.deal.get', params: { id: 404 } },
          page: ['list', {}],
        }, (r) => resolve(Object.fromEntries(Object.entries(r).map(([key, one]) => [key, {
          data: one.data() ?? null,
          error: one.error() ? one.error().ex : null,
          total: one.total() || null,
          more: one.more(),
        }])))))"""
    )

    [request] = portal.received("/rest/batch.json")
    assert "cmd[deal]=crm.deal.get%3Fid%3D5" in request["body"]
    assert parse_qs(request["body"])["halt"] == ["0"]
    assert results == {
        "deal": {"data": {"ID": "5", "TITLE": "Five"}, "error": None, "total": None, "more": False},
        "missing": {
            "data": None,
            "error": {"error": "", "error_description": "Not found"},
            "total": None,
            "more": False,
        },
        "page": {"data": ["a", "b"], "error": None, "total": 3, "more": True},
    }


def test_result_next_fetches_the_following_page(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal)

    pages = frame.evaluate(
        """() => new Promise((resolve) => BX24.callMethod('list', {}, (first) => {
          first.next((second) => resolve([first.data(), second.data(), second.next()]));
        }))"""
    )

    assert pages == [["a", "b"], ["c"], False]
    bodies = [parse_qs(c["body"]) for c in portal.received("/rest/list.json")]
    assert [b.get("start") for b in bodies] == [None, ["2"]]


def test_install_finish_does_nothing_outside_install_mode(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal, INSTALL=False)

    frame.evaluate("() => { BX24.installFinish(); BX24.resizeWindow(500, 321); }")
    tab.wait_for_function("() => document.querySelector('iframe').offsetHeight === 321")

    assert "setInstallFinish" not in commands_seen(tab)
    assert portal.received("/install-finish") == []


def test_install_finish_in_install_mode_marks_the_app_installed_and_reloads(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal, INSTALL=True)
    portal_url = tab.url

    with tab.expect_navigation():
        frame.evaluate("() => BX24.installFinish()")

    [request] = portal.received("/install-finish")
    assert request["headers"]["x-csrftoken"] == CSRF_TOKEN
    assert parse_qs(request["body"]) == {"app_sid": [APP_SID], "value": ["Y"]}
    assert tab.url == portal_url


def test_placement_interface_and_title_follow_the_placement(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal)

    interface = frame.evaluate("() => new Promise((r) => BX24.placement.getInterface(r))")
    frame.evaluate("() => { BX24.setTitle('from a tab'); BX24.resizeWindow(500, 345); }")
    tab.wait_for_function("() => document.querySelector('iframe').offsetHeight === 345")

    assert interface == {"command": ["reloadData"], "event": []}
    # §5.3: a placement has no layout title to set; only the DEFAULT page does.
    assert tab.locator("[data-b24-title]").text_content() == "Deal #8061"
    frame = open_app(tab, portal, PLACEMENT="DEFAULT", PLACEMENT_OPTIONS="")
    echo = frame.evaluate("() => new Promise((r) => BX24.setTitle('Deal Desk', r))")
    assert echo == {"title": "Deal Desk"}
    assert tab.locator("[data-b24-title]").text_content() == "Deal Desk"


def test_open_path_only_navigates_to_paths_on_the_portal(tab: Page, portal: Portal) -> None:
    frame = open_app(tab, portal)

    refused = [
        frame.evaluate("(path) => new Promise((r) => BX24.openPath(path, r))", path)
        for path in ("https://elsewhere.example/", "//elsewhere.example/x", "crm/deal/")
    ]
    with tab.expect_navigation():
        frame.evaluate("() => BX24.openPath('/crm/deal/details/5/')")

    assert refused == [{"result": "error", "errorCode": "PATH_NOT_AVAILABLE"}] * 3
    assert tab.url == f"{portal.portal_origin}/crm/deal/details/5/"
