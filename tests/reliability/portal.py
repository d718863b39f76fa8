"""The sandbox portal driven the way a browser drives it: sign in as a user, install from the
Marketplace, open a deal card and submit the form that fills the app's iframe.

Used against the multi-process cluster, whose sandbox lives in another process (its rows cannot
be arranged with the ORM of the test process); everything here goes over HTTP.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.portal import opening_of
from tests.conftest import SandboxPortal
from tests.widgets.tab_support import DealTab, form_fields

TIMEOUT = 60
MAX_FILLS = 40  # a busy portal: the skeleton asks again every few seconds, as the page does


@dataclass(frozen=True)
class Frame:
    """An app iframe's form as the portal renders it: where it posts, and its hidden fields."""

    action: str
    fields: list[tuple[str, str]]

    @property
    def placement(self) -> str:
        return dict(self.fields).get("PLACEMENT", "")

    def to(self, app_url: str) -> str:
        """The same POST sent to another instance of the app (a load balancer's choice)."""
        parts = urlsplit(self.action)
        target = urlsplit(app_url)
        return parts._replace(scheme=target.scheme, netloc=target.netloc).geturl()


class _Frames(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.frames: list[Frame] = []
        self._action: str | None = None
        self._fields: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and "app-form" in a.get("class", "").split():
            self._action, self._fields = a.get("action", ""), []
        elif tag == "input" and self._action is not None and a.get("name"):
            self._fields.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._action is not None:
            self.frames.append(Frame(html.unescape(self._action), self._fields))
            self._action = None


def frames_of(page: str) -> list[Frame]:
    reader = _Frames()
    reader.feed(page)
    return reader.frames


class PortalBrowser:
    """One person's browser on the sandbox portal (its own cookies, so its own signed-in user)."""

    def __init__(self, portal_url: str, user: int = 1) -> None:
        self.portal_url = portal_url
        self.session = requests.Session()
        self.user = 0
        self.switch(user)

    def _csrf(self) -> str:
        token = self.session.cookies.get("csrftoken")
        if not token:
            page = self.session.get(self.portal_url, timeout=TIMEOUT).text
            found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
            token = self.session.cookies.get("csrftoken") or (found.group(1) if found else "")
        return str(token)

    def post(self, path: str, data: dict[str, Any] | None = None) -> requests.Response:
        token = self._csrf()
        return self.session.post(
            self.portal_url + path,
            data={**(data or {}), "csrfmiddlewaretoken": token},
            headers={"X-CSRFToken": token, "Referer": self.portal_url},
            timeout=TIMEOUT,
        )

    def switch(self, user: int) -> None:
        response = self.post("switch-user/", {"user_id": str(user), "next": ""})
        assert response.status_code == 200, response.text[:500]
        self.user = user

    def app_id(self) -> int:
        page = self.session.get(self.portal_url + "marketplace/", timeout=TIMEOUT).text
        found = re.search(r"/marketplace/(\d+)/(?:install|uninstall)/", page) or re.search(r"/app/(\d+)/", page)
        assert found, "no app on the Marketplace page"
        return int(found.group(1))

    def install(self, app_url: str) -> requests.Response:
        """Install from the Marketplace: the installer page in its frame, then BX24.installFinish()."""
        app_id = self.app_id()
        opened = self.post(f"marketplace/{app_id}/install/")
        assert opened.status_code == 200, opened.text[:500]
        frames = frames_of(opened.text)
        assert frames, "the installer frame is missing"
        installer = requests.post(frames[0].to(app_url), data=frames[0].fields, timeout=TIMEOUT)
        assert installer.status_code == 200, installer.text[:2000]
        finished = self.post(f"marketplace/{app_id}/install-finish/")
        assert finished.status_code == 200 and finished.json().get("result") is True, finished.text[:500]
        return installer

    def uninstall(self, *, clean: bool) -> None:
        response = self.post(f"marketplace/{self.app_id()}/uninstall/", {"clean": "1" if clean else "0"})
        assert response.status_code == 200, response.text[:500]

    def deal_tab_frame(self, deal_id: int) -> Frame:
        page = self.session.get(f"{self.portal_url}crm/deal/details/{deal_id}/", timeout=TIMEOUT)
        assert page.status_code == 200, page.text[:500]
        for frame in frames_of(page.text):
            if frame.placement == "CRM_DEAL_DETAIL_TAB":
                return frame
        raise AssertionError(f"deal {deal_id} shows no Deal Desk tab")

    def menu_frame(self) -> Frame:
        """The app's main page (PLACEMENT=DEFAULT) as opened from the portal's app menu."""
        page = self.session.get(f"{self.portal_url}app/{self.app_id()}/", timeout=TIMEOUT)
        frames = frames_of(page.text)
        assert frames, page.text[:500]
        return frames[0]


def filled(response: requests.Response, app_url: str) -> requests.Response:
    """The deal tab's first paint is a skeleton whose htmx load fills it; a fill that finds Bitrix24
    busy answers another skeleton that asks again after a delay. What the page ends up showing, as
    the browser would get it from the same app instance (`response` itself when not a skeleton)."""
    for _ in range(MAX_FILLS):
        opening = opening_of(response.text) if response.status_code == 200 else None
        if opening is None:
            return response
        time.sleep(opening.delay)
        headers = {"X-Opening-Token": opening.token, "HX-Request": "true"}
        url = app_url.rstrip("/") + opening.url
        response = requests.post(url, data=opening.fields, headers=headers, timeout=TIMEOUT)
    return response


def placement_post(frame: Frame, app_url: str) -> requests.Response:
    """A deal tab's frame form submitted to one app instance, and the fill its skeleton sends."""
    return filled(requests.post(frame.to(app_url), data=frame.fields, timeout=TIMEOUT), app_url)


def open_frame(frame: Frame, app_url: str, deal_id: int) -> DealTab:
    """Submit a deal tab's frame form to one app instance: the tab as its iframe would show it."""
    response = placement_post(frame, app_url)
    portal = SandboxPortal(url="", app_url=app_url, session=requests.Session())
    tab = DealTab(portal, deal_id, response, response.headers.get("X-Widget-Token", ""))
    if response.status_code == 200 and '<form id="editor"' in response.text:
        tab.fields = form_fields(response.text)
    return tab


def editor_shown(response: requests.Response) -> bool:
    return response.status_code == 200 and '<form id="editor"' in response.text
