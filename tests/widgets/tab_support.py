"""Helpers of the deal tab tests: install Deal Desk on the sandbox over HTTP, open a deal's tab
the way the portal does (the CRM_DEAL_DETAIL_TAB placement POST), and drive the editor the way
the page does — as htmx requests, or as plain form posts without JavaScript.

The fixtures using these live in tests/widgets/conftest.py.
"""

from __future__ import annotations

import html
import itertools
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import requests

from b24app import phpform
from bench.portal import Opening as Opening  # re-exported: the tests read the skeleton as bench does
from bench.portal import calls_since as calls_since  # and the portal's request log
from bench.portal import form_fields as form_fields  # and the forms
from bench.portal import log_mark
from bench.portal import opening_of as opening_of
from devtools import portal
from tests.conftest import SandboxPortal


def placement_form(*, user: int, deal_id: int | None = None, **overrides: str) -> dict[str, str]:
    """The body the portal POSTs when `user` opens the deal tab (bitrix24-protocol.md §5.2)."""
    return portal.placement_form(user=user, placement="CRM_DEAL_DETAIL_TAB", deal_id=deal_id, **overrides)


def portal_query(sandbox: SandboxPortal, **overrides: str) -> str:
    return portal.portal_query(sandbox.url, **overrides)


def install(sandbox: SandboxPortal) -> Any:
    """Deal Desk installed by the administrator through the install POST, as the marketplace does."""
    from b24app.models import Portal

    portal.install_over_http(app_url=sandbox.app_url, sandbox_url=sandbox.url, timeout=30)
    return Portal.objects.get()


last_call_id = log_mark  # the tests' name for a mark in the portal's request log


_SECONDS = itertools.count(int(time.time()))  # a new second for each event, unless the test names one


def send_event(sandbox: SandboxPortal, portal: Any, name: str, deal_id: int, *, ts: int | None = None) -> None:
    """The portal's event, as b24app's handler receives it (bitrix24-protocol.md §6.2)."""
    fields = {"ID": str(deal_id)}
    if name == "ONCRMDEALMOVETOCATEGORY":
        fields.update(CATEGORY_ID="1", STAGE_ID="C1:NEW")
    body = {
        "event": name,
        "data": {"FIELDS": fields},
        "ts": str(next(_SECONDS) if ts is None else ts),
        "auth": {"application_token": portal.application_token, "member_id": portal.member_id},
    }
    response = requests.post(
        f"{sandbox.app_url}b24/events/",
        data=phpform.encode(body),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert response.status_code == 200


def sandbox_fault(sandbox: SandboxPortal, **body: Any) -> None:
    """The sandbox's fault injection (POST <portal>/faults.json): {"fault": "down_html"}, ..."""
    response = requests.post(f"{sandbox.url}faults.json", json=body, timeout=10)
    assert response.status_code == 200, response.text


@contextmanager
def portal_down(sandbox: SandboxPortal) -> Iterator[None]:
    """Inside the block the portal answers every request with an HTML error page (fault "down_html")."""
    sandbox_fault(sandbox, fault="down_html")
    try:
        yield
    finally:
        sandbox_fault(sandbox, fault="")


# --- reading pages ---------------------------------------------------------------------------------


class _OobInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inputs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input" and found.get("hx-swap-oob") and found.get("id"):
            self.inputs.append((found["id"] or "", found.get("value") or ""))


def oob_inputs(page: str) -> list[tuple[str, str]]:
    """(id, value) of the inputs an htmx answer swaps in out of band, by their id."""
    reader = _OobInputs()
    reader.feed(page)
    return reader.inputs


class _TextById(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str | None] = []
        self.texts: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "br", "img", "meta", "link"):
            return
        element_id = dict(attrs).get("id")
        self.stack.append(element_id)
        if element_id:
            self.texts.setdefault(element_id, [])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("input", "br", "img", "meta", "link"):
            return
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        for element_id in self.stack:
            if element_id:
                self.texts[element_id].append(data)


