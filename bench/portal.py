"""The portal's side of a benchmark: tokens, the placement POSTs it sends, its request log.

The harness arranges data straight in the sandbox's database (as the tests do) and counts what
reached the portal from its RequestLog; the app itself only ever reaches the portal over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any


def log_mark() -> int:
    from sandbox.models import RequestLog

    row = RequestLog.objects.order_by("-id").first()
    return int(row.pk) if row else 0


def calls_since(mark: int) -> list[Any]:
    """RequestLog rows after `mark`: every REST request that reached the portal."""
    from sandbox.models import RequestLog

    return list(RequestLog.objects.filter(id__gt=mark).order_by("id"))


def deal_with_rows(*, user: int, max_contacts: int = 10) -> int:
    """A seeded deal assigned to `user`, with product rows and contacts that fit the opening batch."""
    from sandbox.models import Deal, DealContact, ProductRow

    for deal in Deal.objects.filter(assigned_by_id=user, is_manual_opportunity="N").order_by("id"):
        rows = ProductRow.objects.filter(deal=deal).exists()
        if rows and DealContact.objects.filter(deal=deal).count() <= max_contacts:
            return int(deal.pk)
    raise RuntimeError("the seed has no deal with product rows")


def limits_set(*, enabled: bool, rate: float = 2.0, burst: int = 50) -> None:
    """The portal's request limit (a leaky bucket per portal and IP), with an empty bucket."""
    from sandbox.models import Portal, RateBucket

    Portal.objects.update(limits_enabled=enabled, rate_limit=rate, rate_burst=burst)
    RateBucket.objects.all().delete()


@contextmanager
def answers_lost() -> Iterator[None]:
    """The sandbox applies each write, then loses its answer (fault applied_reset), for the block."""
    from sandbox.models import Portal

    Portal.objects.update(fault=Portal.Fault.APPLIED_RESET)
    try:
        yield
    finally:
        Portal.objects.update(fault=Portal.Fault.NONE)


# --- reading the app's pages ----------------------------------------------------------------------


class _FormReader(HTMLParser):
    """The fields a browser submits from one form (checked boxes only, no buttons), in document order."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._chosen: str | None = None
        self._first: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside or not (a.get("name") or tag == "option"):
            return
        if tag == "input" and a.get("type") not in ("submit", "button", "search", "file"):
            checkable = a.get("type") in ("checkbox", "radio")
            if checkable and "checked" not in a:
                return
            # As a browser: a box without a value sends "on", a field without one sends "".
            self.fields.append((a["name"], a.get("value", "on" if checkable else "")))
        elif tag == "select":
            self._select, self._chosen, self._first = a["name"], None, None
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._first = value if self._first is None else self._first
            self._chosen = value if "selected" in a else self._chosen
        elif tag == "textarea":
            self._textarea, self._text = a["name"], []

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "select" and self._select is not None:
            self.fields.append((self._select, self._chosen if self._chosen is not None else self._first or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, "".join(self._text)))
            self._textarea = None
        elif tag == "form":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)


def form_fields(page: str, form_id: str = "editor") -> list[tuple[str, str]]:
    reader = _FormReader(form_id)
    reader.feed(page)
    return reader.fields


@dataclass(frozen=True)
class Opening:
    """The deal tab's first paint (the skeleton): where its htmx load POSTs, with which token and fields."""

    url: str
    token: str
    fields: list[tuple[str, str]]
    delay: float = 0.0  # a "busy" answer's form fills after this many seconds (hx-trigger "load delay:Ns")


class _OpeningReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form" and a.get("id") == "opening":
            self.attrs = a


def opening_of(page: str) -> Opening | None:
    """The skeleton's fill request (form#opening: hx-post, X-Opening-Token in hx-headers); None if absent."""
    reader = _OpeningReader()
    reader.feed(page)
    if not reader.attrs.get("hx-post"):
        return None
    headers = json.loads(reader.attrs.get("hx-headers") or "{}")
    trigger = reader.attrs.get("hx-trigger", "")
    delay = float(trigger.split("delay:", 1)[1].rstrip("s")) if "delay:" in trigger else 0.0
    token = str(headers.get("X-Opening-Token", ""))
    return Opening(reader.attrs["hx-post"], token, form_fields(page, "opening"), delay)


@dataclass(frozen=True)
class Opened:
    """A page the portal opened in the app's iframe: its HTML and the widget token it carries."""

    status: int
    html: str
    token: str

    @property
    def editor_ready(self) -> bool:
        return self.status == 200 and '<form id="editor"' in self.html
