"""Saving product rows: what reaches the sandbox portal, in at most two requests; conflicts with
changes made elsewhere; undo; deals with a typed-in amount; users Bitrix24 does not let write."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.conftest import SandboxPortal
from tests.widgets.tab_support import (
    DealTab,
    calls_since,
    deal_of,
    last_call_id,
    money,
    open_tab,
    portal_down,
    send_event,
    shown,
    text_of,
)


def stored_rows(deal_id: int) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    from sandbox.models import ProductRow

    rows = ProductRow.objects.filter(deal_id=deal_id).order_by("sort", "id")
    return [(r.product_name, r.quantity, r.price.quantize(Decimal("0.01")), r.discount_rate) for r in rows]


def opportunity(deal_id: int) -> Decimal:
    from sandbox.models import Deal

    return Deal.objects.get(pk=deal_id).opportunity


def rows_set_elsewhere(sandbox: SandboxPortal, deal_id: int, user: int = 2) -> None:
    """Someone else (the sales manager, by default) replaces the deal's rows through REST."""
    rows = [{"PRODUCT_NAME": "Changed elsewhere", "PRICE": 10, "QUANTITY": 1}]
    assert sandbox.result("crm.deal.productrows.set", {"id": deal_id, "rows": rows}, user=user) is True


def save_over_a_change_elsewhere(tab: DealTab) -> tuple[requests.Response, list[Any]]:
    """The rep sets the first row's quantity to 9, the sales manager replaces the rows, the rep saves:
    the save's answer and the REST requests it cost."""
    tab.post(rows_0_quantity="9")
    rows_set_elsewhere(tab.sandbox, tab.deal_id)
    mark = last_call_id()
    return tab.post("save"), calls_since(mark)


@pytest.fixture
def rep_tab(sandbox: SandboxPortal, tab_portal: Any) -> DealTab:
    return open_tab(sandbox, deal_of(3), user=3)


