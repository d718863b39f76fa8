"""Opening the app's main page from the portal (PLACEMENT=DEFAULT): who gets in, what they see."""

from __future__ import annotations

import re

import pytest
import requests

from bench.portal import opening_of
from tests.csp_support import frame_ancestors
from tests.widgets.layout_support import (  # noqa: F401 - fixtures
    AdminPage,
    Installed,
    admin_fixture,
    clean_cache,
    installed_fixture,
    last_call_id,
    open_admin,
    open_paint,
    portal_calls,
)


def test_an_administrator_opening_the_app_gets_the_layout_page_in_one_request(installed: Installed) -> None:
    from b24app.models import UserToken

    before = last_call_id()
    page = open_admin(installed.sandbox, user=1)
    assert page.response.status_code == 200
    assert page.token
    calls = portal_calls(before)
    assert [(c.method, c.batch_methods) for c in calls] == [
        (
            "batch",
            [
                "user.current",
                "user.admin",
                "crm.category.list",
                "crm.deal.fields",
                "crm.deal.details.configuration.get",
            ],
        )
    ]
    assert UserToken.objects.filter(portal=installed.portal, user_id=1).exists()
    origin = installed.sandbox.url.split("/sandbox/")[0]
    assert frame_ancestors(page.response.headers["Content-Security-Policy"]) == [origin]
    assert "X-Frame-Options" not in page.response.headers


def test_the_funnels_are_listed_with_the_default_one_marked(admin: AdminPage) -> None:
    nav = admin.response.text.split('aria-label="Sales funnels"')[1].split("</nav>")[0]
    funnels = re.findall(r"<span>([^<]+)</span>(<span class=\"la-tag\">default</span>)?", nav)
    assert funnels == [("General", '<span class="la-tag">default</span>'), ("Enterprise", ""), ("Partners", "")]
    assert nav.count('aria-current="page"') == 1


def test_fields_show_their_human_labels_user_fields_included(admin: AdminPage) -> None:
    text = admin.response.text
    assert '<span class="la-label">Contract number</span>' in text  # UF_CRM_1700000000001 by its listLabel
    assert '<span class="la-label">Amount and currency</span>' in text  # a card pseudo-field
    palette = text.split('id="palette-title"')[1].split("</aside>")[0]
    assert "Delivery terms" in palette and "Custom fields" in palette
    assert "Contract number" not in palette  # already on the card


def test_a_sales_rep_gets_the_polite_page_and_nothing_is_kept(installed: Installed) -> None:
    from b24app.models import UserToken

    page = open_admin(installed.sandbox, user=3)
    assert page.response.status_code == 200  # a page meant to be read, not a failed request
    assert "Please ask your Bitrix24 administrator" in page.response.text
    assert "X-Widget-Token" not in page.response.headers
    assert not UserToken.objects.filter(user_id=3).exists()
    assert frame_ancestors(page.response.headers["Content-Security-Policy"])[0].startswith("http://localhost:")


def test_a_forged_auth_id_is_refused_against_the_stored_portal_address(installed: Installed) -> None:
    from b24app.models import UserToken

    page = open_admin(installed.sandbox, user=1, AUTH_ID="forged-token")
    assert page.response.status_code == 403
    assert "Open Deal Desk from Bitrix24" in page.response.text
    assert not page.token
    assert UserToken.objects.filter(user_id=1).count() == 0


def test_a_post_for_an_unknown_portal_is_refused(installed: Installed) -> None:
    page = open_admin(installed.sandbox, user=1, member_id="not-a-portal-we-know")
    assert page.response.status_code == 403
    assert "Open Deal Desk from Bitrix24" in page.response.text


def test_a_post_without_auth_id_is_refused(installed: Installed) -> None:
    response = requests.post(installed.sandbox.app_url, data={"PLACEMENT": "DEFAULT"}, timeout=30)
    assert response.status_code == 403


def test_a_portal_needing_reauthorization_says_so(installed: Installed) -> None:
    installed.portal.status = installed.portal.Status.NEEDS_REAUTH
    installed.portal.save()
    page = open_admin(installed.sandbox, user=1)
    assert page.response.status_code == 200
    assert "Deal Desk needs to be reconnected" in page.response.text


