"""The portal's web UI over real HTTP: pages, the deal card and its app tabs, log and faults."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import SandboxPortal

DEAL_TAB = "CRM_DEAL_DETAIL_TAB"
PLACEMENT_FIELDS = [
    "AUTH_ID",
    "AUTH_EXPIRES",
    "REFRESH_ID",
    "SERVER_ENDPOINT",
    "APPLICATION_TOKEN",
    "APPLICATION_SCOPE",
    "member_id",
    "status",
    "PLACEMENT",
    "PLACEMENT_OPTIONS",
]


# --- Helpers: a tiny HTML reader and a signed-in browser session -----------------------------


@dataclass
class Form:
    attrs: dict[str, str]
    inputs: list[tuple[str, str]] = field(default_factory=list)

    def value(self, name: str) -> str:
        return next(v for n, v in self.inputs if n == name)


class Html(HTMLParser):
    """Start tags with their attributes, and the forms with their named inputs."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        if tag == "form":
            self._form = Form(values)
            self.forms.append(self._form)
        elif tag in ("input", "select", "textarea") and self._form is not None and "name" in values:
            self._form.inputs.append((values["name"], values.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def with_attr(self, tag: str, name: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and name in a]


def page(sandbox: SandboxPortal, path: str, **kwargs: Any) -> requests.Response:
    return sandbox.session.get(sandbox.url + path, timeout=30, **kwargs)


def csrf(sandbox: SandboxPortal) -> str:
    token = sandbox.session.cookies.get("csrftoken")
    if not token:
        page(sandbox, "")
        token = sandbox.session.cookies.get("csrftoken")
    assert token
    return str(token)


def post(sandbox: SandboxPortal, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> requests.Response:
    body = {"csrfmiddlewaretoken": csrf(sandbox), **(data or {})}
    return sandbox.session.post(sandbox.url + path, data=body, timeout=30, **kwargs)


def post_xhr(sandbox: SandboxPortal, path: str, data: dict[str, Any]) -> requests.Response:
    """What applayout.js sends: a form body with the CSRF token in X-CSRFToken."""
    return sandbox.session.post(sandbox.url + path, data=data, headers={"X-CSRFToken": csrf(sandbox)}, timeout=30)


def sign_in_as(sandbox: SandboxPortal, user_id: int) -> None:
    response = post(sandbox, "switch-user/", {"user_id": user_id, "next": "/sandbox/"})
    assert response.status_code == 200, response.text


def bind_deal_tab(sandbox: SandboxPortal, **extra: Any) -> Any:
    from sandbox.models import App, PlacementBinding

    app = App.objects.get()
    return PlacementBinding.objects.create(
        app=app, placement=DEAL_TAB, handler=f"{sandbox.app_url}b24/deal-tab/", title="Deal Desk", **extra
    )


def app_frame(html: Html) -> tuple[dict[str, str], Form]:
    """The (only) app iframe on a page and the form that targets it."""
    (iframe,) = html.with_attr("iframe", "data-b24-app")
    (form,) = [f for f in html.forms if f.attrs.get("target") == iframe["name"]]
    return iframe, form


def deal_in(category_id: int) -> Any:
    from sandbox.models import Deal

    return Deal.objects.filter(category_id=category_id).order_by("id").first()


# --- Home and deal lists -------------------------------------------------------------------


def test_home_tells_a_newcomer_to_install_deal_desk_first_and_shows_it_is_not_installed(
    sandbox: SandboxPortal,
) -> None:
    response = page(sandbox, "")
    assert response.status_code == 200
    assert "Install Deal Desk from the Marketplace" in response.text
    assert "Not installed" in response.text
    assert "Open a deal" in response.text
    assert "Signed in as" in response.text
    html = Html(response.text)
    assert html.find("option", value="1", selected="")  # user 1 until someone switches


def test_home_shows_installed_once_the_app_is_installed(sandbox: SandboxPortal) -> None:
    sandbox.install_app()
    assert re.search(r'class="badge ok">Installed<', page(sandbox, "").text)


def test_the_deals_list_shows_one_funnel_with_stage_amount_and_assignee(sandbox: SandboxPortal) -> None:
    from sandbox.models import Currency, Deal, Status, User
    from sandbox.views.pages import format_money

    response = page(sandbox, "crm/deal/", params={"category": 1})
    assert response.status_code == 200
    deals = list(Deal.objects.filter(category_id=1))
    assert deals
    for deal in deals:
        assert f'href="/sandbox/crm/deal/details/{deal.pk}/"' in response.text
    other = Deal.objects.filter(category_id=0)[0]
    assert f'href="/sandbox/crm/deal/details/{other.pk}/"' not in response.text
    deal = deals[0]
    stage = Status.objects.get(entity_id="DEAL_STAGE_1", status_id=deal.stage_id)
    assert stage.name in response.text and stage.color in response.text
    amount = format_money(deal.opportunity, Currency.objects.get(code=deal.currency_id))
    assert amount.replace("\u00a0", "\xa0") in response.text
    assert User.objects.get(pk=deal.assigned_by_id).full_name in response.text
    assert "Enterprise" in response.text and "Partners" in response.text  # the funnel tabs


def test_money_is_formatted_with_each_currencys_own_format() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from sandbox.models import Currency
    from sandbox.views.pages import format_money

    now = datetime.now(UTC)
    usd = Currency(code="USD", format_string="$#", dec_point=".", thousands_sep=",", decimals=2, date_update=now)
    eur = Currency(code="EUR", format_string="# €", dec_point=",", thousands_sep="&nbsp;", decimals=2, date_update=now)
    assert format_money(Decimal("1234567.5"), usd) == "$1,234,567.50"
    assert format_money(Decimal("999"), usd) == "$999.00"
    assert format_money(Decimal("-1000"), usd) == "$-1,000.00"
    assert format_money(Decimal("1234.5"), eur) == "1\u00a0234,50 €"


def test_an_unknown_funnel_or_deal_is_a_404_page_in_the_portals_style(sandbox: SandboxPortal) -> None:
    for path in (
        "crm/deal/?category=99",
        "crm/deal/?category=x",
        "crm/deal/details/99999/",
        "crm/deal/details/99999/edit/",
        "crm/deal/details/99999/delete/",
    ):
        response = page(sandbox, path)
        assert response.status_code == 404, path
        assert "Not found" in response.text and "Signed in as" in response.text


# --- The deal card -------------------------------------------------------------------------


def test_the_deal_card_shows_the_layout_sections_in_order_with_labels_and_values(sandbox: SandboxPortal) -> None:
    from sandbox.card_layout import effective_layout

    deal = deal_in(0)
    response = page(sandbox, f"crm/deal/details/{deal.pk}/")
    assert response.status_code == 200
    html = Html(response.text)
    sections = [a["data-section"] for a in html.with_attr("section", "data-section")]
    expected = [s["name"] for s in effective_layout(category_id=0, user_id=1)]
    assert sections == expected
    assert deal.title in response.text
    assert "Amount and currency" in response.text and "Deal Stage" in response.text
    assert "Contract number" in response.text  # a user field's label, not its UF_CRM_ name
    for tab in ("General", "Products", "Contacts"):
        assert html.find("button", role="tab", id=f"tab-{tab.lower()}")


def test_the_deal_card_follows_a_changed_common_card_configuration(sandbox: SandboxPortal) -> None:
    from sandbox.models import CardConfig

    deal = deal_in(0)
    layout = [
        {"name": "money", "title": "Money first", "type": "section", "elements": [{"name": "OPPORTUNITY"}]},
        {"name": "people", "title": "People", "type": "section", "elements": [{"name": "ASSIGNED_BY_ID"}]},
    ]
    CardConfig.objects.update_or_create(category_id=0, scope="C", user_id=None, defaults={"data": layout})
    html = Html(page(sandbox, f"crm/deal/details/{deal.pk}/").text)
    assert [a["data-section"] for a in html.with_attr("section", "data-section")] == ["money", "people"]
    assert [a["data-field"] for a in html.with_attr("div", "data-field")] == ["OPPORTUNITY", "ASSIGNED_BY_ID"]


def test_a_personal_card_configuration_wins_for_its_owner_only(sandbox: SandboxPortal) -> None:
    from sandbox.models import CardConfig

    deal = deal_in(0)
    mine = [{"name": "mine", "title": "Mine", "type": "section", "elements": [{"name": "TITLE"}]}]
    CardConfig.objects.create(category_id=0, scope="P", user_id=2, data=mine)
    assert 'data-section="mine"' not in page(sandbox, f"crm/deal/details/{deal.pk}/").text
    sign_in_as(sandbox, 2)
    assert 'data-section="mine"' in page(sandbox, f"crm/deal/details/{deal.pk}/").text


def test_the_products_tab_lists_the_rows_with_a_total(sandbox: SandboxPortal) -> None:
    from sandbox.models import Currency, Deal
    from sandbox.views.pages import format_money

    deal = Deal.objects.filter(product_rows__isnull=False, is_manual_opportunity="N").distinct()[0]
    response = page(sandbox, f"crm/deal/details/{deal.pk}/")
    for row in deal.product_rows.all():
        assert row.product_name in response.text
    assert "Total" in response.text
    # The tab's total is the deal's amount: both are the basket of the rows.
    currency = Currency.objects.get(code=deal.currency_id)
    assert format_money(deal.opportunity, currency) in response.text
    assert format_money(deal.tax_value, currency) in response.text


# --- App tabs: the placement POST ------------------------------------------------------------


def test_an_installed_apps_deal_tab_is_an_iframe_filled_by_the_documented_placement_post(
    sandbox: SandboxPortal,
) -> None:
    from sandbox.models import AccessToken, RefreshToken
    from sandbox.portal import get_portal

    app = sandbox.install_app()
    bind_deal_tab(sandbox, lang_all={"en": {"TITLE": "Products & contacts"}})
    deal = deal_in(0)
    response = page(sandbox, f"crm/deal/details/{deal.pk}/")
    html = Html(response.text)
    assert "Products &amp; contacts" in response.text  # the tab's title from LANG_ALL

    iframe, form = app_frame(html)
    host = urlsplit(sandbox.url).netloc
    sid = iframe["data-app-sid"]
    assert re.fullmatch(r"[0-9a-f]{32}", sid)
    assert iframe["name"] == f"{host}|0|{sid}"
    assert iframe["data-app-origin"] == sandbox.app_url.rstrip("/")
    assert form.attrs["method"] == "post"
    action = urlsplit(form.attrs["action"])
    assert f"{action.scheme}://{action.netloc}{action.path}" == f"{sandbox.app_url}b24/deal-tab/"
    assert parse_qs(action.query) == {"DOMAIN": [host], "PROTOCOL": ["0"], "LANG": ["en"], "APP_SID": [sid]}

    assert [name for name, _ in form.inputs] == PLACEMENT_FIELDS
    access = AccessToken.objects.get(token=form.value("AUTH_ID"))
    assert (access.user_id, access.app_id) == (1, app.pk)
    assert RefreshToken.objects.get(token=form.value("REFRESH_ID")).user_id == 1
    assert form.value("AUTH_EXPIRES") == "3600"
    assert form.value("SERVER_ENDPOINT") == f"{sandbox.url}oauth/rest/"
    assert form.value("APPLICATION_TOKEN") == app.application_token
    assert form.value("APPLICATION_SCOPE") == app.scope
    assert form.value("member_id") == get_portal().member_id
    assert form.value("status") == "L"
    assert form.value("PLACEMENT") == DEAL_TAB
    assert form.value("PLACEMENT_OPTIONS") == json.dumps({"ID": str(deal.pk)}, separators=(",", ":"))

    init = json.loads(iframe["data-init"])
    assert init["AUTH_ID"] == form.value("AUTH_ID") and init["REFRESH_ID"] == form.value("REFRESH_ID")
    assert init["PLACEMENT_OPTIONS"] == {"ID": str(deal.pk)}
    assert (init["PATH"], init["DOMAIN"], init["PROTOCOL"], init["LANG"]) == ("/sandbox/rest", host, 0, "en")
    assert (init["INSTALL"], init["IS_ADMIN"], init["MEMBER_ID"]) == (False, True, form.value("member_id"))
    for url_attr in ("data-refresh-url", "data-install-finish-url", "data-option-url"):
        assert iframe[url_attr].startswith("/sandbox/")
    # The posted token really works on the REST endpoint.
    assert sandbox.result("user.current", {}, user=1)["ID"] == "1"
    assert sandbox.call("user.current", token=form.value("AUTH_ID")).json()["result"]["ID"] == "1"


def test_every_render_of_a_tab_gets_a_new_app_sid(sandbox: SandboxPortal) -> None:
    sandbox.install_app()
    bind_deal_tab(sandbox)
    deal = deal_in(0)
    first, _ = app_frame(Html(page(sandbox, f"crm/deal/details/{deal.pk}/").text))
    second, _ = app_frame(Html(page(sandbox, f"crm/deal/details/{deal.pk}/").text))
    assert first["data-app-sid"] != second["data-app-sid"]


def test_a_placement_of_an_app_still_installing_is_not_shown(sandbox: SandboxPortal) -> None:
    from sandbox.models import App

    bind_deal_tab(sandbox)
    App.objects.update(state=App.State.INSTALLING)
    html = Html(page(sandbox, f"crm/deal/details/{deal_in(0).pk}/").text)
    assert not html.with_attr("iframe", "data-b24-app")


def test_switching_user_changes_whose_tokens_the_tab_gets(sandbox: SandboxPortal) -> None:
    from sandbox.models import AccessToken

    sandbox.install_app()
    bind_deal_tab(sandbox)
    sign_in_as(sandbox, 3)
    response = page(sandbox, f"crm/deal/details/{deal_in(0).pk}/")
    assert Html(response.text).find("option", value="3", selected="")
    iframe, form = app_frame(Html(response.text))
    assert AccessToken.objects.get(token=form.value("AUTH_ID")).user_id == 3
    assert json.loads(iframe["data-init"])["IS_ADMIN"] is False


def test_switching_to_an_unknown_user_is_refused_with_a_message(sandbox: SandboxPortal) -> None:
    response = post(sandbox, "switch-user/", {"user_id": 999})
    assert response.status_code == 200
    assert "Choose one of the portal" in response.text
    assert Html(response.text).find("option", value="1", selected="")


def test_refresh_auth_gives_fresh_tokens_to_a_rendered_frame_only(sandbox: SandboxPortal) -> None:
    from sandbox.models import AccessToken

    sandbox.install_app()
    bind_deal_tab(sandbox)
    iframe, form = app_frame(Html(page(sandbox, f"crm/deal/details/{deal_in(0).pk}/").text))
    response = post_xhr(sandbox, "app/refresh-auth/", {"app_sid": iframe["data-app-sid"]})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID"}
    assert body["AUTH_ID"] != form.value("AUTH_ID")
    assert AccessToken.objects.get(token=body["AUTH_ID"]).user_id == 1
    unknown = post_xhr(sandbox, "app/refresh-auth/", {"app_sid": "0" * 32})
    assert unknown.status_code == 400


def test_app_options_are_saved_for_admins_and_refused_for_others(sandbox: SandboxPortal) -> None:
    from sandbox.models import App

    sandbox.install_app()
    bind_deal_tab(sandbox)
    deal_id = deal_in(0).pk
    iframe, _ = app_frame(Html(page(sandbox, f"crm/deal/details/{deal_id}/").text))
    saved = post_xhr(
        sandbox, "app/option/", {"app_sid": iframe["data-app-sid"], "kind": "app", "name": "mode", "value": "x"}
    )
    assert saved.json() == {"name": "mode", "value": "x"}
    assert App.objects.get().app_options["mode"] == "x"
    post_xhr(sandbox, "app/option/", {"app_sid": iframe["data-app-sid"], "kind": "user", "name": "tab", "value": "2"})
    iframe, _ = app_frame(Html(page(sandbox, f"crm/deal/details/{deal_id}/").text))
    assert json.loads(iframe["data-init"])["USER_OPTIONS"] == {"tab": "2"}
    assert json.loads(iframe["data-init"])["APP_OPTIONS"] == {"mode": "x"}

    sign_in_as(sandbox, 3)
    iframe, _ = app_frame(Html(page(sandbox, f"crm/deal/details/{deal_id}/").text))
    refused = post_xhr(
        sandbox, "app/option/", {"app_sid": iframe["data-app-sid"], "kind": "app", "name": "m", "value": "y"}
    )
    assert refused.status_code == 403


# --- Editing and deleting from the card --------------------------------------------------------


def bind_event(sandbox: SandboxPortal, event: str) -> Any:
    from sandbox.models import App, EventBinding

    return EventBinding.objects.create(app=App.objects.get(), event=event, handler=f"{sandbox.app_url}b24/events/")


def edit_form(sandbox: SandboxPortal, deal_id: int) -> dict[str, str]:
    response = page(sandbox, f"crm/deal/details/{deal_id}/edit/")
    assert response.status_code == 200
    form = next(f for f in Html(response.text).forms if f.attrs.get("action", "").endswith("/edit/"))
    data = dict(form.inputs)
    # <select> and <textarea> values are not in the tags' attributes; take them from the deal.
    from sandbox.models import Deal

    deal = Deal.objects.get(pk=deal_id)
    data.update(
        stage_id=deal.stage_id,
        assigned_by_id=str(deal.assigned_by_id),
        comments=deal.comments,
        currency_id=deal.currency_id,
    )
    return data


def test_editing_a_deal_through_the_form_saves_it_and_queues_oncrmdealupdate(
    sandbox: SandboxPortal, settings: Any
) -> None:
    from sandbox.models import Deal, EventDelivery

    settings.SANDBOX_EVENTS_SYNC = True
    sandbox.install_app()
    bind_event(sandbox, "ONCRMDEALUPDATE")
    deal = deal_in(0)
    data = edit_form(sandbox, deal.pk)
    data.update(title="Renamed from the card", stage_id="EXECUTING", closedate="2025-12-31", comments="Hello")
    response = post(sandbox, f"crm/deal/details/{deal.pk}/edit/", data)
    assert response.status_code == 200 and response.url.endswith(f"/crm/deal/details/{deal.pk}/")
    assert "Deal saved." in response.text
    deal.refresh_from_db()
    assert (deal.title, deal.stage_id, str(deal.closedate), deal.comments) == (
        "Renamed from the card",
        "EXECUTING",
        "2025-12-31",
        "Hello",
    )
    assert (deal.modify_by_id, deal.moved_by_id) == (1, 1)
    (delivery,) = EventDelivery.objects.filter(event="ONCRMDEALUPDATE")
    assert delivery.payload["data"] == {"FIELDS": {"ID": str(deal.pk)}}
    assert delivery.payload["auth"]["user_id"] == "1"
    assert Deal.objects.get(pk=deal.pk).title == "Renamed from the card"


def test_bad_form_values_show_form_errors_and_change_nothing(sandbox: SandboxPortal) -> None:
    from sandbox.models import EventDelivery

    sandbox.install_app()
    bind_event(sandbox, "ONCRMDEALUPDATE")
    deal = deal_in(1)
    data = edit_form(sandbox, deal.pk)
    data.update(title="", stage_id="NEW", closedate="31/31/2025", assigned_by_id="abc", opportunity="-5")
    response = post(sandbox, f"crm/deal/details/{deal.pk}/edit/", data)
    assert response.status_code == 200
    assert response.text.count('class="error"') >= 3
    assert "This field is required." in response.text
    deal_after = deal_in(1)
    assert (deal_after.title, deal_after.stage_id) == (deal.title, deal.stage_id)
    assert not EventDelivery.objects.exists()


def test_a_read_only_user_sees_the_card_read_only_and_cannot_edit_or_delete(sandbox: SandboxPortal) -> None:
    from sandbox.models import Deal, EventDelivery

    sandbox.install_app()
    bind_event(sandbox, "ONCRMDEALUPDATE")
    deal = deal_in(0)
    sign_in_as(sandbox, 5)
    card = page(sandbox, f"crm/deal/details/{deal.pk}/").text
    assert "Read-only" in card
    assert f"/crm/deal/details/{deal.pk}/edit/" not in card
    response = post(sandbox, f"crm/deal/details/{deal.pk}/edit/", {"title": "Hijacked", "stage_id": deal.stage_id})
    assert "may not edit this deal" in response.text
    assert post(sandbox, f"crm/deal/details/{deal.pk}/delete/").status_code == 200
    assert Deal.objects.get(pk=deal.pk).title == deal.title
    assert not EventDelivery.objects.exists()


def test_a_rep_edits_own_deals_but_not_a_colleagues(sandbox: SandboxPortal) -> None:
    from sandbox.models import Deal

    mine = Deal.objects.filter(assigned_by_id=3)[0]
    theirs = Deal.objects.exclude(assigned_by_id=3)[0]
    sign_in_as(sandbox, 3)
    assert f"/crm/deal/details/{mine.pk}/edit/" in page(sandbox, f"crm/deal/details/{mine.pk}/").text
    assert "Read-only" in page(sandbox, f"crm/deal/details/{theirs.pk}/").text


def test_deleting_a_deal_queues_oncrmdealdelete(sandbox: SandboxPortal, settings: Any) -> None:
    from sandbox.models import Deal, EventDelivery

    settings.SANDBOX_EVENTS_SYNC = True
    sandbox.install_app()
    bind_event(sandbox, "ONCRMDEALDELETE")
    deal = deal_in(2)
    confirm = page(sandbox, f"crm/deal/details/{deal.pk}/delete/")
    assert "Delete this deal?" in confirm.text and Deal.objects.filter(pk=deal.pk).exists()  # GET changes nothing
    response = post(sandbox, f"crm/deal/details/{deal.pk}/delete/")
    assert response.status_code == 200 and "deleted" in response.text
    assert not Deal.objects.filter(pk=deal.pk).exists()
    (delivery,) = EventDelivery.objects.filter(event="ONCRMDEALDELETE")
    assert delivery.payload["data"] == {"FIELDS": {"ID": str(deal.pk)}}


# --- Request log ---------------------------------------------------------------------------


def test_the_request_log_page_and_log_json_show_the_calls_and_clear_empties_them(sandbox: SandboxPortal) -> None:
    sandbox.result("user.current", user=2)
    sandbox.result("batch", {"cmd": {"a": "user.current", "b": "user.admin"}})
    sandbox.call("no.such.method")
    text = page(sandbox, "log/").text
    assert "user.current" in text and "ERROR_METHOD_NOT_FOUND" in text and "2 commands" in text
    assert "Mark Brennan" in text

    rows = page(sandbox, "log.json").json()["rows"]
    assert [r["method"] for r in rows] == ["user.current", "batch", "no.such.method"]
    assert rows[1]["batch_size"] == 2 and rows[1]["batch_methods"] == ["user.current", "user.admin"]
    assert rows[0]["user_id"] == 2 and rows[0]["http_status"] == 200
    assert rows[2]["http_status"] == 404 and rows[2]["error"] == "ERROR_METHOD_NOT_FOUND"
    assert set(rows[0]) >= {"id", "time", "caller", "duration_ms"}
    since = page(sandbox, "log.json", params={"since_id": rows[0]["id"]}).json()
    assert [r["id"] for r in since["rows"]] == [rows[1]["id"], rows[2]["id"]]
    assert since["last_id"] == rows[2]["id"]
    assert page(sandbox, "log.json", params={"since_id": "x"}).status_code == 400

    assert page(sandbox, "log/clear/").status_code == 405  # GET never changes state
    cleared = post(sandbox, "log/clear/")
    assert "Cleared 3 logged calls." in cleared.text
    assert page(sandbox, "log.json").json()["rows"] == []


# --- Faults --------------------------------------------------------------------------------


def faults_json(sandbox: SandboxPortal, body: dict[str, Any]) -> requests.Response:
    return requests.post(sandbox.url + "faults.json", json=body, timeout=30)


def test_fault_limit_makes_every_rest_call_answer_503_query_limit_exceeded(sandbox: SandboxPortal) -> None:
    token = sandbox.token()
    state = faults_json(sandbox, {"fault": "limit"})
    assert state.status_code == 200 and state.json()["fault"] == "limit"
    response = sandbox.call("user.current", token=token)
    assert response.status_code == 503
    assert response.json()["error"] == "QUERY_LIMIT_EXCEEDED"
    faults_json(sandbox, {"fault": ""})
    assert sandbox.call("user.current", token=token).status_code == 200


def test_fault_down_html_makes_the_rest_endpoint_answer_a_502_html_page(sandbox: SandboxPortal) -> None:
    faults_json(sandbox, {"fault": "down_html"})
    response = sandbox.call("user.current")
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")


def test_expiring_all_tokens_makes_old_tokens_answer_expired_token(sandbox: SandboxPortal) -> None:
    token = sandbox.token()
    state = faults_json(sandbox, {"expire_tokens": True})
    assert state.status_code == 200 and state.json()["expired_tokens"] >= 1
    response = sandbox.call("user.current", token=token)
    assert (response.status_code, response.json()["error"]) == (401, "expired_token")


def test_faults_json_sets_limits_and_delay_and_rejects_bad_values(sandbox: SandboxPortal) -> None:
    state = faults_json(sandbox, {"limits_enabled": True, "rate": 0.5, "burst": 2, "delay_ms": 5}).json()
    assert (state["limits_enabled"], state["rate"], state["burst"], state["delay_ms"]) == (True, 0.5, 2, 5)
    token = sandbox.token()
    statuses = [sandbox.call("user.admin", token=token).status_code for _ in range(3)]
    assert statuses == [200, 200, 503]
    reset = faults_json(sandbox, {"limits_enabled": None, "rate": None, "burst": None, "delay_ms": 0}).json()
    assert (reset["limits_enabled"], reset["limits_override"], reset["delay_ms"]) == (False, None, 0)
    for bad in ({"fault": "meteor"}, {"delay_ms": -1}, {"rate": "fast"}, {"burst": 0}, {"limits_enabled": "yes"}):
        assert faults_json(sandbox, bad).status_code == 400, bad
    assert requests.post(sandbox.url + "faults.json", data=b"[1]", timeout=30).status_code == 400
    assert requests.post(sandbox.url + "faults.json", data=b"{nope", timeout=30).status_code == 400


def test_the_faults_page_saves_the_form_and_confirms_what_changed(sandbox: SandboxPortal) -> None:
    from sandbox.models import Portal

    assert page(sandbox, "faults/").status_code == 200
    response = post(sandbox, "faults/", {"fault": "down_html", "fault_delay_ms": "0", "limits": "off"})
    assert "Saved. The REST endpoint now" in response.text
    portal = Portal.objects.get()
    assert (portal.fault, portal.limits_enabled) == ("down_html", False)
    invalid = post(sandbox, "faults/", {"fault": "bogus", "fault_delay_ms": "-3"})
    assert invalid.status_code == 200 and 'class="error"' in invalid.text
    expired = post(sandbox, "faults/", {"action": "expire_tokens"})
    assert "Expired" in expired.text


# --- Security and odds and ends ------------------------------------------------------------


def test_state_changing_urls_refuse_get_and_posts_without_csrf(sandbox: SandboxPortal) -> None:
    for path in (
        "switch-user/",
        "marketplace/1/install/",
        "marketplace/1/uninstall/",
        "log/clear/",
        "app/refresh-auth/",
        "app/option/",
        "marketplace/1/install-finish/",
    ):
        assert page(sandbox, path).status_code == 405, path
    csrf(sandbox)
    response = sandbox.session.post(sandbox.url + "marketplace/1/install/", data={}, timeout=30)
    assert response.status_code == 403


def test_bx24_js_is_served_to_other_sites_as_javascript(sandbox: SandboxPortal) -> None:
    response = requests.get(sandbox.url + "bx24.js", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "BX24" in response.text


@pytest.mark.parametrize("path", ["", "crm/deal/", "marketplace/", "log/", "faults/"])
def test_every_page_has_the_top_bar_with_the_navigation(sandbox: SandboxPortal, path: str) -> None:
    text = page(sandbox, path).text
    for label in ("Deals", "Marketplace", "Request log", "Faults", "Signed in as"):
        assert label in text


def test_the_switcher_never_redirects_to_another_site(sandbox: SandboxPortal) -> None:
    response = post(sandbox, "switch-user/", {"user_id": 2, "next": "https://evil.example/"}, allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == "/sandbox/"


def test_an_unseeded_portal_says_how_to_seed_it_instead_of_failing(sandbox: SandboxPortal) -> None:
    from sandbox.models import User

    User.objects.all().delete()
    response = page(sandbox, "")
    assert response.status_code == 503
    assert "sandbox_seed" in response.text
