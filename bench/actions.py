"""A sales rep's and an administrator's actions, run in this process through Django's test client.

The app runs here with its full middleware stack; the portal is the sandbox gunicorn, reached over
HTTP as always. Each request is timed twice: wall time here, and time spent inside b24app.client's
HTTP session (waiting on the portal). The difference is what our server adds.

ACTIONS is the registry the REST budget benchmark walks: adding an action is one entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.portal import Opened, answers_lost, deal_with_rows, form_fields, opening_of
from bench.stack import Config, app_cache_clear
from devtools.portal import placement_form, portal_query

TAB_USER = 3  # a sales rep, opening a deal assigned to them
ADMIN_USER = 1


@dataclass
class PortalWait:
    seconds: float = 0.0
    requests: int = 0


@contextmanager
def portal_timed() -> Iterator[PortalWait]:
    """Sum the time b24app.client spends in HTTP requests (this thread's pooled session)."""
    from b24app.client import http_session

    session = http_session()
    original = session.request
    wait = PortalWait()

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            wait.seconds += time.perf_counter() - started
            wait.requests += 1

    setattr(session, "request", timed)  # noqa: B010 - an instance attribute shadows the method
    try:
        yield wait
    finally:
        delattr(session, "request")


@dataclass
class Timed:
    """One request to the app: its answer, and where the time went."""

    page: Opened
    seconds: float
    portal_seconds: float
    portal_requests: int

    @property
    def server_seconds(self) -> float:
        return self.seconds - self.portal_seconds


class App:
    """The app in this process, addressed as the portal's iframe addresses it."""

    def __init__(self, *, app_url: str, sandbox_url: str) -> None:
        from django.test import Client

        self.sandbox_url = sandbox_url
        self.client = Client(HTTP_HOST=urlsplit(app_url).netloc)

    @classmethod
    def of(cls, config: Config) -> App:
        return cls(app_url=config.app_url, sandbox_url=config.sandbox_url)

    def post(
        self,
        path: str,
        fields: list[tuple[str, str]],
        *,
        token: str = "",
        htmx: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Timed:
        headers = {**(headers or {}), **({"X-Widget-Token": token} if token else {})}
        if htmx:
            headers["HX-Request"] = "true"
        with portal_timed() as wait:
            started = time.perf_counter()
            response = self.client.post(
                path, urlencode(fields), content_type="application/x-www-form-urlencoded", headers=headers
            )
            seconds = time.perf_counter() - started
        page = Opened(response.status_code, response.content.decode(), response.headers.get("X-Widget-Token", token))
        return Timed(page, seconds, wait.seconds, wait.requests)

    def placement(self, path: str, form: dict[str, str]) -> Timed:
        """The placement POST and, for the deal tab, the fill its skeleton sends at once (htmx load):
        one user action, so its requests, times and REST calls are the sum of both."""
        painted = self.placement_paint(path, form)
        opening = opening_of(painted.page.html) if painted.page.status == 200 else None
        if opening is None:
            return painted
        headers = {"X-Opening-Token": opening.token}
        filled = self.post(opening.url, opening.fields, htmx=True, headers=headers)
        again = opening_of(filled.page.html) if filled.page.status == 200 else None
        while again is not None:  # "Bitrix24 is busy": the page polls again (no REST request in the busy answers)
            time.sleep(again.delay)
            more = self.post(again.url, again.fields, htmx=True, headers={"X-Opening-Token": again.token})
            filled = Timed(
                more.page,
                filled.seconds + more.seconds,
                filled.portal_seconds + more.portal_seconds,
                filled.portal_requests + more.portal_requests,
            )
            again = opening_of(more.page.html) if more.page.status == 200 else None
        return Timed(
            filled.page,
            painted.seconds + filled.seconds,
            painted.portal_seconds + filled.portal_seconds,
            painted.portal_requests + filled.portal_requests,
        )

    def placement_paint(self, path: str, form: dict[str, str]) -> Timed:
        """The placement POST alone: for the deal tab, its first paint (the skeleton)."""
        return self.post(f"{path}?{portal_query(self.sandbox_url)}", list(form.items()))


def url(name: str, **kwargs: Any) -> str:
    from django.urls import reverse

    return reverse(f"widgets:{name}", kwargs=kwargs or None)


# --- the deal tab --------------------------------------------------------------------------------


@dataclass
class Tab:
    deal_id: int
    page: Opened
    saves: int = 0


def tab_open(app: App, *, deal_id: int, cold: bool) -> tuple[Tab, Timed]:
    if cold:
        app_cache_clear()
    form = placement_form(user=TAB_USER, placement="CRM_DEAL_DETAIL_TAB", deal_id=deal_id)
    timed = app.placement(url("tab_placement"), form)
    return Tab(deal_id, timed.page), timed


def _press_save(app: App, tab: Tab, endpoint: str, edited: list[tuple[str, str]], *, form: str) -> Timed:
    """Post the edited form with Save; the answer's form (id `form`) is what the next save edits."""
    timed = app.post(url(endpoint, deal_id=tab.deal_id), [*edited, ("action", "save")], token=tab.page.token, htmx=True)
    tab.saves += 1
    if timed.page.status == 200 and f'<form id="{form}"' in timed.page.html:
        tab.page = timed.page
    return timed


def rows_save(app: App, tab: Tab) -> Timed:
    """Change the first row's price (alternating, so every save writes) and press Save."""
    fields = form_fields(tab.page.html)
    price = "101.50" if tab.saves % 2 == 0 else "99.25"
    edited = [(name, price if name == "rows-0-price" else value) for name, value in fields]
    return _press_save(app, tab, "tab_rows", edited, form="editor")


def rows_saved(timed: Timed) -> bool:
    return timed.page.status == 200 and "Saved." in timed.page.html


def deal_with_contacts(*, user: int, at_least: int = 2, at_most: int = 10) -> int:
    """A seeded deal assigned to `user` whose contacts fit the opening batch, with a few to reorder."""
    from sandbox.models import Deal, DealContact

    for deal in Deal.objects.filter(assigned_by_id=user).order_by("id"):
        if at_least <= DealContact.objects.filter(deal=deal).count() <= at_most:
            return int(deal.pk)
    raise RuntimeError("the seed has no deal with contacts")


def contacts_save(app: App, tab: Tab) -> Timed:
    """Make the next contact primary (round the list, so every save writes) and press Save contacts."""
    fields = form_fields(tab.page.html, "contacts")
    values = dict(fields)
    count = int(values["contacts-count"])
    primary = str((int(values["contacts-primary"]) + 1) % max(count, 1))
    edited = [(name, primary if name == "contacts-primary" else value) for name, value in fields]
    return _press_save(app, tab, "tab_contacts", edited, form="contacts")


# --- the card layout page ------------------------------------------------------------------------------


def layout_open(app: App, *, cold: bool) -> Timed:
    if cold:
        app_cache_clear()
    return app.placement(url("layout_home"), placement_form(user=ADMIN_USER, placement="DEFAULT"))


def layout_save(app: App, page: Opened) -> Timed:
    fields = form_fields(page.html)
    return app.post(url("layout_save"), [*fields, ("action", "save")], token=page.token, htmx=True)


# --- the registry -------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    ok: bool
    timed: Timed | None = None
    detail: str = ""


@dataclass
class Action:
    """One user action: `prepare` runs unmeasured, `act` is what is counted."""

    key: str
    label: str
    budget: int | None
    act: Callable[[App, dict[str, Any]], Outcome] | None
    prepare: Callable[[App, dict[str, Any]], None] = lambda app, state: None
    note: str = ""


def _open_cold(app: App, state: dict[str, Any]) -> Outcome:
    tab, timed = tab_open(app, deal_id=deal_with_rows(user=TAB_USER), cold=True)
    state["tab"] = tab
    return Outcome(tab.page.editor_ready, timed)


def _open_warm(app: App, state: dict[str, Any]) -> Outcome:
    tab, timed = tab_open(app, deal_id=deal_with_rows(user=TAB_USER), cold=False)
    state["tab"] = tab
    return Outcome(tab.page.editor_ready, timed)


def _prepare_tab(app: App, state: dict[str, Any]) -> None:
    state["tab"], _ = tab_open(app, deal_id=deal_with_rows(user=TAB_USER), cold=False)


def _save_rows(app: App, state: dict[str, Any]) -> Outcome:
    timed = rows_save(app, state["tab"])
    return Outcome(rows_saved(timed), timed)


def _prepare_contacts(app: App, state: dict[str, Any]) -> None:
    state["tab"], _ = tab_open(app, deal_id=deal_with_contacts(user=TAB_USER), cold=False)


def _save_contacts(app: App, state: dict[str, Any]) -> Outcome:
    timed = contacts_save(app, state["tab"])
    return Outcome(timed.page.status == 200 and ">Saved.<" in timed.page.html, timed)


def _prepare_layout(app: App, state: dict[str, Any]) -> None:
    state["layout"] = layout_open(app, cold=False).page


def _open_layout(app: App, state: dict[str, Any]) -> Outcome:
    timed = layout_open(app, cold=True)
    return Outcome(timed.page.editor_ready, timed)


def _save_layout(app: App, state: dict[str, Any]) -> Outcome:
    timed = layout_save(app, state["layout"])
    return Outcome(timed.page.status == 200 and "Saved as version" in timed.page.html, timed)


def _save_rows_unanswered(app: App, state: dict[str, Any]) -> Outcome:
    with answers_lost():
        timed = rows_save(app, state["tab"])
    return Outcome(rows_saved(timed), timed)


def _save_contacts_unanswered(app: App, state: dict[str, Any]) -> Outcome:
    with answers_lost():
        timed = contacts_save(app, state["tab"])
    return Outcome(timed.page.status == 200 and ">Saved.<" in timed.page.html, timed)


# --- another user's change, then our save ---------------------------------------------------------------

COLLEAGUE = 2  # the sales manager, who may change the rep's deals


def colleague_call(method: str, params: dict[str, Any]) -> Any:
    """Another user's change, made through the portal's REST API with their own token (not counted)."""
    from b24app.client import B24Client
    from b24app.models import Portal
    from b24app.oauth import OneOffTokens
    from devtools.portal import sandbox_tokens

    portal = Portal.objects.get()
    access, _ = sandbox_tokens(COLLEAGUE)
    client = B24Client(OneOffTokens(access, portal.client_endpoint, f"bench-{COLLEAGUE}"), max_retries=0)
    return client.call(method, params).result


ROW_KEYS = (
    *("ID", "PRODUCT_ID", "PRODUCT_NAME", "PRICE", "PRICE_EXCLUSIVE", "PRICE_NETTO", "PRICE_BRUTTO", "QUANTITY"),
    *("DISCOUNT_TYPE_ID", "DISCOUNT_RATE", "DISCOUNT_SUM", "TAX_RATE", "TAX_INCLUDED", "MEASURE_CODE", "MEASURE_NAME"),
)


def stored_rows(deal_id: int) -> list[tuple[str, str, str]]:
    from sandbox.models import ProductRow

    rows = ProductRow.objects.filter(deal_id=deal_id).order_by("sort", "id")
    return [(r.product_name, str(r.quantity), str(r.price)) for r in rows]


def stored_contacts(deal_id: int) -> list[tuple[int, bool]]:
    from sandbox.models import DealContact

    bound = DealContact.objects.filter(deal_id=deal_id).order_by("sort", "id")
    return [(b.contact_id, b.is_primary == "Y") for b in bound]


def _their_rows(deal_id: int) -> list[dict[str, Any]]:
    """The deal's rows as the sales manager reads them, ready to be changed and set back."""
    read = colleague_call("crm.deal.productrows.get", {"id": deal_id})
    return [{k: row[k] for k in ROW_KEYS if row.get(k) is not None} for row in read]


def _save_keeping_theirs(
    save: Callable[[App, Tab], Timed], stored: Callable[[int], object], warning: str, lost: str
) -> Callable[[App, dict[str, Any]], Outcome]:
    """Our save after another user's change: it passes when their change is kept and the page warns."""

    def act(app: App, state: dict[str, Any]) -> Outcome:
        timed = save(app, state["tab"])
        kept = stored(state["tab"].deal_id) == state["theirs"]
        shown = warning in timed.page.html
        return Outcome(timed.page.status == 200 and kept and shown, timed, "" if kept else lost)

    return act


_save_rows_after_reorder = _save_keeping_theirs(
    rows_save, stored_rows, "Someone else changed these products", "their order was lost"
)
_save_rows_after_same_second = _save_keeping_theirs(
    rows_save, stored_rows, "Someone else changed these products", "their rows were lost"
)
_save_contacts_after_change = _save_keeping_theirs(
    contacts_save, stored_contacts, "Someone else changed this deal", "their contacts were lost"
)


def _reorder_elsewhere(app: App, state: dict[str, Any]) -> None:
    """The rep opens the tab; the sales manager then moves the last row first (same totals: DATE_MODIFY kept)."""
    _prepare_tab(app, state)
    deal_id = state["tab"].deal_id
    rows = _their_rows(deal_id)
    rows = [rows[-1], *rows[:-1]]
    for index, row in enumerate(rows):
        row["SORT"] = (index + 1) * 10
    colleague_call("crm.deal.productrows.set", {"id": deal_id, "rows": rows})
    state["theirs"] = stored_rows(deal_id)


def _title_elsewhere(app: App, state: dict[str, Any]) -> None:
    """The rep opens the tab; the sales manager then renames the deal (DATE_MODIFY moves, rows as loaded)."""
    _prepare_tab(app, state)
    colleague_call("crm.deal.update", {"id": state["tab"].deal_id, "fields": {"TITLE": f"Renamed {time.time()}"}})


def _same_second_elsewhere(app: App, state: dict[str, Any]) -> None:
    """The sales manager changes the rows, the rep opens the tab, the manager changes them again: all
    within one second, so DATE_MODIFY (whole seconds) is the same before and after the second change."""
    from sandbox.models import Deal

    deal_id = deal_with_rows(user=TAB_USER)
    for _ in range(5):
        time.sleep(1.02 - time.time() % 1)  # just after a second begins
        rows = _their_rows(deal_id)
        rows[0]["QUANTITY"] = 3 if str(rows[0].get("QUANTITY")) != "3" else 4
        colleague_call("crm.deal.productrows.set", {"id": deal_id, "rows": rows})
        moment = Deal.objects.get(pk=deal_id).date_modify.replace(microsecond=0)
        state["tab"], _ = tab_open(app, deal_id=deal_id, cold=False)
        rows[0]["QUANTITY"] = int(rows[0]["QUANTITY"]) + 2
        colleague_call("crm.deal.productrows.set", {"id": deal_id, "rows": rows})
        if Deal.objects.get(pk=deal_id).date_modify.replace(microsecond=0) == moment:
            break
    state["theirs"] = stored_rows(deal_id)


def _contacts_elsewhere(app: App, state: dict[str, Any]) -> None:
    """The rep opens the tab; the sales manager then drops the deal's last contact (DATE_MODIFY kept)."""
    _prepare_contacts(app, state)
    deal_id = state["tab"].deal_id
    bound = stored_contacts(deal_id)
    colleague_call("crm.deal.contact.delete", {"id": deal_id, "fields": {"CONTACT_ID": bound[-1][0]}})
    state["theirs"] = stored_contacts(deal_id)


def _save_layout_unanswered(app: App, state: dict[str, Any]) -> Outcome:
    with answers_lost():
        timed = layout_save(app, state["layout"])
    return Outcome(timed.page.status == 200 and "Saved as version" in timed.page.html, timed)


ACTIONS: list[Action] = [
    Action("tab_open_cold", "open the deal tab (cold reference cache)", 1, _open_cold),
    Action("tab_open_warm", "open the deal tab (warm reference cache)", 1, _open_warm, _prepare_tab),
    Action("rows_save", "save product rows", 1, _save_rows, _prepare_tab),
    Action("contacts_save", "save contacts", 1, _save_contacts, _prepare_contacts),
    Action(
        "rows_save_other_field",
        "save product rows after another user renamed the deal",
        2,
        _save_rows,
        _title_elsewhere,
    ),
    Action(
        "rows_save_same_second",
        "save product rows after another user's change in the same second as the tab's read",
        2,
        _save_rows_after_same_second,
        _same_second_elsewhere,
    ),
    Action(
        "rows_save_after_reorder",
        "another user's reorder, then our save (conflict view, nothing lost)",
        2,
        _save_rows_after_reorder,
        _reorder_elsewhere,
    ),
    Action(
        "contacts_save_after_change",
        "another user's contact change, then our save (conflict view, nothing lost)",
        2,
        _save_contacts_after_change,
        _contacts_elsewhere,
    ),
    Action("layout_open", "open the card layout page", 1, _open_layout),
    Action("layout_save", "save a card layout", 2, _save_layout, _prepare_layout),
    Action("rows_save_unanswered", "save product rows, answer lost", 2, _save_rows_unanswered, _prepare_tab),
    Action("contacts_save_unanswered", "save contacts, answer lost", 2, _save_contacts_unanswered, _prepare_contacts),
    Action("layout_save_unanswered", "save a card layout, answer lost", 3, _save_layout_unanswered, _prepare_layout),
]