@pytest.mark.parametrize("htmx", [True, False])
def test_saving_writes_the_rows_and_the_deal_amount_in_one_request(rep_tab: DealTab, htmx: bool) -> None:
    tab = rep_tab
    tab.post("add_text", q="Onboarding workshop")
    new = tab.rows() - 1
    tab.post(
        fields=tab.edit(**{f"rows_{new}_price": "1 250,50", f"rows_{new}_quantity": "2", f"rows_{new}_discount": "10"})
    )
    tab.post(rows_0_quantity="7")
    preview = tab.post("recalc", htmx=False)
    expected_total = money(text_of(preview.text, "grand-total"))
    mark = last_call_id()
    response = tab.post("save", htmx=htmx)
    assert response.status_code == 200
    calls = calls_since(mark)
    assert [c.method for c in calls] == ["batch"]
    methods = calls[0].batch_methods
    assert methods[:3] == ["crm.deal.get", "crm.deal.productrows.get", "user.get"]  # as just before the write
    # Each loaded row checked in its place (a reorder keeps DATE_MODIFY), then the guard and the write.
    checks = methods[3:-4]
    assert checks == ["crm.item.productrow.list", "crm.item.productrow.get"] * (len(checks) // 2) and checks
    assert methods[-4:] == ["crm.deal.list", "crm.deal.productrows.set", "crm.deal.get", "crm.deal.productrows.get"]
    stored = stored_rows(tab.deal_id)
    assert stored[0][1] == Decimal("7")
    assert stored[-1] == ("Onboarding workshop", Decimal("2"), Decimal("1125.45"), Decimal("10"))
    assert opportunity(tab.deal_id) == expected_total == money(text_of(response.text, "grand-total"))
    assert money(text_of(response.text, "deal-amount")) == expected_total
    amount = text_of(response.text, "grand-total")
    assert f"Saved. The deal's amount is now {amount}." in shown(response.text)
    assert 'value="undo"' in response.text
    assert 'value="save" class="button" disabled' in response.text  # nothing left to save
    if htmx:
        assert response.text.lstrip().startswith('<form id="editor"')
        assert 'hx-swap-oob="innerHTML:#save-status"' in response.text and 'id="deal-amount"' in response.text
    else:
        assert response.text.lstrip().startswith("<!DOCTYPE html>")


def test_unchanged_rows_keep_their_exact_prices_when_others_are_saved(sandbox: SandboxPortal, tab_portal: Any) -> None:
    from sandbox.models import ProductRow

    deal_id = deal_of(3)
    # Rows written by another client with PRICE only, as the docs' sample does: finer than cents.
    rows = [
        {"PRODUCT_NAME": "Precise A", "PRICE": 1000, "QUANTITY": 3, "DISCOUNT_TYPE_ID": 1, "DISCOUNT_SUM": 100,
         "TAX_RATE": 13},
        {"PRODUCT_NAME": "Precise B", "PRICE": "33.333333", "QUANTITY": 7, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 7},
    ]  # fmt: skip
    sandbox.result("crm.deal.productrows.set", {"id": deal_id, "rows": rows}, user=2)
    before = {r.product_name: (r.price, r.price_netto) for r in ProductRow.objects.filter(deal_id=deal_id)}
    amount = opportunity(deal_id)
    tab = open_tab(sandbox, deal_id, user=3)
    tab.post("add_text", q="Extra")
    tab.post("save")
    after = {r.product_name: r.price for r in ProductRow.objects.filter(deal_id=deal_id)}
    assert {name: after[name].quantize(Decimal("0.01")) for name in before} == {
        name: price.quantize(Decimal("0.01")) for name, (price, _) in before.items()
    }
    assert opportunity(deal_id) == amount  # the free-text row costs 0


def test_deleting_every_row_saves_an_empty_deal(rep_tab: DealTab) -> None:
    tab = rep_tab
    for _ in range(tab.rows()):
        tab.post("delete:0")
    response = tab.post("save")
    assert "Saved." in response.text
    assert stored_rows(tab.deal_id) == []
    assert opportunity(tab.deal_id) == 0
    assert "This deal has no products yet." in response.text


def test_a_change_made_elsewhere_is_shown_instead_of_being_overwritten(
    sandbox: SandboxPortal, rep_tab: DealTab
) -> None:
    tab = rep_tab
    response, calls = save_over_a_change_elsewhere(tab)
    assert len(calls) == 1  # the check found the conflict: nothing was written
    assert stored_rows(tab.deal_id) == [("Changed elsewhere", Decimal("1"), Decimal("10.00"), Decimal("0"))]
    assert "Someone else changed these products" in response.text
    assert "Mark Brennan saved a different version in Bitrix24 at" in response.text
    assert "Saved in Bitrix24" in response.text and "Your version" in response.text
    assert "Changed elsewhere" in response.text
    assert "Not saved: these products were changed in Bitrix24 after you opened them." in response.text
    assert 'value="keep_theirs"' in response.text and 'value="overwrite"' in response.text


def test_in_a_conflict_keeping_their_version_loads_it_without_a_request(
    sandbox: SandboxPortal, rep_tab: DealTab
) -> None:
    tab = rep_tab
    save_over_a_change_elsewhere(tab)
    mark = last_call_id()
    response = tab.post("keep_theirs", htmx=False)
    assert calls_since(mark) == []
    assert tab.rows() == 1 and tab.value("rows-0-name") == "Changed elsewhere"
    assert "You now see the products as they are saved in Bitrix24." in response.text
    # The next save compares with what is now shown: no conflict.
    tab.post(rows_0_quantity="2")
    assert "Saved." in tab.post("save").text
    assert stored_rows(tab.deal_id) == [("Changed elsewhere", Decimal("2"), Decimal("10.00"), Decimal("0"))]


def test_in_a_conflict_replacing_their_version_with_mine_saves_mine(sandbox: SandboxPortal, rep_tab: DealTab) -> None:
    tab = rep_tab
    mine = [tab.value(f"rows-{i}-name") for i in range(tab.rows())]
    save_over_a_change_elsewhere(tab)
    response = tab.post("overwrite")
    assert "Saved." in response.text
    assert [r[0] for r in stored_rows(tab.deal_id)] == mine
    assert stored_rows(tab.deal_id)[0][1] == Decimal("9")


def test_a_deal_changed_between_the_check_and_the_write_is_not_written(sandbox: SandboxPortal, tab_portal: Any) -> None:
    """The write's guard: productrows.set takes the deal id from a list filtered by DATE_MODIFY."""
    from b24app.client import B24Client
    from b24app.models import UserToken
    from b24app.oauth import UserTokens
    from widgets.common.guard import guard_passed
    from widgets.products.batch import deal_commands, save_commands

    deal_id = deal_of(3)
    open_tab(sandbox, deal_id, user=3)
    client = B24Client(UserTokens(UserToken.objects.get(user_id=3)))
    read = client.batch(deal_commands(deal_id)).get("deal")
    before = stored_rows(deal_id)
    rows = [{"PRODUCT_NAME": "Mine", "PRICE": 1, "QUANTITY": 1}]
    stale = save_commands(deal_id=deal_id, date_modify="2020-01-01T10:00:00+00:00", rows=rows)
    outcome = client.batch(stale)
    assert not guard_passed(outcome) and "set" in outcome.errors
    assert stored_rows(deal_id) == before
    fresh = client.batch(save_commands(deal_id=deal_id, date_modify=read["DATE_MODIFY"], rows=rows))
    assert guard_passed(fresh) and fresh.get("set") is True
    assert stored_rows(deal_id) == [("Mine", Decimal("1"), Decimal("1.00"), Decimal("0"))]


def test_two_tabs_of_the_same_deal_do_not_overwrite_each_other(sandbox: SandboxPortal, tab_portal: Any) -> None:
    deal_id = deal_of(3)
    first, second = open_tab(sandbox, deal_id, user=3), open_tab(sandbox, deal_id, user=2)
    first.post(rows_0_quantity="5")
    assert "Saved." in first.post("save").text
    second.post(rows_0_quantity="6")
    response = second.post("save")
    assert "Someone else changed these products" in response.text
    assert "Sofia Ortiz saved a different version" in response.text
    assert stored_rows(deal_id)[0][1] == Decimal("5")


@pytest.mark.parametrize("htmx", [True, False])
def test_undo_puts_back_the_rows_as_they_were_before_the_save(rep_tab: DealTab, htmx: bool) -> None:
    tab = rep_tab
    before, amount = stored_rows(tab.deal_id), opportunity(tab.deal_id)
    tab.post("delete:0")
    tab.post("add_text", q="Temporary")
    tab.post("save")
    assert stored_rows(tab.deal_id) != before
    mark = last_call_id()
    response = tab.post("undo", htmx=htmx)
    assert len(calls_since(mark)) == 1
    assert "The last save was undone." in response.text
    assert stored_rows(tab.deal_id) == before
    assert opportunity(tab.deal_id) == amount
    assert 'value="undo"' not in response.text


def test_undo_after_someone_else_saved_shows_the_conflict(sandbox: SandboxPortal, rep_tab: DealTab) -> None:
    tab = rep_tab
    tab.post(rows_0_quantity="4")
    tab.post("save")
    rows_set_elsewhere(sandbox, tab.deal_id)
    response = tab.post("undo")
    assert "Someone else changed these products" in response.text
    assert stored_rows(tab.deal_id)[0][0] == "Changed elsewhere"


def test_rows_saved_on_a_deal_with_a_typed_in_amount_leave_the_amount_alone(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    from sandbox.models import Deal

    deal_id = deal_of(manual=True, rows=None)
    Deal.objects.filter(pk=deal_id).update(assigned_by_id=3)
    amount = opportunity(deal_id)
    tab = open_tab(sandbox, deal_id, user=3)
    tab.post("add_text", q="Consulting")
    tab.post(fields=tab.edit(**{f"rows_{tab.rows() - 1}_price": "500"}))
    response = tab.post("save")
    assert opportunity(deal_id) == amount
    assert "Saved. The deal's amount is entered by hand and stays" in shown(response.text)


def test_a_user_bitrix24_does_not_let_write_gets_a_read_only_tab(sandbox: SandboxPortal, tab_portal: Any) -> None:
    deal_id = deal_of(3)
    before = stored_rows(deal_id)
    tab = open_tab(sandbox, deal_id, user=5)  # the read-only user: no REST method says so up front
    assert '<form id="editor"' in tab.page
    tab.post(rows_0_quantity="99")
    response = tab.post("save")
    assert stored_rows(deal_id) == before
    assert "Not saved: Bitrix24 does not let you change this deal's products." in shown(response.text)
    assert "You can view this deal's products but Bitrix24 does not let you change them." in shown(response.text)
    assert '<section id="editor" class="editor readonly"' in response.text and "<input" not in response.text
    # Reopening the tab shows it read-only at once.
    again = open_tab(sandbox, deal_id, user=5)
    assert '<section id="editor" class="editor readonly"' in again.page
    # A sales rep on a colleague's deal is refused the same way.
    colleague = open_tab(sandbox, deal_of(4), user=3)
    colleague.post(rows_0_quantity="99")
    assert "does not let you change" in colleague.post("save", htmx=False).text


def test_a_change_to_the_deal_forgets_that_the_user_was_refused(sandbox: SandboxPortal, tab_portal: Any) -> None:
    from django.core.cache import cache

    from widgets.common.freshness import deal_version_key

    deal_id = deal_of(4)
    tab = open_tab(sandbox, deal_id, user=3)
    tab.post(rows_0_quantity="99")
    tab.post("save")
    assert "readonly" in open_tab(sandbox, deal_id, user=3).page
    # The deal is reassigned to the rep: the portal's event reaches the app.
    send_event(sandbox, tab_portal, "ONCRMDEALUPDATE", deal_id, ts=int(time.time()))
    assert cache.get(deal_version_key(tab_portal.pk, deal_id)) >= 1
    reopened = open_tab(sandbox, deal_id, user=3)
    assert '<form id="editor"' in reopened.page


def test_when_bitrix24_does_not_answer_the_save_nothing_typed_is_lost(rep_tab: DealTab) -> None:
    tab = rep_tab
    tab.post(rows_0_quantity="8")
    with portal_down(tab.sandbox):
        response = tab.post("save")
    assert response.status_code == 200
    # The save is one request that writes: a 502 page cannot say whether it was applied, and the
    # read that would tell finds the portal down too, so the tab says it could not confirm.
    assert "Not confirmed." in response.text and "Saved." not in shown(response.text)
    assert tab.value("rows-0-quantity") == "8"
    assert "Saved." in tab.post("save").text
    assert stored_rows(tab.deal_id)[0][1] == Decimal("8")


@pytest.mark.parametrize(("user", "notice"), [(1, "Deal Desk needs to be re-authorized"), (3, "Editing is paused")])
def test_a_portal_that_needs_re_authorization_says_so(
    sandbox: SandboxPortal, tab_portal: Any, user: int, notice: str
) -> None:
    from b24app.models import Portal

    Portal.objects.update(status=Portal.Status.NEEDS_REAUTH)
    tab = open_tab(sandbox, deal_of(3), user=user)
    assert tab.response.status_code == 200
    assert notice in tab.page
    assert '<section id="editor" class="editor readonly"' in tab.page
    other = "Editing is paused" if user == 1 else "Deal Desk needs to be re-authorized"
    assert other not in tab.page


def test_a_tab_whose_sign_in_bitrix24_no_longer_accepts_says_to_open_the_deal_again(rep_tab: DealTab) -> None:
    from sandbox.models import RefreshToken
    from sandbox.tokens import expire_all_tokens

    tab = rep_tab
    tab.post(rows_0_quantity="3")
    RefreshToken.objects.update(revoked=True)  # the user's refresh token is refused: no new access token
    expire_all_tokens()
    reopen = "Bitrix24 no longer accepts this tab's sign-in. Close the deal and open it again to continue."
    saved = tab.post("save")
    assert reopen in shown(saved.text) and "did not answer" not in saved.text
    assert 'value="save" class="button small">Retry' not in saved.text and "data-reload-tab" in saved.text
    assert tab.value("rows-0-quantity") == "3"
    assert reopen in shown(tab.get("tab_products", {"q": "licence"}).text)
    reloaded = tab.get("tab_show", htmx=False)
    assert reopen in shown(reloaded.text) and "did not answer" not in reloaded.text
