"""Saving rows in one request, and the changes DATE_MODIFY does not show.

On Bitrix24 a reorder or a rename of the rows keeps the totals and so keeps DATE_MODIFY
(bitrix24-batch.md, "Ids, and what a write changes"); the sandbox behaves so. The save's one batch
reads the rows just before its write: when they are not the ones the tab loaded, the rep gets the
conflict view and their rows stand. A change elsewhere in the deal (DATE_MODIFY moved, rows as
loaded) refuses the guard, and the rows are written again: two requests.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import SandboxPortal
from tests.widgets.products.test_tab_save import stored_rows
from tests.widgets.tab_support import DealTab, calls_since, deal_of, last_call_id, open_tab, shown
from widgets.products.batch import rows_as_read


@pytest.fixture
def rep_tab(sandbox: SandboxPortal, tab_portal: Any) -> DealTab:
    return open_tab(sandbox, deal_of(3), user=3)


def date_modify(deal_id: int) -> Any:
    from sandbox.models import Deal

    return Deal.objects.get(pk=deal_id).date_modify


def reordered_elsewhere(sandbox: SandboxPortal, deal_id: int) -> None:
    """The sales manager moves the last row first: same rows, same totals."""
    rows = rows_as_read(sandbox.result("crm.deal.productrows.get", {"id": deal_id}, user=2))
    assert len(rows) >= 2
    rows = [rows[-1], *rows[:-1]]
    for index, row in enumerate(rows):
        row["SORT"] = (index + 1) * 10
    assert sandbox.result("crm.deal.productrows.set", {"id": deal_id, "rows": rows}, user=2) is True


def renamed_elsewhere(sandbox: SandboxPortal, deal_id: int) -> None:
    rows = rows_as_read(sandbox.result("crm.deal.productrows.get", {"id": deal_id}, user=2))
    rows[0]["PRODUCT_NAME"] = "Renamed elsewhere"
    assert sandbox.result("crm.deal.productrows.set", {"id": deal_id, "rows": rows}, user=2) is True


def test_another_users_reorder_then_our_save_shows_the_conflict_and_keeps_their_order(
    sandbox: SandboxPortal, rep_tab: DealTab
) -> None:
    tab = rep_tab
    tab.post(rows_0_quantity="9")
    moment = date_modify(tab.deal_id)
    reordered_elsewhere(sandbox, tab.deal_id)
    theirs = stored_rows(tab.deal_id)
    assert date_modify(tab.deal_id) == moment  # DATE_MODIFY did not show the reorder
    mark = last_call_id()
    response = tab.post("save")
    assert stored_rows(tab.deal_id) == theirs  # nothing of theirs is lost
    assert "Someone else changed these products" in response.text
    assert "Not saved: these products were changed in Bitrix24 after you opened them." in response.text
    assert 'value="overwrite"' in response.text and tab.value("rows-0-quantity") == "9"  # mine, in hand
    # Each loaded row is checked in its place inside the save's batch: stopped before the write.
    calls = calls_since(mark)
    assert len(calls) == 1 and "crm.deal.productrows.set" not in calls[0].batch_methods  # halted before it


def test_another_users_rename_then_our_save_shows_the_conflict_and_keeps_the_name(
    sandbox: SandboxPortal, rep_tab: DealTab
) -> None:
    tab = rep_tab
    tab.post(rows_1_quantity="9")
    renamed_elsewhere(sandbox, tab.deal_id)
    theirs = stored_rows(tab.deal_id)
    response = tab.post("save")
    assert stored_rows(tab.deal_id) == theirs and theirs[0][0] == "Renamed elsewhere"
    assert "Someone else changed these products" in response.text and "Renamed elsewhere" in response.text
    # Keeping mine after seeing theirs is one more save, and it is written.
    response = tab.post("overwrite")
    assert "Saved." in shown(response.text)
    assert stored_rows(tab.deal_id)[1][1] == Decimal("9")


def test_a_change_to_another_field_of_the_deal_costs_one_request_more_and_loses_nothing(
    sandbox: SandboxPortal, rep_tab: DealTab
) -> None:
    tab = rep_tab
    tab.post(rows_0_quantity="6")
    title = "Renamed deal " + str(tab.deal_id)
    assert sandbox.result("crm.deal.update", {"id": tab.deal_id, "fields": {"TITLE": title}}, user=2) is True
    mark = last_call_id()
    response = tab.post("save")
    calls = calls_since(mark)
    assert "Saved." in shown(response.text)
    assert stored_rows(tab.deal_id)[0][1] == Decimal("6")
    assert len(calls) == 2 and all("crm.deal.productrows.set" in c.batch_methods for c in calls)
    from sandbox.models import Deal

    assert Deal.objects.get(pk=tab.deal_id).title == title


def test_a_refused_guard_never_writes_to_deal_one(sandbox: SandboxPortal, tab_portal: Any) -> None:
    """PHP (int) of a non-empty array is 1: the guard's reference must resolve to nothing but `[]`."""
    from b24app.client import B24Client
    from b24app.models import UserToken
    from b24app.oauth import UserTokens
    from sandbox.models import Deal
    from widgets.common.guard import guard_passed
    from widgets.products.batch import save_commands

    deal_id = (
        Deal.objects.filter(assigned_by_id=3, product_rows__isnull=False).exclude(pk=1).values_list("pk", flat=True)[0]
    )
    open_tab(sandbox, deal_id, user=3)
    client = B24Client(UserTokens(UserToken.objects.get(user_id=3)))
    first, mine = stored_rows(1), stored_rows(deal_id)
    rows = [{"PRODUCT_NAME": "Mine", "PRICE": 1, "QUANTITY": 1}]
    outcome = client.batch(
        save_commands(deal_id=deal_id, date_modify="2020-01-01T10:00:00+00:00", rows=rows), halt=True
    )
    assert not guard_passed(outcome) and "set" in outcome.errors
    assert "rows" not in outcome.results  # halt: nothing after the refused write ran
    assert stored_rows(1) == first and stored_rows(deal_id) == mine


def test_a_rename_saved_in_one_tab_then_a_save_in_another_gives_one_saved_and_one_conflict(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    deal_id = deal_of(3)
    first, second = open_tab(sandbox, deal_id, user=3), open_tab(sandbox, deal_id, user=2)
    moment = date_modify(deal_id)
    assert "Saved." in shown(first.post("save", fields=first.edit(rows_0_name="Renamed in the first tab")).text)
    assert date_modify(deal_id) == moment  # a rename keeps the totals, so DATE_MODIFY
    saved = stored_rows(deal_id)
    second.post(rows_0_quantity="3")
    response = second.post("save")
    assert "Someone else changed these products" in response.text
    assert stored_rows(deal_id) == saved
