"""Opening the deal tab: the CRM_DEAL_DETAIL_TAB placement POST, over HTTP through the sandbox."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import SandboxPortal
from tests.csp_support import frame_ancestors
from tests.widgets.tab_support import (
    calls_since,
    deal_of,
    form_fields,
    last_call_id,
    money,
    open_tab,
    placement_form,
    placement_open,
    portal_down,
    send_event,
    text_of,
)


def test_opening_the_tab_shows_the_deals_products_contacts_and_amount(sandbox: SandboxPortal, tab_portal: Any) -> None:
    from sandbox.models import Deal, DealContact, ProductRow

    deal_id = deal_of(3)
    tab = open_tab(sandbox, deal_id, user=3)
    assert tab.response.status_code == 200
    deal = Deal.objects.get(pk=deal_id)
    rows = list(ProductRow.objects.filter(deal_id=deal_id).order_by("sort", "id"))
    assert tab.rows() == len(rows)
    assert [tab.value(f"rows-{i}-name") for i in range(len(rows))] == [r.product_name for r in rows]
    assert money(text_of(tab.page, "grand-total")) == deal.opportunity
    assert money(text_of(tab.page, "deal-amount")) == deal.opportunity
    bound = DealContact.objects.filter(deal_id=deal_id).count()
    assert text_of(tab.page, "contacts-title") == f"Contacts {bound}"
    assert "Primary" in tab.page if bound else "No contacts are linked" in tab.page
    # The page carries no cookie and the token travels in a header, also set on <body> for htmx.
    assert "Set-Cookie" not in tab.response.headers
    assert tab.token and f'"X-Widget-Token": "{tab.token}"' in tab.page


def test_opening_the_tab_costs_one_rest_request_with_a_cold_or_a_warm_cache(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    deal_id = deal_of()
    for cache_state in ("cold", "warm"):
        mark = last_call_id()
        tab = open_tab(sandbox, deal_id, user=1)
        assert tab.response.status_code == 200, cache_state
        calls = calls_since(mark)
        assert [c.method for c in calls] == ["batch"], cache_state
        methods = set(calls[0].batch_methods)
        assert {"user.current", "crm.deal.get", "crm.deal.productrows.get", "crm.deal.contact.items.get"} <= methods
        reference = {"crm.currency.list", "crm.deal.fields", "crm.status.list", "crm.category.list"}
        assert (reference <= methods) if cache_state == "cold" else not (reference & methods)


def test_a_deal_with_more_than_ten_contacts_costs_a_second_request_and_shows_them_all(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    from sandbox.models import DealContact

    mark = last_call_id()
    tab = open_tab(sandbox, 7, user=1)  # seeded with twelve contacts
    assert [c.method for c in calls_since(mark)] == ["batch", "crm.contact.list"]
    assert DealContact.objects.filter(deal_id=7).count() == 12
    assert tab.page.count('class="contact-name"') == 12


def test_the_tab_may_be_framed_by_its_portal_only(sandbox: SandboxPortal, tab_portal: Any) -> None:
    tab = open_tab(sandbox, deal_of())
    portal_origin = "http://" + urlsplit(sandbox.url).netloc
    assert frame_ancestors(tab.response.headers["Content-Security-Policy"]) == [portal_origin]
    assert "X-Frame-Options" not in tab.response.headers
    # Other pages of the app keep Django's default: no framing at all.
    assert requests.get(sandbox.app_url, timeout=30).headers.get("X-Frame-Options") == "DENY"


def test_the_users_own_tokens_are_stored_for_their_later_requests(sandbox: SandboxPortal, tab_portal: Any) -> None:
    from b24app.models import UserToken

    form = placement_form(user=4, deal_id=deal_of(4))
    response = placement_open(sandbox, form)
    assert response.status_code == 200
    token = UserToken.objects.get(portal=tab_portal, user_id=4)
    assert (token.access_token, token.refresh_token) == (form["AUTH_ID"], form["REFRESH_ID"])


def test_the_tab_speaks_the_users_language(sandbox: SandboxPortal, tab_portal: Any) -> None:
    deal_id = deal_of()
    russian = open_tab(sandbox, deal_id, lang="ru")
    assert '<html lang="ru" ' in russian.page
    assert "Товары" in russian.page and "Сохранить" in russian.page
    # …and keeps speaking it on every later request of that tab.
    assert "Сохранить" in russian.post("add", htmx=True).text
    english = open_tab(sandbox, deal_id, lang="de")  # not offered: English
    assert '<html lang="en" ' in english.page and "Save" in english.page


def test_bx24_js_is_loaded_from_the_configured_address(sandbox: SandboxPortal, tab_portal: Any, settings: Any) -> None:
    settings.BX24_JS_URL = "https://cdn.example/bx24.js"
    tab = open_tab(sandbox, deal_of())
    assert '<script src="https://cdn.example/bx24.js"></script>' in tab.page


def test_product_names_with_markup_are_shown_as_text(sandbox: SandboxPortal, tab_portal: Any) -> None:
    from sandbox.models import ProductRow

    deal_id = deal_of()
    ProductRow.objects.filter(deal_id=deal_id).update(product_name='<img src=x onerror="alert(1)"><b>Bold</b>')
    tab = open_tab(sandbox, deal_id)
    assert "<img src=x" not in tab.page and "<b>Bold</b>" not in tab.page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;b&gt;Bold&lt;/b&gt;" in tab.page
    assert tab.value("rows-0-name") == '<img src=x onerror="alert(1)"><b>Bold</b>'


def test_a_deal_whose_amount_is_typed_in_by_hand_says_rows_will_not_change_it(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    tab = open_tab(sandbox, deal_of(manual=True, rows=None))
    assert "is entered by hand, so saving these products will not change it" in tab.page
    plain = open_tab(sandbox, deal_of())
    assert "entered by hand" not in plain.page


def test_a_deal_without_rows_invites_to_add_the_first_product(sandbox: SandboxPortal, tab_portal: Any) -> None:
    tab = open_tab(sandbox, deal_of(rows=False))
    assert "This deal has no products yet." in tab.page
    assert 'value="add" class="button" data-focus="#product-search">Add the first product' in tab.page


def test_a_deal_the_user_cannot_see_or_that_does_not_exist_is_said_so(sandbox: SandboxPortal, tab_portal: Any) -> None:
    missing = open_tab(sandbox, 4000)
    assert missing.response.status_code == 200
    assert "This deal no longer exists in Bitrix24." in missing.page
    assert '<form id="editor"' not in missing.page


# --- forged and broken placement POSTs -------------------------------------------------------------


@pytest.fixture
def stray_host() -> Iterator[tuple[str, list[str]]]:
    """Another host on this machine, recording whatever reaches it (a forger's "portal")."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"result": {"ID": "1"}}')

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def post_placement(sandbox: SandboxPortal, form: dict[str, str], **query: str) -> requests.Response:
    return placement_open(sandbox, form, **query)