def text_of(page: str, element_id: str) -> str:
    """The whitespace-normalised text inside the element with that id (the first one)."""
    reader = _TextById()
    reader.feed(page)
    return " ".join("".join(reader.texts.get(element_id, [])).split())


def shown(page: str) -> str:
    """The page as text a person reads: entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(page).split())


def money(text: str) -> Decimal:
    """ "$1,234.50" or "1 234,50 €" back to a number."""
    kept = "".join(c for c in text if c.isdigit() or c in ",.-")
    if "," in kept and ("." not in kept or kept.rfind(",") > kept.rfind(".")):
        kept = kept.replace(".", "").replace(",", ".")
    return Decimal(kept.replace(",", ""))


# --- an open tab -------------------------------------------------------------------------------------


@dataclass
class DealTab:
    """A deal tab opened by one portal user, driven as the page drives it."""

    sandbox: SandboxPortal
    deal_id: int
    response: requests.Response
    token: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    session: requests.Session = field(default_factory=requests.Session)
    contact_fields: list[tuple[str, str]] = field(default_factory=list)  # the contacts form's
    tab_id: str = field(default_factory=lambda: secrets.token_hex(8))  # X-Deal-Tab, as the page sends it

    @property
    def page(self) -> str:
        return self.response.text

    def url(self, name: str) -> str:
        from django.urls import reverse

        return self.sandbox.app_url.rstrip("/") + reverse(f"widgets:{name}", kwargs={"deal_id": self.deal_id})

    def headers(self, *, htmx: bool) -> dict[str, str]:
        headers = {"X-Widget-Token": self.token, "X-Deal-Tab": self.tab_id}
        if htmx:
            headers["HX-Request"] = "true"
        return headers

    def _took(self, response: requests.Response) -> requests.Response:
        self.token = response.headers.get("X-Widget-Token") or self.token
        self.response = response
        if response.status_code == 200 and '<form id="editor"' in response.text:
            self.fields = form_fields(response.text)
        if response.status_code == 200 and '<form id="contacts"' in response.text:
            self.contact_fields = form_fields(response.text, "contacts")
        for element_id, value in oob_inputs(response.text) if response.status_code == 200 else []:
            # As htmx swaps it: the contacts form's input with that id (contacts-<name>) takes the value.
            name = element_id.removeprefix("contacts-")
            self.contact_fields = [(n, value if n == name else v) for n, v in self.contact_fields]
        return response

    def value(self, name: str) -> str:
        return dict(self.fields)[name]

    def rows(self) -> int:
        return int(self.value("rows-count"))

    def edit(self, **changes: str) -> list[tuple[str, str]]:
        """The editor's fields with some changed; `rows_0_price="12"` is rows-0-price."""
        named = {key.replace("_", "-", 2) if key.startswith("rows_") else key: v for key, v in changes.items()}
        fields = [(name, named.pop(name, value)) for name, value in self.fields]
        return fields + list(named.items())

    def post(
        self,
        action: str | None = None,
        *,
        htmx: bool = True,
        fields: list[tuple[str, str]] | None = None,
        **changes: str,
    ) -> requests.Response:
        data = list(fields if fields is not None else self.edit(**changes))
        sent = list(data)
        if action is not None:
            data.append(("action", action))
        response = self.session.post(self.url("tab_rows"), data=data, headers=self.headers(htmx=htmx), timeout=30)
        self._took(response)
        if response.status_code == 200 and '<form id="editor"' not in response.text:
            self.fields = sent  # a recalculation: the inputs keep what was typed, as in the browser
        return response

    # --- the contacts editor -----------------------------------------------------------------------

    def contact(self, name: str) -> str:
        return dict(self.contact_fields)[name]

    def contact_names(self) -> list[str]:
        """The contacts in the editor, as their cards name them, in order ("Anna Smith", "#12" unnamed)."""
        from widgets.contacts.state import card_read

        names = []
        for index in range(int(self.contact("contacts-count"))):
            card = card_read(self.contact(f"contacts-{index}-card"), portal_id=self.portal_id, user_id=self.user_id)
            names.append(card.name or f"#{card.id}")
        return names

    def primary(self) -> int:
        return int(self.contact("contacts-primary"))

    @property
    def portal_id(self) -> int:
        from b24app.models import Portal

        return int(Portal.objects.get().pk)

    @property
    def user_id(self) -> int:
        from widgets.common.auth import widget_token_read

        return widget_token_read(self.token).user_id

    def contacts(
        self,
        action: str | None = None,
        *,
        htmx: bool = True,
        fields: list[tuple[str, str]] | None = None,
        **changes: str,
    ) -> requests.Response:
        """Post the contacts form with `action` (the pressed button), `new_phone="..."` is new-phone."""
        named = {key.replace("new_", "new-", 1) if key.startswith("new_") else key: v for key, v in changes.items()}
        data = [
            (name, named.pop(name, value)) for name, value in (fields if fields is not None else self.contact_fields)
        ]
        data += list(named.items())
        if action is not None:
            data.append(("action", action))
        response = self.session.post(self.url("tab_contacts"), data=data, headers=self.headers(htmx=htmx), timeout=30)
        return self._took(response)

    def get(self, name: str, params: dict[str, str] | None = None, *, htmx: bool = True) -> requests.Response:
        response = self.session.get(self.url(name), params=params, headers=self.headers(htmx=htmx), timeout=30)
        return self._took(response)


