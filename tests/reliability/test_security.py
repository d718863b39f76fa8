"""Security over real HTTP: forged placement POSTs, widget tokens on every endpoint, another
portal's data, and who may frame which page (test_security_data.py: tokens at rest, the uninstall
purge, production settings; test_security_markup.py: markup and script in every field).

A second installation (portal B) is simulated by a Portal row whose REST endpoint is a stub on
this machine that answers like a portal refusing a token it did not issue, and records every call.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from django.urls import URLPattern, reverse
from django.utils import timezone

from b24app.models import Portal, UserToken
from tests.b24app.conftest import Installed, StubHost
from tests.csp_support import frame_ancestors
from tests.widgets.layout_support import open_admin
from tests.widgets.layout_support import placement_form as menu_form
from tests.widgets.tab_support import deal_of, open_tab, opening_of, placement_form, portal_query, tab_fill
from widgets.common.auth import WidgetIdentity, widget_token_mint

# --- a second portal -------------------------------------------------------------------------------------


@dataclass
class ForeignPortal:
    """Portal B: installed too, but its REST endpoint is a stub that refuses every token."""

    portal: Portal
    calls: list[tuple[str, str]] = field(default_factory=list)

    def token(self, *, deal_id: int | None = 5, purpose: str = "tab") -> str:
        return widget_token_mint(identity=WidgetIdentity(self.portal.pk, 1, deal_id, purpose))


@pytest.fixture
def portal_b(installed: Installed) -> Iterator[ForeignPortal]:
    calls: list[tuple[str, str]] = []

    class Refusing(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
            calls.append((self.path, body))
            payload = json.dumps({"error": "invalid_token", "error_description": "The access token is invalid"})
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    netloc = f"127.0.0.1:{server.server_address[1]}"
    portal = Portal.objects.create(
        member_id="b" * 32,
        domain=netloc,
        client_endpoint=f"http://{netloc}/rest/",
        server_endpoint="https://oauth.bitrix.info/rest/",
        application_token="portal-b-application-token",
        access_token="portal-b-access",
        refresh_token="portal-b-refresh",
        expires_at=timezone.now() + timedelta(hours=1),
        installed_at=timezone.now(),
    )
    UserToken.objects.create(
        portal=portal, user_id=1, access_token="portal-b-user", expires_at=timezone.now() + timedelta(hours=1)
    )
    try:
        yield ForeignPortal(portal, calls)
    finally:
        server.shutdown()
        server.server_close()


def sandbox_calls() -> int:
    from sandbox.models import RequestLog

    return RequestLog.objects.count()


# --- forged placement POSTs ----------------------------------------------------------------------------------


def entry_url(installed: Installed, which: str, **query: str) -> str:
    path = "deal-tab/" if which == "tab" else ""
    return f"{installed.sandbox.app_url}{path}?{portal_query(installed.sandbox, **query)}"


def enter(installed: Installed, which: str, form: dict[str, str], **query: str) -> requests.Response:
    """The entry POST as the portal sends it, and the fill its skeleton asks for at once (the first
    paint shows nothing of the portal: the fill is where AUTH_ID is verified)."""
    response = requests.post(entry_url(installed, which, **query), data=form, timeout=30)
    # Both entries answer a first paint whose fill runs the opening request (the tab's and the layout page's).
    opening = opening_of(response.text) if response.status_code == 200 else None
    return tab_fill(installed.sandbox, opening) if opening is not None else response


def entry_form(which: str, **overrides: str) -> dict[str, str]:
    if which == "tab":
        return placement_form(user=1, deal_id=deal_of(0), **overrides)
    return menu_form(user=1, **overrides)


@pytest.mark.parametrize("which", ["tab", "menu"])
def test_a_made_up_auth_id_is_refused_and_nothing_is_kept(installed: Installed, which: str) -> None:
    before = sandbox_calls()
    form = entry_form(which, AUTH_ID=secrets.token_hex(16))
    response = enter(installed, which, form)

    assert response.status_code == 403
    assert not UserToken.objects.exists()
    assert "X-Widget-Token" not in response.headers
    assert sandbox_calls() - before <= 1  # at most the one verifying call, to the stored portal


@pytest.mark.parametrize("which", ["tab", "menu"])
@pytest.mark.parametrize("genuine", [True, False])
def test_a_domain_or_endpoint_pointing_elsewhere_sends_nothing_there(
    installed: Installed, stub_host: StubHost, which: str, genuine: bool
) -> None:
    overrides = {
        "SERVER_ENDPOINT": f"{stub_host.url}rest/",
        "client_endpoint": f"{stub_host.url}rest/",
        **({} if genuine else {"AUTH_ID": secrets.token_hex(16)}),
    }
    response = enter(installed, which, entry_form(which, **overrides), DOMAIN=stub_host.netloc, PROTOCOL="1")

    assert stub_host.requests == []
    assert response.status_code == (200 if genuine else 403)
    if genuine:  # verified against the stored portal, whatever the request said
        assert frame_ancestors(response.headers["Content-Security-Policy"]) == [
            installed.sandbox.url.removesuffix("/sandbox/")
        ]


@pytest.mark.parametrize("which", ["tab", "menu"])
def test_another_portals_member_id_is_refused_and_this_portals_token_never_reaches_it(
    installed: Installed, portal_b: ForeignPortal, which: str
) -> None:
    with_token = requests.post(entry_url(installed, which), data=entry_form(which, member_id="b" * 32), timeout=30)
    assert with_token.status_code == 403  # APPLICATION_TOKEN is portal A's: refused before any call
    assert portal_b.calls == []

    form = entry_form(which, member_id="b" * 32)
    form.pop("APPLICATION_TOKEN")
    without = enter(installed, which, form)

    assert without.status_code == 403  # verified against B's stored endpoint, which refuses A's token
    assert [path for path, _ in portal_b.calls] == ["/rest/batch.json"]
    assert [t.access_token for t in UserToken.objects.filter(portal=portal_b.portal)] == ["portal-b-user"]
    assert not UserToken.objects.filter(portal=installed.portal).exists()


@pytest.mark.parametrize("which", ["tab", "menu"])
def test_a_non_ascii_application_token_is_refused_not_a_server_error(installed: Installed, which: str) -> None:
    form = entry_form(which, APPLICATION_TOKEN="\u00e9" * 32)
    response = requests.post(entry_url(installed, which), data=form, timeout=30)

    assert response.status_code == 403


# --- widget tokens -------------------------------------------------------------------------------------------


def widget_endpoints() -> list[tuple[str, str]]:
    """Every widget URL behind a widget token, with a deal where needed: all but the entry POSTs and
    the tab's fill (tab_open), which its one-time opening token guards."""
    from widgets import urls

    out = []
    for pattern in urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name in ("tab_placement", "tab_open", "layout_home"):
            continue
        kwargs = {"deal_id": 5} if "deal_id" in str(pattern.pattern) else {}
        out.append((str(pattern.name), reverse(f"widgets:{pattern.name}", kwargs=kwargs)))
    return out


