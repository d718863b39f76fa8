"""Shared pieces of the layout page tests: the app installed on the sandbox over HTTP, the page
opened from the portal's app menu (PLACEMENT=DEFAULT), and requests made as that page makes them.

Imported explicitly by each tests/widgets/layouts/test_layout_*.py module (fixtures included), so nothing
here depends on a conftest. Fixtures are defined as `<name>_fixture` with name="<name>": importing
them does not shadow the test arguments that receive them.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from bench.portal import opening_of
from devtools import portal
from devtools.portal import fresh_app_cache
from tests.conftest import SandboxPortal

__all__ = [
    "AdminPage",
    "Installed",
    "admin_fixture",
    "clean_cache",
    "editor_fields",
    "installed_fixture",
    "open_admin",
    "open_paint",
    "page_as",
    "placement_form",
    "portal_calls",
    "stored_layout",
]


@pytest.fixture(autouse=True)
def clean_cache(settings: Any) -> Iterator[None]:
    """Fresh admin answers, catalogs and limiter slots per test: the sandbox's member_id is the
    same in every test, so they would otherwise carry over."""
    with fresh_app_cache(settings):
        yield


def placement_form(*, user: int, placement: str = "DEFAULT", **overrides: str) -> dict[str, str]:
    """The fields the portal POSTs when it opens an app page for `user` (protocol §5.2)."""
    return portal.placement_form(user=user, placement=placement, deal_id=None, **overrides)


def portal_query(sandbox: SandboxPortal) -> str:
    return portal.portal_query(sandbox.url)


@dataclass
class Installed:
    sandbox: SandboxPortal
    portal: Any  # b24app.models.Portal


@pytest.fixture(name="installed")
def installed_fixture(sandbox: SandboxPortal) -> Installed:
    """Deal Desk installed by the administrator through the install POST, as the marketplace does."""
    from b24app.models import Portal

    portal.install_over_http(app_url=sandbox.app_url, sandbox_url=sandbox.url, timeout=30)
    return Installed(sandbox, Portal.objects.get())


@dataclass
class AdminPage:
    """The layout page as opened by one portal user, and requests made the way the page makes them."""

    sandbox: SandboxPortal
    response: requests.Response
    token: str
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, name: str) -> str:
        from django.urls import reverse

        return self.sandbox.app_url.rstrip("/") + reverse(f"widgets:{name}")

    def _headers(self, htmx: bool) -> dict[str, str]:
        headers = {"X-Widget-Token": self.token}
        if htmx:
            headers["HX-Request"] = "true"
        return headers

    def _renew(self, response: requests.Response) -> requests.Response:
        self.token = response.headers.get("X-Widget-Token") or self.token
        return response

    def get(self, name: str, params: dict[str, Any] | None = None, *, htmx: bool = True) -> requests.Response:
        response = self.session.get(self.url(name), params=params, headers=self._headers(htmx), timeout=30)
        return self._renew(response)

    def post(
        self, name: str, data: Any = None, *, htmx: bool = True, files: dict[str, Any] | None = None
    ) -> requests.Response:
        response = self.session.post(self.url(name), data=data, files=files, headers=self._headers(htmx), timeout=30)
        return self._renew(response)


def open_admin(sandbox: SandboxPortal, *, user: int = 1, **overrides: str) -> AdminPage:
    """POST the DEFAULT placement to the app's main URL, as the portal does from its app menu, then
    the fill its first paint sends (as a plain form post: the whole page, as a test wants to read it)."""
    response = open_paint(sandbox, user=user, **overrides)
    opening = opening_of(response.text) if response.status_code == 200 else None
    if opening is not None:
        response = requests.post(
            sandbox.app_url.rstrip("/") + opening.url,
            data=opening.fields,
            headers={"X-Opening-Token": opening.token},
            timeout=30,
        )
    return AdminPage(sandbox, response, response.headers.get("X-Widget-Token", ""))


def open_paint(sandbox: SandboxPortal, *, user: int = 1, **overrides: str) -> requests.Response:
    """The placement POST alone: the layout page's first paint."""
    url = f"{sandbox.app_url}?{portal_query(sandbox)}"
    return requests.post(url, data=placement_form(user=user, **overrides), timeout=30)


@pytest.fixture(name="admin")
def admin_fixture(installed: Installed) -> AdminPage:
    page = open_admin(installed.sandbox, user=1)
    assert page.response.status_code == 200, page.response.text[:2000]
    return page


_INPUT = re.compile(r"<input\b[^>]*>", re.S)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


def editor_fields(page_html: str) -> list[tuple[str, str]]:
    """The editor form's own inputs (hidden state and titles), as the browser would post them."""
    start = page_html.index('<form id="editor"')
    end = page_html.index("</form>", start)
    pairs: list[tuple[str, str]] = []
    for tag in _INPUT.findall(page_html[start:end]):
        attrs = dict(_ATTR.findall(tag))
        if "name" in attrs and attrs.get("type") not in ("checkbox", "search"):
            pairs.append((attrs["name"], html.unescape(attrs.get("value", ""))))
    return pairs


def editor_layout(page_html: str) -> list[dict[str, Any]]:
    return list(json.loads(dict(editor_fields(page_html))["layout"]))


def stored_layout(category_id: int, *, scope: str = "C", user_id: int | None = None) -> list[dict[str, Any]] | None:
    """What the sandbox portal has stored (CardConfig), or None."""
    from sandbox.models import CardConfig

    owner = user_id if scope == "P" else None
    row = CardConfig.objects.filter(category_id=category_id, scope=scope, user_id=owner).first()
    return None if row is None else list(row.data)


def portal_calls(since: int = 0) -> list[Any]:
    """RequestLog rows after id `since`: what reached the portal."""
    from sandbox.models import RequestLog

    return list(RequestLog.objects.filter(id__gt=since).order_by("id"))


def last_call_id() -> int:
    from sandbox.models import RequestLog

    row = RequestLog.objects.order_by("-id").first()
    return row.id if row else 0


def page_as(installed: Installed, *, user: int, purpose: str = "admin") -> AdminPage:
    """A page whose widget token names `user`, with that user's real portal tokens stored: as if
    they had been an administrator when they opened it (or had forged their way past the entry)."""
    from sandbox.models import App, User
    from sandbox.tokens import issue_tokens
    from widgets.common.auth import WidgetIdentity, widget_token_mint
    from widgets.common.placement import PlacementPost, user_token_store

    access, refresh = issue_tokens(app=App.objects.get(), user=User.objects.get(pk=user))
    post = PlacementPost(access.token, refresh.token, 3600, installed.portal.member_id, "", "DEFAULT")
    user_token_store(portal=installed.portal, user_id=user, post=post)
    token = widget_token_mint(identity=WidgetIdentity(installed.portal.pk, user, None, purpose))
    return AdminPage(installed.sandbox, requests.Response(), token)