def tab_fill(sandbox: SandboxPortal, opening: Opening, *, token: str | None = None) -> requests.Response:
    """POST the fill as htmx does on load: the placement's fields, the opening token in a header."""
    headers = {"X-Opening-Token": opening.token if token is None else token, "HX-Request": "true"}
    url = sandbox.app_url.rstrip("/") + opening.url
    return requests.post(url, data=opening.fields, headers=headers, timeout=30)


def placement_post(
    sandbox: SandboxPortal, form: dict[str, str], *, timeout: float = 30, query: dict[str, str] | None = None
) -> requests.Response:
    """The placement POST alone, as the portal sends it when the deal tab opens."""
    url = f"{sandbox.app_url}deal-tab/?{portal_query(sandbox, **(query or {}))}"
    return requests.post(url, data=form, timeout=timeout)


def placement_open(sandbox: SandboxPortal, form: dict[str, str], **query: str) -> requests.Response:
    """The placement POST and, when it answers with the skeleton, the fill that follows it."""
    response = placement_post(sandbox, form, query=query)
    opening = opening_of(response.text) if response.status_code == 200 else None
    return tab_fill(sandbox, opening) if opening is not None else response


def open_tab(sandbox: SandboxPortal, deal_id: int, *, user: int = 1, lang: str = "en", **overrides: str) -> DealTab:
    """Open the tab as the portal and the page do: the placement POST (the skeleton), then its fill."""
    form = placement_form(user=user, deal_id=deal_id, **overrides)
    response = placement_open(sandbox, form, LANG=lang)
    tab = DealTab(sandbox, deal_id, response, response.headers.get("X-Widget-Token", ""))
    tab._took(response)
    return tab


def deal_of(user: int = 0, *, rows: bool | None = True, manual: bool = False, max_contacts: int = 10) -> int:
    """A seeded deal assigned to `user` (any deal for 0), with product rows or without (None: either)."""
    from sandbox.models import Deal, DealContact, ProductRow

    deals = Deal.objects.order_by("id")
    if user:
        deals = deals.filter(assigned_by_id=user)
    for deal in deals:
        has_rows = ProductRow.objects.filter(deal=deal).exists()
        contacts = DealContact.objects.filter(deal=deal).count()
        wanted_rows = rows is None or has_rows == rows
        if wanted_rows and (deal.is_manual_opportunity == "Y") == manual and contacts <= max_contacts:
            return int(deal.pk)
    raise AssertionError("no such seeded deal")