def expired_token(identity: WidgetIdentity, monkeypatch: pytest.MonkeyPatch) -> str:
    import time

    real = time.time
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: real() - 16 * 60)
        return widget_token_mint(identity=identity)


def test_every_widget_endpoint_refuses_missing_tampered_expired_and_misdirected_tokens(
    installed: Installed, portal_b: ForeignPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core import signing

    portal = installed.portal
    UserToken.objects.create(portal=portal, user_id=1, access_token="x", expires_at=timezone.now() + timedelta(hours=1))
    good_tab = WidgetIdentity(portal.pk, 1, 5, "tab")
    good = widget_token_mint(identity=good_tab)
    forged_payload = signing.dumps(
        {"p": portal.pk, "u": 1, "d": 5, "k": "admin", "l": "en"}, key="not-our-secret", salt="dealdesk.widget"
    )
    bad_tokens = {
        "missing": "",
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "forged": forged_payload,
        "expired": expired_token(good_tab, monkeypatch),
        "another deal": widget_token_mint(identity=WidgetIdentity(portal.pk, 1, 6, "tab")),
        "unknown user": widget_token_mint(identity=WidgetIdentity(portal.pk, 99, 5, "tab")),
        "unknown portal": widget_token_mint(identity=WidgetIdentity(99999, 1, 5, "tab")),
        "garbage": "' OR 1=1 --<script>",
    }
    before = sandbox_calls()
    for name, url in widget_endpoints():
        for label, token in bad_tokens.items():
            if label == "another deal" and not name.startswith("tab_"):
                continue
            statuses = []
            for method in ("get", "post"):
                response = requests.request(
                    method, installed.sandbox.app_url.rstrip("/") + url, headers={"X-Widget-Token": token}, timeout=30
                )
                statuses.append(response.status_code)
                assert response.status_code in (403, 405), (name, label, method, response.status_code)
                assert "X-Widget-Token" not in response.headers
            assert 403 in statuses, (name, label)
    assert sandbox_calls() == before
    assert portal_b.calls == []


def test_a_token_of_one_portal_only_ever_reaches_that_portal(installed: Installed, portal_b: ForeignPortal) -> None:
    tab_a = open_tab(installed.sandbox, deal_of(0), user=1)
    assert tab_a.response.status_code == 200
    calls_a = sandbox_calls()
    base = installed.sandbox.app_url.rstrip("/")

    shown_b = requests.get(f"{base}/deal-tab/5/", headers={"X-Widget-Token": portal_b.token()}, timeout=30)
    found_b = requests.get(
        f"{base}/deal-tab/5/products/", params={"q": "Laptop"}, headers={"X-Widget-Token": portal_b.token()}, timeout=30
    )
    admin_b = portal_b.token(deal_id=None, purpose="admin")
    layout_b = requests.get(f"{base}/layout/", headers={"X-Widget-Token": admin_b}, timeout=30)

    assert sandbox_calls() == calls_a  # nothing of portal A was read with B's token
    assert all(auth_of(body) == "portal-b-user" for _, body in portal_b.calls)
    assert len(portal_b.calls) >= 3
    for response in (shown_b, found_b, layout_b):
        assert response.status_code in (200, 403)
        framed_by = frame_ancestors(response.headers["Content-Security-Policy"])
        assert framed_by == ["'none'"] or framed_by[0].endswith(portal_b.portal.domain)
    b_calls = len(portal_b.calls)
    assert tab_a.get("tab_show").status_code == 200
    assert len(portal_b.calls) == b_calls and sandbox_calls() > calls_a


def auth_of(body: str) -> str:
    try:
        return str(json.loads(body).get("auth", ""))
    except ValueError:
        return ""


def test_an_administrator_cannot_read_or_restore_another_portals_layout_versions(
    installed: Installed, portal_b: ForeignPortal
) -> None:
    from sandbox.models import CardConfig
    from widgets.models import LayoutVersion

    secret = [{"name": "main", "title": "PORTAL-B-SECRET", "type": "section", "elements": [{"name": "TITLE"}]}]
    theirs = LayoutVersion.objects.create(
        portal=portal_b.portal, category_id=0, scope="C", number=1, layout=secret, author_id=1, note="saved"
    )
    admin = open_admin(installed.sandbox, user=1)
    assert admin.response.status_code == 200
    stored = list(CardConfig.objects.values_list("data", flat=True))

    answers = [
        admin.get("layout_diff", {"a": theirs.pk, "b": theirs.pk}),
        admin.get("layout_export", {"version": theirs.pk}),
        admin.post("layout_rollback", {"version": theirs.pk}),
        admin.get("layout_diff", {"a": theirs.pk, "b": theirs.pk}, htmx=False),
    ]

    for response in answers:
        assert response.status_code in (200, 403, 404)
        assert "PORTAL-B-SECRET" not in response.text
    assert list(CardConfig.objects.values_list("data", flat=True)) == stored
    assert LayoutVersion.objects.filter(portal=installed.portal).count() == 0
    assert portal_b.calls == []


# --- framing --------------------------------------------------------------------------------------------------


def test_widget_pages_may_be_framed_by_their_portal_only_and_everything_else_by_nobody(installed: Installed) -> None:
    origin = installed.sandbox.url.removesuffix("/sandbox/")
    tab = open_tab(installed.sandbox, deal_of(0), user=1)
    admin = open_admin(installed.sandbox, user=1)
    refused = requests.post(entry_url(installed, "tab"), data=entry_form("tab", PLACEMENT="SOMETHING_ELSE"), timeout=30)
    framed = [
        tab.response,
        tab.get("tab_show"),
        tab.get("tab_products", {"q": "La"}),
        admin.response,
        admin.get("layout_page", {"category": "0"}),
        refused,
    ]
    for response in framed:
        assert frame_ancestors(response.headers["Content-Security-Policy"]) == [origin], response.url
        assert "X-Frame-Options" not in response.headers, response.url
    base = installed.sandbox.app_url
    others = [
        requests.get(base, timeout=30),
        requests.get(f"{base}b24/health/", timeout=30),
        requests.post(f"{base}b24/events/", data="event=x", timeout=30),
        requests.get(f"{base}deal-tab/5/", timeout=30),  # refused for want of a token
        requests.get(f"{base}b24/connect/", timeout=30),
    ]
    for response in others:
        assert response.headers.get("X-Frame-Options") == "DENY", (response.url, response.status_code)
        assert frame_ancestors(response.headers["Content-Security-Policy"]) == ["'none'"]
