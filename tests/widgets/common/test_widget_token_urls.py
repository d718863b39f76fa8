"""A widget token never travels in a URL, and a renewed one dies a fixed time after its placement.

A URL lands in access logs, proxies and Referer headers: a token copied from there must get
nothing, and even a token copied from a header must not stay renewable forever.
"""

from __future__ import annotations

import re
import time
from typing import Any
from unittest import mock

import pytest
import requests
from django.core import signing
from django.urls import reverse

from tests.conftest import SandboxPortal
from tests.widgets.layout_support import (  # noqa: F401 - fixtures
    AdminPage,
    admin_fixture,
    installed_fixture,
    stored_layout,
)
from tests.widgets.tab_support import DealTab, calls_since, deal_of, last_call_id, open_tab
from widgets.common.auth import MAX_LIFE, WidgetIdentity, widget_token_mint, widget_token_read


@pytest.fixture
def tab(sandbox: SandboxPortal, tab_portal: Any) -> DealTab:
    return open_tab(sandbox, deal_of(3), user=3)


def tab_url(tab: DealTab, name: str) -> str:
    return tab.sandbox.app_url.rstrip("/") + reverse(f"widgets:{name}", kwargs={"deal_id": tab.deal_id})


def refused(response: requests.Response) -> bool:
    return response.status_code == 403 and "X-Widget-Token" not in response.headers


def test_no_link_or_form_of_the_deal_tab_puts_the_token_in_a_url(tab: DealTab) -> None:
    assert "widget_token=" not in tab.page
    for form in re.findall(r"<form\b[^>]*>", tab.page):
        assert 'method="get"' not in form, form  # a GET form would send its hidden token in the URL


@pytest.mark.parametrize("name", ["tab_show", "tab_ping", "tab_products"])
def test_a_tab_token_in_the_query_string_is_not_accepted(tab: DealTab, name: str) -> None:
    mark = last_call_id()
    response = requests.get(tab_url(tab, name), params={"widget_token": tab.token, "q": "lic"}, timeout=30)
    assert refused(response)
    assert calls_since(mark) == []


def test_a_post_with_the_token_only_in_the_query_string_is_not_accepted(tab: DealTab) -> None:
    fields = [(n, v) for n, v in tab.fields if n != "widget_token"]
    url = tab_url(tab, "tab_rows") + "?widget_token=" + tab.token
    assert refused(requests.post(url, data=[*fields, ("action", "recalc")], timeout=30))


def test_the_retry_form_of_the_tab_posts_the_token_in_its_body(tab: DealTab) -> None:
    response = requests.post(tab_url(tab, "tab_show"), data={"widget_token": tab.token}, timeout=30)
    assert response.status_code == 200 and 'id="tab"' in response.text


def test_the_placement_token_carries_the_placement_time_and_renewals_keep_it(tab: DealTab) -> None:
    first = widget_token_read(tab.token)
    assert abs(first.issued_at - time.time()) < 120
    with mock.patch("time.time", return_value=time.time() + 600):  # ten minutes later, still one chain
        response = requests.get(tab_url(tab, "tab_ping"), headers={"X-Widget-Token": tab.token}, timeout=30)
        assert response.status_code == 204
        renewed = widget_token_read(response.headers["X-Widget-Token"])
    assert renewed.issued_at == first.issued_at


def test_a_token_at_its_hard_limit_cannot_be_renewed(tab: DealTab) -> None:
    identity = widget_token_read(tab.token)
    ping = tab_url(tab, "tab_ping")
    for age, accepted in ((MAX_LIFE - 60, True), (MAX_LIFE + 1, False), (10 * MAX_LIFE, False)):
        issued = int(time.time()) - age
        old = WidgetIdentity(identity.portal_id, identity.user_id, identity.deal_id, "tab", "en", issued)
        token = widget_token_mint(identity=old)  # freshly signed, as a renewal minutes ago would be
        response = requests.get(ping, headers={"X-Widget-Token": token}, timeout=30)
        assert (response.status_code == 204) is accepted, age
        if accepted:
            assert widget_token_read(response.headers["X-Widget-Token"]).issued_at == old.issued_at
        else:
            assert refused(response)


def test_a_token_without_a_placement_time_is_refused(tab: DealTab) -> None:
    payload = signing.loads(tab.token, salt="dealdesk.widget")
    payload.pop("i")
    legacy = signing.dumps(payload, salt="dealdesk.widget", compress=True)
    assert refused(requests.get(tab_url(tab, "tab_ping"), headers={"X-Widget-Token": legacy}, timeout=30))


# --- the card layout page -------------------------------------------------------------------------------


def test_no_link_or_form_of_the_layout_page_puts_the_token_in_a_url(admin: AdminPage) -> None:
    page = admin.response.text
    assert "widget_token=" not in page
    for form in re.findall(r"<form\b[^>]*>", page):
        assert 'method="get"' not in form and "hx-get" not in form, form
    assert re.search(r'<form method="post" action="/layout/export/"', page)


@pytest.mark.parametrize("name", ["layout_page", "layout_export", "layout_users", "layout_diff"])
def test_an_admin_token_in_the_query_string_is_not_accepted(admin: AdminPage, name: str) -> None:
    params = {"category": "1", "q": "anna", "widget_token": admin.token}
    response = requests.get(admin.url(name), params=params, timeout=30)
    assert refused(response)


def test_export_downloads_from_a_post_form_with_the_token_in_its_body(admin: AdminPage) -> None:
    response = requests.post(admin.url("layout_export"), data={"category": 1, "widget_token": admin.token}, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="card-layout-enterprise-saved.json"'
    assert [s["name"] for s in response.json()["data"]] == [s["name"] for s in stored_layout(1) or []]


def test_people_search_and_compare_work_as_plain_post_forms(admin: AdminPage) -> None:
    found = requests.post(admin.url("layout_users"), data={"q": "an", "widget_token": admin.token}, timeout=30)
    assert found.status_code == 200 and 'id="people-found"' in found.text
    assert "widget_token=" not in found.text