def test_a_forged_placement_post_is_refused_and_nothing_is_stored(
    sandbox: SandboxPortal, tab_portal: Any, stray_host: tuple[str, list[str]]
) -> None:
    from b24app.models import UserToken

    host, seen = stray_host
    deal_id = deal_of()
    forgeries = {
        "a random AUTH_ID": placement_form(user=1, deal_id=deal_id, AUTH_ID=secrets.token_hex(16)),
        "another portal's member_id": placement_form(user=1, deal_id=deal_id, member_id=secrets.token_hex(16)),
        "a wrong APPLICATION_TOKEN": placement_form(user=1, deal_id=deal_id, APPLICATION_TOKEN=secrets.token_hex(16)),
        "no AUTH_ID": placement_form(user=1, deal_id=deal_id, AUTH_ID=""),
        "another placement": placement_form(user=1, deal_id=deal_id, PLACEMENT="CRM_CONTACT_DETAIL_TAB"),
        "no deal": placement_form(user=1),
        "a deal id that is no number": placement_form(user=1, PLACEMENT_OPTIONS='{"ID": "1 OR 1=1"}'),
    }
    mark = last_call_id()
    for reason, form in forgeries.items():
        # DOMAIN names the forger's host: it must never be contacted, whatever else is wrong.
        response = post_placement(sandbox, form, DOMAIN=host)
        assert response.status_code == 403, reason
        assert "X-Widget-Token" not in response.headers, reason
        assert 'name="state"' not in response.text, reason
    assert seen == []
    assert not UserToken.objects.exists()
    # Only the random AUTH_ID reached the (real) portal, which refused it.
    calls = calls_since(mark)
    assert [(c.method, c.error) for c in calls] == [("batch", "invalid_token")]


