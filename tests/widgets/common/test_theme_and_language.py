"""The user's colour theme, kept by Deal Desk and rendered before first paint, and Bitrix24's LANG
codes mapped to the languages Deal Desk speaks."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.urls import reverse

from bench.portal import opening_of
from tests.conftest import SandboxPortal
from tests.widgets.layout_support import Installed, installed_fixture, placement_form, portal_query  # noqa: F401
from tests.widgets.tab_support import deal_of, open_tab
from widgets.common.i18n import django_language


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("ru", "ru"),
        ("RU", "ru"),
        ("en", "en"),
        ("ua", "en"),
        ("br", "en"),
        ("la", "en"),
        ("sc", "en"),
        ("tc", "en"),
        ("de", "en"),
        ("xx", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_bitrix24_language_codes_map_to_a_language_deal_desk_speaks(code: str | None, language: str) -> None:
    # ua, br, la, sc and tc are Bitrix24's own codes (uk, pt-br, es, zh-hans, zh-hant): no catalogue yet.
    assert django_language(code) == language


def test_a_chosen_theme_is_remembered_and_rendered_before_first_paint(sandbox: SandboxPortal, tab_portal: Any) -> None:
    deal_id = deal_of()
    tab = open_tab(sandbox, deal_id)
    assert 'data-theme="auto"' in tab.page  # nothing chosen yet: follow prefers-color-scheme
    url = sandbox.app_url.rstrip("/") + reverse("widgets:theme_save")
    saved = requests.post(url, data={"theme": "dark"}, headers={"X-Widget-Token": tab.token}, timeout=30)
    assert saved.status_code == 204
    again = open_tab(sandbox, deal_id)
    assert '<html lang="en" data-theme="dark">' in again.page
    other_user = open_tab(sandbox, deal_id, user=3) if deal_of(3) == deal_id else None
    if other_user is not None and other_user.response.status_code == 200:
        assert 'data-theme="auto"' in other_user.page  # one user's choice, not the portal's


@pytest.mark.parametrize("theme", ["", "purple", "<script>"])
def test_a_theme_that_is_not_offered_is_refused(sandbox: SandboxPortal, tab_portal: Any, theme: str) -> None:
    tab = open_tab(sandbox, deal_of())
    url = sandbox.app_url.rstrip("/") + reverse("widgets:theme_save")
    response = requests.post(url, data={"theme": theme}, headers={"X-Widget-Token": tab.token}, timeout=30)
    assert response.status_code == 400


def test_a_theme_change_without_a_widget_token_is_forbidden(sandbox: SandboxPortal, tab_portal: Any) -> None:
    url = sandbox.app_url.rstrip("/") + reverse("widgets:theme_save")
    response = requests.post(url, data={"theme": "dark"}, timeout=30)
    assert response.status_code == 403


def test_a_russian_portal_user_gets_the_layout_refusal_in_russian(installed: Installed) -> None:
    query = portal_query(installed.sandbox).replace("LANG=en", "LANG=ru")
    paint = requests.post(f"{installed.sandbox.app_url}?{query}", data=placement_form(user=3), timeout=30)
    assert '<html lang="ru"' in paint.text
    opening = opening_of(paint.text)  # the first paint is a skeleton; its fill tells the user who can edit
    assert opening is not None, paint.text[:2000]
    response = requests.post(
        installed.sandbox.app_url.rstrip("/") + opening.url,
        data=opening.fields,
        headers={"X-Opening-Token": opening.token},
        timeout=30,
    )
    assert response.status_code == 200  # a page meant to be read, not a failed request
    assert "Обратитесь к администратору Битрикс24" in response.text
    assert '<html lang="ru"' in response.text
