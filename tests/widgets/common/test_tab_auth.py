"""Who may use the tab's endpoints: only the holder of a valid widget token, for its own deal."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import pytest
import requests
from django.core import signing

from tests.conftest import SandboxPortal
from tests.csp_support import frame_ancestors
from tests.widgets.tab_support import DealTab, calls_since, deal_of, last_call_id, open_tab
from widgets.common.auth import widget_token_mint

ENDPOINTS = [
    ("get", "tab_show", {}),
    ("post", "tab_rows", {"action": "recalc"}),
    ("get", "tab_products", {"q": "licence"}),
    ("get", "tab_ping", {}),
]


@pytest.fixture
def tab(sandbox: SandboxPortal, tab_portal: Any) -> DealTab:
    return open_tab(sandbox, deal_of(3), user=3)


def send(
    tab: DealTab, verb: str, name: str, data: dict[str, str], *, token: str | None, deal_id: int | None = None
) -> requests.Response:
    from django.urls import reverse

    url = tab.sandbox.app_url.rstrip("/") + reverse(f"widgets:{name}", kwargs={"deal_id": deal_id or tab.deal_id})
    headers = {"HX-Request": "true"}
    if token is not None:
        headers["X-Widget-Token"] = token
    if verb == "get":
        return requests.get(url, params=data, headers=headers, timeout=30)
    fields = [(n, v) for n, v in tab.fields if n != "widget_token"]  # the form's copy of the token
    return requests.post(url, data=[*fields, *data.items()], headers=headers, timeout=30)


def forbidden_without_detail(response: requests.Response) -> bool:
    return response.status_code == 403 and response.text == "Forbidden" and "X-Widget-Token" not in response.headers


@pytest.mark.parametrize(("verb", "name", "data"), ENDPOINTS)
def test_a_missing_tampered_or_expired_token_gets_403_with_no_detail(
    tab: DealTab, verb: str, name: str, data: dict[str, str], settings: Any
) -> None:
    mark = last_call_id()
    assert forbidden_without_detail(send(tab, verb, name, data, token=None))
    assert forbidden_without_detail(send(tab, verb, name, data, token=tab.token[:-2] + "xx"))
    payload = signing.loads(tab.token, salt="dealdesk.widget")
    forged = signing.dumps({**payload, "u": 1}, salt="dealdesk.widget", key="not-the-secret-key", compress=True)
    assert forbidden_without_detail(send(tab, verb, name, data, token=forged))
    admin_page = signing.dumps({**payload, "k": "admin"}, salt="dealdesk.widget", compress=True)
    assert forbidden_without_detail(send(tab, verb, name, data, token=admin_page))
    settings.SECRET_KEY = "rotated-" + settings.SECRET_KEY  # an old token no longer verifies
    assert forbidden_without_detail(send(tab, verb, name, data, token=tab.token))
    assert calls_since(mark) == []


def test_a_token_older_than_fifteen_minutes_is_refused(tab: DealTab) -> None:
    from widgets.common.auth import widget_token_read

    identity = widget_token_read(tab.token)
    with mock.patch("time.time", return_value=time.time() - 16 * 60):
        stale = widget_token_mint(identity=identity)  # signed sixteen minutes ago
    assert forbidden_without_detail(send(tab, "get", "tab_ping", {}, token=stale))
    with mock.patch("time.time", return_value=time.time() - 14 * 60):
        recent = widget_token_mint(identity=identity)
    assert send(tab, "get", "tab_ping", {}, token=recent).status_code == 204


@pytest.mark.parametrize(("verb", "name", "data"), ENDPOINTS)
def test_a_deal_id_that_is_not_the_tokens_is_forbidden(
    tab: DealTab, verb: str, name: str, data: dict[str, str]
) -> None:
    other = deal_of(4)
    mark = last_call_id()
    assert forbidden_without_detail(send(tab, verb, name, data, token=tab.token, deal_id=other))
    assert calls_since(mark) == []


def test_every_answer_renews_the_token(tab: DealTab) -> None:
    response = send(tab, "get", "tab_ping", {}, token=tab.token)
    assert response.status_code == 204
    renewed = response.headers["X-Widget-Token"]
    assert signing.loads(renewed, salt="dealdesk.widget", max_age=15 * 60)["d"] == tab.deal_id
    assert frame_ancestors(response.headers["Content-Security-Policy"])[0].startswith("http://localhost:")


def test_a_state_that_was_tampered_with_or_belongs_to_another_deal_is_forbidden(
    sandbox: SandboxPortal, tab: DealTab
) -> None:
    state = tab.value("state")
    tampered = tab.post("recalc", fields=[(n, v[:-3] + "abc" if n == "state" else v) for n, v in tab.fields])
    assert (tampered.status_code, tampered.text) == (403, "Forbidden")
    other = open_tab(sandbox, deal_of(4), user=3)
    foreign = other.post("recalc", fields=[(n, state if n == "state" else v) for n, v in other.fields])
    assert (foreign.status_code, foreign.text) == (403, "Forbidden")


def test_a_post_without_the_editors_state_is_a_bad_request(tab: DealTab) -> None:
    response = tab.post("save", fields=[(n, v) for n, v in tab.fields if n != "state"])
    assert response.status_code == 400 and response.text == "Bad request"


def test_the_endpoints_refuse_other_http_methods(tab: DealTab) -> None:
    headers = {"X-Widget-Token": tab.token}
    assert requests.delete(tab.url("tab_rows"), headers=headers, timeout=30).status_code == 405
    assert requests.put(tab.url("tab_products"), headers=headers, timeout=30).status_code in (403, 405)
    assert requests.get(tab.sandbox.app_url + "deal-tab/", timeout=30).status_code == 405