def test_a_genuine_placement_naming_another_domain_still_talks_only_to_the_stored_portal(
    sandbox: SandboxPortal, tab_portal: Any, stray_host: tuple[str, list[str]]
) -> None:
    host, seen = stray_host
    mark = last_call_id()
    response = post_placement(sandbox, placement_form(user=1, deal_id=deal_of()), DOMAIN=host, PROTOCOL="1")
    assert response.status_code == 200
    assert seen == []
    assert [c.method for c in calls_since(mark)] == ["batch"]


def test_an_uninstalled_portal_gets_no_tab(sandbox: SandboxPortal, tab_portal: Any) -> None:
    from b24app.models import Portal

    Portal.objects.update(status=Portal.Status.UNINSTALLED)
    mark = last_call_id()
    response = post_placement(sandbox, placement_form(user=1, deal_id=deal_of()))
    assert response.status_code == 403
    assert calls_since(mark) == []


def test_when_bitrix24_does_not_answer_the_tab_offers_to_try_again(sandbox: SandboxPortal, tab_portal: Any) -> None:
    form = placement_form(user=1, deal_id=deal_of())
    with portal_down(sandbox):
        response = post_placement(sandbox, form)
    assert response.status_code == 200
    assert "Bitrix24 is not answering" in response.text
    retry = dict(form_fields(response.text.replace('<form method="post"', '<form id="retry" method="post"'), "retry"))
    assert retry["AUTH_ID"] == form["AUTH_ID"] and retry["PLACEMENT_OPTIONS"] == form["PLACEMENT_OPTIONS"]
    # Trying again once the portal is back opens the tab.
    again = placement_open(sandbox, retry)
    assert again.status_code == 200 and '<form id="editor"' in again.text


def test_money_follows_the_deal_currencys_format(sandbox: SandboxPortal, tab_portal: Any) -> None:
    from sandbox.models import Deal

    deal_id = deal_of()
    Deal.objects.filter(pk=deal_id).update(currency_id="EUR")
    tab = open_tab(sandbox, deal_id)
    found = re.search(r'id="grand-total">([^<]*)<', tab.page)
    assert found is not None
    total = found.group(1)
    # crm.currency.list: FORMAT_STRING "# €", DEC_POINT ",", THOUSANDS_SEP "&nbsp;" (the entity, decoded).
    assert re.fullmatch(r"\d{1,3}(\u00a0\d{3})*,\d{2} €", total), total
    assert "&amp;nbsp;" not in tab.page
    assert tab.value("rows-0-price").count(",") == 1  # the inputs use the currency's decimal point


def test_a_deal_moved_to_another_funnel_makes_the_next_opening_read_the_stages_again(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    deal_id = deal_of()
    open_tab(sandbox, deal_id)  # caches the reference data
    send_event(sandbox, tab_portal, "ONCRMDEALMOVETOCATEGORY", deal_id, ts=1700000000)
    mark = last_call_id()
    open_tab(sandbox, deal_id)
    methods = set(calls_since(mark)[0].batch_methods)
    assert {"crm.status.list", "crm.category.list"} <= methods
    assert not {"crm.currency.list", "crm.deal.fields"} & methods
