"""Ids and what a write changes, as Bitrix24's crm module does it (bitrix24-batch.md, "Ids, and what
a write changes"): ids are PHP `(int)` casts, and a product-row save that keeps the deal's totals
does not touch the deal."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from sandbox.models import Deal, EventDelivery
from tests.conftest import SandboxPortal

REP = 3


def fresh_deal() -> Deal:
    """A deal last modified three days ago, so any write that moves DATE_MODIFY shows."""
    past = timezone.now() - timedelta(days=3)
    return Deal.objects.create(
        title="Versions test", assigned_by_id=REP, opportunity=Decimal(0), tax_value=Decimal(0),
        date_create=past, date_modify=past, modify_by_id=1,
    )  # fmt: skip


def watch_deal_updates(sandbox: SandboxPortal, settings: Any) -> None:
    settings.SANDBOX_EVENTS_SYNC = True
    sandbox.bind_events("ONCRMDEALUPDATE", handler=f"{sandbox.app_url}no-such-handler/")


@pytest.mark.parametrize("array_id", [[7], {"x": 9}, ["abc"]])
def test_a_non_empty_array_id_reads_deal_contact_and_rows_of_record_1(sandbox: SandboxPortal, array_id: Any) -> None:
    """CCrmRestHelper::resolveEntityID (crm classes/general/restservice.php): the id is `(int)` of
    the value, and PHP casts a non-empty array to 1. Expected: crm.deal.get, crm.contact.get,
    crm.deal.contact.items.get and crm.deal.productrows.get answer for record 1."""
    assert sandbox.result("crm.deal.get", {"id": array_id})["ID"] == "1"
    assert sandbox.result("crm.contact.get", {"id": array_id})["ID"] == "1"
    bindings = sandbox.result("crm.deal.contact.items.get", {"id": 1})
    assert sandbox.result("crm.deal.contact.items.get", {"id": array_id}) == bindings
    rows = sandbox.result("crm.deal.productrows.get", {"id": 1})
    assert sandbox.result("crm.deal.productrows.get", {"id": array_id}) == rows


def test_a_misdirected_update_with_an_array_id_lands_on_deal_1(sandbox: SandboxPortal) -> None:
    """CCrmRestHelper::resolveEntityID: a whole-value batch reference that stops early hands the
    method an array, which is deal 1 there. Expected: crm.deal.update with id [42] answers true and
    changes deal 1's TITLE."""
    assert sandbox.result("crm.deal.update", {"id": [42], "fields": {"TITLE": "Landed on one"}}) is True
    assert sandbox.result("crm.deal.get", {"id": 1})["TITLE"] == "Landed on one"


def test_ids_with_trailing_text_and_true_are_cast_like_php(sandbox: SandboxPortal) -> None:
    """PHP `(int)` (resolveEntityID): "12abc" is 12 and true is 1. Expected: contact 12 and deal 1."""
    assert sandbox.result("crm.contact.get", {"id": "12abc"})["ID"] == "12"
    assert sandbox.result("crm.deal.get", {"id": True})["ID"] == "1"
    assert sandbox.result("crm.deal.productrows.get", {"id": "1.9"}) == sandbox.result(
        "crm.deal.productrows.get", {"id": 1}
    )


def test_a_row_reorder_or_rename_that_keeps_the_totals_leaves_date_modify(
    sandbox: SandboxPortal, settings: Any
) -> None:
    """CCrmDeal::SynchronizeProductRows with crm Service/Operation.php (factory mode, current cloud):
    the deal's update is skipped when OPPORTUNITY/TAX_VALUE do not change. Expected: after the
    first save moved DATE_MODIFY, a reorder and a rename at the same prices leave DATE_MODIFY as
    read back, and send no second ONCRMDEALUPDATE."""
    watch_deal_updates(sandbox, settings)
    deal = fresh_deal()
    rows = [{"PRODUCT_NAME": "A", "PRICE": 10}, {"PRODUCT_NAME": "B", "PRICE": 5, "QUANTITY": 2}]
    assert sandbox.result("crm.deal.productrows.set", {"id": deal.pk, "rows": rows}, user=REP) is True
    saved = sandbox.result("crm.deal.get", {"id": deal.pk})
    assert saved["OPPORTUNITY"] == "20.00"
    assert EventDelivery.objects.filter(event="ONCRMDEALUPDATE").count() == 1
    Deal.objects.filter(pk=deal.pk).update(date_modify=timezone.now() - timedelta(days=1))
    before = sandbox.result("crm.deal.get", {"id": deal.pk})
    reordered = [{"PRODUCT_NAME": "B renamed", "PRICE": 5, "QUANTITY": 2}, {"PRODUCT_NAME": "A", "PRICE": 10}]
    assert sandbox.result("crm.deal.productrows.set", {"id": deal.pk, "rows": reordered}) is True
    after = sandbox.result("crm.deal.get", {"id": deal.pk})
    assert (after["DATE_MODIFY"], after["MODIFY_BY_ID"]) == (before["DATE_MODIFY"], before["MODIFY_BY_ID"])
    assert [r["PRODUCT_NAME"] for r in sandbox.result("crm.deal.productrows.get", {"id": deal.pk})] == [
        "B renamed",
        "A",
    ]
    assert EventDelivery.objects.filter(event="ONCRMDEALUPDATE").count() == 1


def test_a_row_change_that_changes_the_totals_moves_date_modify(sandbox: SandboxPortal, settings: Any) -> None:
    """CCrmDeal::SynchronizeProductRows: new totals are written to the deal, which is an update.
    Expected: DATE_MODIFY moves past the old value, MODIFY_BY_ID is the caller, one ONCRMDEALUPDATE."""
    watch_deal_updates(sandbox, settings)
    deal = fresh_deal()
    before = sandbox.result("crm.deal.get", {"id": deal.pk})
    assert sandbox.result("crm.deal.productrows.set", {"id": deal.pk, "rows": [{"PRICE": 7}]}, user=REP) is True
    after = sandbox.result("crm.deal.get", {"id": deal.pk})
    assert after["DATE_MODIFY"] > before["DATE_MODIFY"] and after["MODIFY_BY_ID"] == str(REP)
    assert EventDelivery.objects.filter(event="ONCRMDEALUPDATE").count() == 1


def test_rows_saved_on_a_manual_amount_deal_leave_date_modify(sandbox: SandboxPortal) -> None:
    """Service/Operation.php (factory mode): a manual amount is not recomputed, so nothing of the
    deal changes. Expected: DATE_MODIFY reads back as before."""
    deal = fresh_deal()
    Deal.objects.filter(pk=deal.pk).update(is_manual_opportunity="Y", opportunity=Decimal("900.00"))
    before = sandbox.result("crm.deal.get", {"id": deal.pk})
    assert sandbox.result("crm.deal.productrows.set", {"id": deal.pk, "rows": [{"PRICE": 7}]}) is True
    after = sandbox.result("crm.deal.get", {"id": deal.pk})
    assert (after["DATE_MODIFY"], after["OPPORTUNITY"]) == (before["DATE_MODIFY"], "900.00")
