"""crm.item.productrow.* over real HTTP, against b24restdocs api-reference/crm/universal/product-rows/.

The rows are the deal's product rows: what one family writes the other reads, and the deal's amount
follows them as it does after crm.deal.productrows.set.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.utils import timezone

from sandbox.models import Deal, EventDelivery, Product, ProductRow
from tests.conftest import SandboxPortal

ADMIN, MANAGER, REP, OTHER_REP, READONLY = 1, 2, 3, 4, 5
GET_KEYS = [
    "id", "ownerId", "ownerType", "productId", "productName", "price", "priceAccount", "priceExclusive",
    "priceNetto", "priceBrutto", "quantity", "discountTypeId", "discountRate", "discountSum", "taxRate",
    "taxIncluded", "customized", "measureCode", "measureName", "sort", "xmlId", "type", "storeId",
]  # fmt: skip


def error_of(response: requests.Response) -> tuple[int, Any, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def new_deal(*, assigned: int = REP, manual: str = "N") -> Deal:
    now = timezone.now()
    return Deal.objects.create(
        title="Item rows test",
        assigned_by_id=assigned,
        is_manual_opportunity=manual,
        date_create=now - timedelta(days=3),
        date_modify=now - timedelta(days=3),
    )


def add_row(sandbox: SandboxPortal, deal_id: int, user: int = ADMIN, **fields: Any) -> dict[str, Any]:
    result = sandbox.result(
        "crm.item.productrow.add", {"fields": {"ownerType": "D", "ownerId": deal_id, **fields}}, user=user
    )
    row: dict[str, Any] = result["productRow"]
    return row


def amounts(sandbox: SandboxPortal, deal_id: int) -> tuple[str, str]:
    deal = sandbox.result("crm.deal.get", {"id": deal_id})
    return deal["OPPORTUNITY"], deal["TAX_VALUE"]


# --- fields ----------------------------------------------------------------------------------------


def test_fields_describes_the_row_as_the_documented_sample(sandbox: SandboxPortal) -> None:
    result = sandbox.result("crm.item.productrow.fields", user=READONLY)
    fields = result["fields"]
    assert list(fields) == [
        "id", "ownerId", "ownerType", "productId", "productName", "price", "priceExclusive", "priceNetto",
        "priceBrutto", "quantity", "discountTypeId", "discountRate", "discountSum", "taxRate", "taxIncluded",
        "customized", "measureCode", "measureName", "sort", "type", "storeId",
    ]  # fmt: skip
    assert fields["ownerId"] == {
        "type": "integer", "isRequired": True, "isReadOnly": False, "isImmutable": True, "isMultiple": False,
        "isDynamic": False, "title": "Owner ID",
    }  # fmt: skip
    assert fields["priceExclusive"]["isReadOnly"] is True and fields["price"]["isReadOnly"] is False
    assert fields["taxIncluded"]["type"] == "char" and fields["quantity"]["type"] == "double"


# --- add / get -------------------------------------------------------------------------------------


def test_add_answers_the_row_with_numbers_as_numbers_and_prices_from_the_final_price(sandbox: SandboxPortal) -> None:
    """The add sample: price 80000 "including discounts and taxes", 20 % discount, 20 % tax included ->
    priceExclusive 66666.67, priceNetto 83333.34 (the docs' own rounding), discountSum 16666.67."""
    deal = new_deal()
    row = add_row(
        sandbox, deal.pk, productId=1, price=80000, quantity=2, discountTypeId=2, discountRate=20, taxRate=20,
        taxIncluded="Y", measureCode=796, sort=10,
    )  # fmt: skip
    assert isinstance(row["id"], int) and row["ownerId"] == deal.pk and row["ownerType"] == "D"
    assert (row["price"], row["priceAccount"], row["quantity"]) == (80000, 80000, 2)
    assert (row["priceExclusive"], row["discountSum"], row["taxRate"]) == (66666.67, 16666.67, 20)
    assert row["priceNetto"] in (83333.33, 83333.34)
    assert (row["discountTypeId"], row["discountRate"], row["taxIncluded"], row["customized"]) == (2, 20, "Y", "Y")
    product = Product.objects.get(pk=1)
    assert (row["productName"], row["measureName"], row["xmlId"]) == (product.name, product.measure_name, "")
    assert "storeId" not in row
    got = sandbox.result("crm.item.productrow.get", {"id": row["id"]}, user=READONLY)["productRow"]
    assert list(got) == GET_KEYS
    assert got["storeId"] is None
    assert {k: v for k, v in got.items() if k != "storeId"} == row


def test_add_leaves_out_a_tax_rate_that_was_not_sent(sandbox: SandboxPortal) -> None:
    """Bitrix's controller: "a rate the client never sent is not part of the row this action answers"."""
    deal = new_deal()
    row = add_row(sandbox, deal.pk, productName="Consulting", price=150)
    assert "taxRate" not in row
    assert (row["productName"], row["productId"], row["quantity"], row["discountTypeId"]) == ("Consulting", 0, 1, 2)
    assert sandbox.result("crm.item.productrow.get", {"id": row["id"]})["productRow"]["taxRate"] is None


def test_a_row_written_by_one_family_reads_identically_through_the_other(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    item = add_row(sandbox, deal.pk, productName="Widget", price=121, quantity=3, discountTypeId=1,
                   discountSum=10, taxRate=10, sort=5)  # fmt: skip
    legacy = sandbox.result("crm.deal.productrows.get", {"id": deal.pk})
    assert len(legacy) == 1
    assert legacy[0]["ID"] == str(item["id"]) and legacy[0]["OWNER_ID"] == str(deal.pk)
    pairs = [("PRICE", "price"), ("PRICE_EXCLUSIVE", "priceExclusive"), ("PRICE_NETTO", "priceNetto"),
             ("PRICE_BRUTTO", "priceBrutto"), ("QUANTITY", "quantity"), ("DISCOUNT_TYPE_ID", "discountTypeId"),
             ("DISCOUNT_RATE", "discountRate"), ("DISCOUNT_SUM", "discountSum"), ("TAX_RATE", "taxRate"),
             ("TAX_INCLUDED", "taxIncluded"), ("PRODUCT_NAME", "productName"), ("SORT", "sort")]  # fmt: skip
    assert {old: legacy[0][old] for old, _new in pairs} == {old: item[new] for old, new in pairs}
    # ...and the other way round: rows set by the legacy method, read by the item family.
    sandbox.result("crm.deal.productrows.set", {"id": deal.pk, "rows": [
        {"PRODUCT_NAME": "A", "PRICE_NETTO": 999, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 10, "SORT": 20},
        {"PRODUCT_ID": 2, "PRICE": 100, "TAX_RATE": 20, "TAX_INCLUDED": "Y", "SORT": 10},
    ]})  # fmt: skip
    legacy = sandbox.result("crm.deal.productrows.get", {"id": deal.pk})
    listed = sandbox.result("crm.item.productrow.list", {"filter": {"=ownerType": "D", "=ownerId": deal.pk}})[
        "productRows"
    ]
    assert [r["id"] for r in listed] == [int(r["ID"]) for r in legacy]
    for old, new in zip(legacy, listed, strict=True):
        assert {o: old[o] for o, _n in pairs} == {o: new[n] for o, n in pairs}
        assert old["PRICE_ACCOUNT"] == f"{Decimal(str(new['priceAccount'])):.2f}"


def test_the_deal_amount_follows_the_rows_as_after_productrows_set(sandbox: SandboxPortal, settings: Any) -> None:
    settings.SANDBOX_EVENTS_SYNC = True
    sandbox.bind_events("ONCRMDEALUPDATE")
    deal = new_deal()
    first = add_row(sandbox, deal.pk, productName="A", price=120, quantity=2, taxRate=20)
    assert amounts(sandbox, deal.pk) == ("240.00", "40.00")
    second = add_row(sandbox, deal.pk, productName="B", price=10)
    assert amounts(sandbox, deal.pk) == ("250.00", "40.00")
    # The same rows through the legacy method give the same amount.
    twin = new_deal()
    sandbox.result("crm.deal.productrows.set", {"id": twin.pk, "rows": [
        {"PRODUCT_NAME": "A", "PRICE": 120, "QUANTITY": 2, "TAX_RATE": 20}, {"PRODUCT_NAME": "B", "PRICE": 10},
    ]})  # fmt: skip
    assert amounts(sandbox, twin.pk) == amounts(sandbox, deal.pk)
    sandbox.result("crm.item.productrow.update", {"id": first["id"], "fields": {"quantity": 1}})
    assert amounts(sandbox, deal.pk) == ("130.00", "20.00")
    assert sandbox.call("crm.item.productrow.delete", {"id": second["id"]}).json()["result"] is None
    assert amounts(sandbox, deal.pk) == ("120.00", "20.00")
    updates = [d for d in EventDelivery.objects.order_by("id") if d.payload["data"]["FIELDS"]["ID"] == str(deal.pk)]
    assert len(updates) == 4
    assert Deal.objects.get(pk=deal.pk).modify_by_id == ADMIN


def test_a_manual_amount_is_left_alone(sandbox: SandboxPortal) -> None:
    deal = new_deal(manual="Y")
    add_row(sandbox, deal.pk, productName="A", price=50)
    assert amounts(sandbox, deal.pk) == ("0.00", "0.00")


# --- update ----------------------------------------------------------------------------------------


def test_update_changes_only_what_is_sent_and_keeps_the_final_price(sandbox: SandboxPortal) -> None:
    """The update sample: price 90000 with 10 % discount and 10 % tax included -> priceExclusive 81818.18,
    priceNetto 90909.09, priceBrutto 100000, discountSum 9090.91."""
    deal = new_deal()
    row = add_row(sandbox, deal.pk, productName="iphone 14", price=80000, quantity=2, sort=10)
    result = sandbox.result(
        "crm.item.productrow.update",
        {"id": row["id"], "fields": {"price": 90000, "quantity": 3, "discountTypeId": 2, "discountRate": 10,
                                     "taxRate": 10, "taxIncluded": "Y", "sort": 20}},
    )["productRow"]  # fmt: skip
    assert (result["price"], result["priceExclusive"], result["priceNetto"]) == (90000, 81818.18, 90909.09)
    assert (result["priceBrutto"], result["discountSum"], result["quantity"], result["sort"]) == (
        100000,
        9090.91,
        3,
        20,
    )
    assert (result["productName"], result["id"], "storeId" in result) == ("iphone 14", row["id"], False)
    again = sandbox.result("crm.item.productrow.update", {"id": row["id"], "fields": {"productName": "iphone 15"}})
    assert {k: v for k, v in again["productRow"].items() if k != "productName"} == {
        k: v for k, v in result.items() if k != "productName"
    }


def test_update_with_nothing_writable_is_refused_field_by_field(sandbox: SandboxPortal) -> None:
    """INVALID_ARG_VALUE: "Unknown field or the provided field is not available for update"."""
    deal = new_deal()
    row = add_row(sandbox, deal.pk, productName="A", price=5)
    response = sandbox.call("crm.item.productrow.update", {"id": row["id"], "fields": {"priceNetto": 1, "PRICE": 2}})
    assert error_of(response) == (400, "INVALID_ARG_VALUE", "Field 'priceNetto' not available for update")
    # A writable field among unknown ones makes the rest disappear in silence.
    ok = sandbox.result("crm.item.productrow.update", {"id": row["id"], "fields": {"priceNetto": 1, "sort": 7}})
    assert (ok["productRow"]["sort"], ok["productRow"]["price"]) == (7, 5)


# --- set ---------------------------------------------------------------------------------------------


def test_set_replaces_every_row_and_answers_them_all(sandbox: SandboxPortal) -> None:
    """ "this method will overwrite all existing product rows associated with the object"."""
    deal = new_deal()
    old = add_row(sandbox, deal.pk, productName="old", price=1)
    result = sandbox.result(
        "crm.item.productrow.set",
        {"ownerType": "D", "ownerId": deal.pk, "productRows": [
            {"productId": 1, "price": 99999.99, "quantity": 1, "sort": 10},
            {"productId": 2, "price": 15900, "quantity": 2, "sort": 10},
            {"id": old["id"], "priceNetto": 5},  # nothing writable: dropped
        ]},
    )["productRows"]  # fmt: skip
    assert [(r["productId"], r["price"], r["quantity"]) for r in result] == [(1, 99999.99, 1), (2, 15900, 2)]
    assert old["id"] not in [r["id"] for r in result]
    assert not ProductRow.objects.filter(pk=old["id"]).exists()
    assert all("storeId" not in r for r in result)
    assert amounts(sandbox, deal.pk) == ("131799.99", "0.00")
    assert sandbox.result("crm.item.productrow.set", {"ownerType": "D", "ownerId": deal.pk, "productRows": []}) == {
        "productRows": []
    }
    assert amounts(sandbox, deal.pk) == ("0.00", "0.00")


def test_a_row_the_pricing_refuses_writes_nothing(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    add_row(sandbox, deal.pk, productName="keep", price=3)
    rows = [{"productName": "ok", "price": 1}, {"productName": "bad", "price": 1, "discountTypeId": 1}]
    response = sandbox.call("crm.item.productrow.set", {"ownerType": "D", "ownerId": deal.pk, "productRows": rows})
    status, code, text = error_of(response)
    assert (status, code) == (400, 0)
    assert text == "Discount Sum (DISCOUNT_SUM) is required if Monetary Discount Type (DISCOUNT_TYPE_ID) is defined."
    assert [r.product_name for r in ProductRow.objects.filter(deal=deal)] == ["keep"]


# --- list ----------------------------------------------------------------------------------------------


def test_list_needs_the_owner_in_the_filter_and_pages_by_fifty(sandbox: SandboxPortal) -> None:
    """ "The following keys must be present: =ownerType, =ownerId"; "The page size of results is always
    static: 50 records"."""
    deal = new_deal()
    sandbox.result("crm.deal.productrows.set", {"id": deal.pk, "rows": [
        {"PRODUCT_NAME": f"r{i}", "PRICE": i, "SORT": 100 - i} for i in range(60)
    ]})  # fmt: skip
    first = sandbox.call("crm.item.productrow.list", {"filter": {"=ownerType": "D", "=ownerId": deal.pk}}).json()
    assert (len(first["result"]["productRows"]), first["total"], first["next"]) == (50, 60, 50)
    sorts = [r["sort"] for r in first["result"]["productRows"]]
    assert sorts == sorted(sorts)
    second = sandbox.call(
        "crm.item.productrow.list", {"filter": {"=ownerType": "D", "=ownerId": deal.pk}, "start": 50}
    ).json()
    assert (len(second["result"]["productRows"]), "next" in second) == (10, False)
    by_id = sandbox.result(
        "crm.item.productrow.list",
        {"filter": {"=ownerType": "D", "=ownerId": str(deal.pk), ">=id": first["result"]["productRows"][0]["id"]},
         "order": {"id": "DESC"}},
    )["productRows"]  # fmt: skip
    ids = [r["id"] for r in by_id]
    assert ids == sorted(ids, reverse=True)


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({}, (400, "REQUIRED_ARG_MISSING", "Argument '=ownerType' is required")),
        ({"=ownerType": "D"}, (400, "REQUIRED_ARG_MISSING", "Argument '=ownerId' is required")),
        ({"ownerType": "D", "ownerId": 1}, (400, "REQUIRED_ARG_MISSING", "Argument '=ownerType' is required")),
        ({"=ownerType": "D", "=ownerId": 999999}, (400, "ACCESS_DENIED", "Access denied")),
        ({"=ownerType": "ZZ", "=ownerId": 1}, (400, "ACCESS_DENIED", "Access denied")),
        ({"=ownerType": "D", "=ownerId": 1, ">id": [1]},
         (400, "INVALID_ARG_VALUE", "Value for filter key '>ID' should be either string or number")),
    ],
)  # fmt: skip
def test_list_errors(sandbox: SandboxPortal, filter_: dict[str, Any], expected: tuple[int, str, str]) -> None:
    assert error_of(sandbox.call("crm.item.productrow.list", {"filter": filter_})) == expected


# --- errors and rights -------------------------------------------------------------------------------


def test_errors_for_rows_and_owners_are_the_documented_codes(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    assert error_of(sandbox.call("crm.item.productrow.get", {"id": 987654})) == (400, "NOT_FOUND", "Item not found")
    assert error_of(sandbox.call("crm.item.productrow.update", {"id": 987654, "fields": {"sort": 1}}))[1] == "NOT_FOUND"
    assert error_of(sandbox.call("crm.item.productrow.delete", {"id": 987654}))[1] == "NOT_FOUND"
    assert error_of(sandbox.call("crm.item.productrow.add", {"fields": {"ownerType": "D", "ownerId": 987654}})) == (
        400, "OWNER_NOT_FOUND", "Owner was not found",
    )  # fmt: skip
    assert error_of(sandbox.call("crm.item.productrow.add", {"fields": {"ownerType": "C", "ownerId": deal.pk}})) == (
        400, "ENTITY_TYPE_NOT_SUPPORTED", "Entity type CONTACT is not supported",
    )  # fmt: skip
    assert error_of(sandbox.call("crm.item.productrow.set", {"ownerType": "D", "ownerId": deal.pk})) == (
        400, 100, "Could not find value for parameter {productRows}",
    )  # fmt: skip
    assert error_of(sandbox.call("crm.item.productrow.add", {}))[1:] == (
        100,
        "Could not find value for parameter {fields}",
    )
    assert error_of(sandbox.call("crm.item.productrow.get", {"id": "x"}))[1:] == (
        100, "Invalid value x to match with parameter {id}. Should be value of type int.",
    )  # fmt: skip
    assert not ProductRow.objects.filter(deal=deal).exists()


def test_a_read_only_user_reads_rows_but_may_not_write_them(sandbox: SandboxPortal) -> None:
    """ "requires access permission to modify the CRM object"; reading needs read access."""
    deal = new_deal()
    row = add_row(sandbox, deal.pk, productName="A", price=5)
    denied = (400, "ACCESS_DENIED", "Access denied")
    assert (
        error_of(
            sandbox.call("crm.item.productrow.add", {"fields": {"ownerType": "D", "ownerId": deal.pk}}, user=READONLY)
        )
        == denied
    )
    assert (
        error_of(sandbox.call("crm.item.productrow.update", {"id": row["id"], "fields": {"price": 1}}, user=READONLY))
        == denied
    )
    assert error_of(sandbox.call("crm.item.productrow.delete", {"id": row["id"]}, user=READONLY)) == denied
    assert (
        error_of(
            sandbox.call(
                "crm.item.productrow.set", {"ownerType": "D", "ownerId": deal.pk, "productRows": []}, user=READONLY
            )
        )
        == denied
    )
    assert sandbox.result("crm.item.productrow.get", {"id": row["id"]}, user=READONLY)["productRow"]["price"] == 5
    assert (
        len(
            sandbox.result(
                "crm.item.productrow.list", {"filter": {"=ownerType": "D", "=ownerId": deal.pk}}, user=READONLY
            )["productRows"]
        )
        == 1
    )
    assert ProductRow.objects.get(pk=row["id"]).price == Decimal(5)


def test_a_rep_writes_rows_of_own_deals_only(sandbox: SandboxPortal) -> None:
    mine, theirs = new_deal(assigned=REP), new_deal(assigned=OTHER_REP)
    assert add_row(sandbox, mine.pk, user=REP, productName="mine", price=1)["ownerId"] == mine.pk
    assert (
        error_of(
            sandbox.call("crm.item.productrow.add", {"fields": {"ownerType": "D", "ownerId": theirs.pk}}, user=REP)
        )[1]
        == "ACCESS_DENIED"
    )
    assert add_row(sandbox, theirs.pk, user=MANAGER, productName="any", price=1)["ownerId"] == theirs.pk


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("crm.item.productrow.get", {"id": "99999999999999999999999"}),
        ("crm.item.productrow.get", {"id": [1]}),
        ("crm.item.productrow.update", {"id": 1, "fields": "price=1"}),
        ("crm.item.productrow.delete", {"id": -1}),
        ("crm.item.productrow.add", {"fields": {"ownerType": ["D"], "ownerId": {"x": 1}}}),
        ("crm.item.productrow.add", {"fields": {"ownerType": "D", "ownerId": "99999999999999999999999"}}),
        ("crm.item.productrow.set", {"ownerType": "D", "ownerId": "9" * 30, "productRows": []}),
        ("crm.item.productrow.set", {"ownerType": "D", "ownerId": 1, "productRows": "rows"}),
        ("crm.item.productrow.list", {"filter": {"=ownerType": "D", "=ownerId": "9" * 30}}),
        ("crm.item.productrow.list", {"filter": "D", "order": "x", "start": "x"}),
    ],
)
def test_nonsense_gets_a_clear_error_and_never_a_500(
    sandbox: SandboxPortal, method: str, params: dict[str, Any]
) -> None:
    response = sandbox.call(method, params)
    assert response.status_code == 400, response.text
    assert response.json()["error_description"]


def test_values_the_pricing_cannot_take_are_refused_with_their_reason(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    for fields, text in (
        ({"price": "abc"}, "Price (PRICE) must be a number."),
        ({"quantity": {"x": 1}}, "Quantity (QUANTITY) must be a number."),
        ({"discountTypeId": 2, "discountRate": 150}, "Discount Rate (DISCOUNT_RATE) must be between 0 and 100."),
    ):
        response = sandbox.call("crm.item.productrow.add", {"fields": {"ownerType": "D", "ownerId": deal.pk, **fields}})
        assert error_of(response) == (400, 0, text)
    assert not ProductRow.objects.filter(deal=deal).exists()