def test_opening_the_apps_address_directly_shows_the_landing_page(installed: Installed) -> None:
    response = requests.get(installed.sandbox.app_url, timeout=30)
    assert response.status_code == 200
    assert "Deal Desk runs inside your Bitrix24 portal" in response.text


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "full page"])
def test_another_funnel_opens_as_a_partial_or_a_full_page(admin: AdminPage, htmx: bool) -> None:
    response = admin.get("layout_page", {"category": 1}, htmx=htmx)
    assert response.status_code == 200
    assert ("<html" in response.text) is not htmx
    assert response.text.count('id="workspace"') == 1
    assert re.search(r'aria-current="page">\s*<span>Enterprise</span>', response.text)
    assert "Delivery terms" in response.text.split('id="palette-title"')[0]  # on Enterprise's card


def test_reading_a_funnel_carries_the_admin_check_in_the_same_batch(admin: AdminPage) -> None:
    before = last_call_id()
    admin.get("layout_page", {"category": 1})
    calls = portal_calls(before)
    assert [(c.method, c.batch_methods) for c in calls] == [
        ("batch", ["user.admin", "crm.deal.details.configuration.get"])
    ]


def test_an_unknown_funnel_says_so_with_a_retry(admin: AdminPage) -> None:
    response = admin.get("layout_page", {"category": 77})
    assert response.status_code == 200
    assert "That funnel or version is not there any more" in response.text
    assert ">Retry</a>" in response.text
    assert response.headers["HX-Retarget"] == "#workspace"


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "full page"])
def test_bitrix24_being_down_shows_a_message_and_retry_never_a_500(admin: AdminPage, htmx: bool) -> None:
    down = requests.post(f"{admin.sandbox.url}faults.json", json={"fault": "down_html"}, timeout=30)
    assert down.status_code == 200
    response = admin.get("layout_page", {"category": 1}, htmx=htmx)
    assert response.status_code == 200
    # An error page answered at once is said as such, not as a timeout (issue 18).
    assert "Bitrix24 answered with an error page" in response.text
    assert "did not answer in time" not in response.text
    assert "Retry" in response.text
    assert "Traceback" not in response.text and "UNEXPECTED_ANSWER" not in response.text


def test_the_token_is_renewed_on_every_answer(admin: AdminPage) -> None:
    first = admin.token
    response = admin.get("layout_page", {"category": 1})
    assert response.headers["X-Widget-Token"]
    assert f'"X-Widget-Token": "{first}"' in admin.response.text


def test_requests_without_a_token_are_forbidden(admin: AdminPage) -> None:
    response = requests.get(admin.url("layout_page"), params={"category": 1}, timeout=30)
    assert response.status_code == 403 and response.text == "Forbidden"


def test_the_first_paint_asks_the_portal_nothing_and_its_fill_opens_the_page_once(installed: Installed) -> None:
    """A slow portal shows a skeleton, not a blank frame: the placement POST is answered before any
    REST request; the fill (its one-time opening token in a header, never the URL) runs the one
    opening request; the token opens nothing a second time."""
    before = last_call_id()
    paint = open_paint(installed.sandbox, user=1)
    assert paint.status_code == 200
    assert portal_calls(before) == []
    opening = opening_of(paint.text)
    assert opening is not None and opening.token
    assert opening.token not in opening.url and "AUTH_ID" not in opening.url
    assert 'class="opening-skeleton"' in paint.text and "X-Widget-Token" not in paint.headers
    fill = requests.post(
        installed.sandbox.app_url.rstrip("/") + opening.url,
        data=opening.fields,
        headers={"X-Opening-Token": opening.token, "HX-Request": "true"},
        timeout=30,
    )
    assert fill.status_code == 200 and fill.headers.get("X-Widget-Token")
    assert fill.text.lstrip().startswith('<div id="workspace"') and '<form id="editor"' in fill.text
    assert len(portal_calls(before)) == 1
    again = requests.post(
        installed.sandbox.app_url.rstrip("/") + opening.url,
        data=opening.fields,
        headers={"X-Opening-Token": opening.token, "HX-Request": "true"},
        timeout=30,
    )
    assert again.status_code == 403 and len(portal_calls(before)) == 1
