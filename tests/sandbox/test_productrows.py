"""crm.deal.productrows.get / .set over HTTP: shapes, replace semantics, totals, errors and rights."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.utils import timezone

from sandbox.models import Deal, EventBinding, EventDelivery, Product, ProductRow
from sandbox.wire import money_str
from tests.conftest import SandboxPortal

ADMIN, MANAGER, REP, OTHER_REP, READONLY = 1, 2, 3, 4, 5
ID_ERROR = (400, "", "The parameter id is invalid or not defined.")
NOT_FOUND = (400, "", "Not found")
DENIED = (400, "", "Access denied")
SAMPLE_KEYS = [
    "ID", "OWNER_ID", "OWNER_TYPE", "PRODUCT_ID", "PRODUCT_NAME", "ORIGINAL_PRODUCT_NAME", "PRODUCT_DESCRIPTION",
    "PRICE", "PRICE_EXCLUSIVE", "PRICE_NETTO", "PRICE_BRUTTO", "PRICE_ACCOUNT", "QUANTITY", "DISCOUNT_TYPE_ID",
    "DISCOUNT_RATE", "DISCOUNT_SUM", "TAX_RATE", "TAX_INCLUDED", "CUSTOMIZED", "MEASURE_CODE", "MEASURE_NAME", "SORT",
    "XML_ID", "TYPE", "STORE_ID", "RESERVE_ID", "DATE_RESERVE_END", "RESERVE_QUANTITY",
]  # fmt: skip
SET_SAMPLE_ROWS: list[dict[str, Any]] = [
    {"PRODUCT_ID": 1, "PRICE": 1000, "QUANTITY": 10, "DISCOUNT_TYPE_ID": 1, "DISCOUNT_SUM": 100, "TAX_RATE": 13,
     "MEASURE_CODE": 796, "MEASURE_NAME": "pcs", "SORT": 10},
    {"PRODUCT_NAME": "Product #2", "PRICE": 500, "QUANTITY": 5, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 10,
     "TAX_RATE": 10, "MEASURE_CODE": 166, "MEASURE_NAME": "kg", "SORT": 20},
]  # fmt: skip


def error_of(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def new_deal(*, assigned: int = REP, manual: str = "N", opportunity: str = "0.00", tax: str = "0.00") -> Deal:
    now = timezone.now()
    return Deal.objects.create(
        title="Product rows test",
        assigned_by_id=assigned,
        is_manual_opportunity=manual,
        opportunity=Decimal(opportunity),
        tax_value=Decimal(tax),
        date_create=now - timedelta(days=3),
        date_modify=now - timedelta(days=3),
    )


def rows_of(sandbox: SandboxPortal, deal_id: int, user: int = ADMIN) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = sandbox.result("crm.deal.productrows.get", {"id": deal_id}, user=user)
    return result


def set_rows(sandbox: SandboxPortal, deal_id: int, rows: Any, user: int = ADMIN) -> requests.Response:
    return sandbox.call("crm.deal.productrows.set", {"id": deal_id, "rows": rows}, user=user)


def deal_amounts(sandbox: SandboxPortal, deal_id: int) -> tuple[str, str]:
    """OPPORTUNITY and TAX_VALUE as a client sees them: crm.deal.get, or the stored deal without it."""
    response = sandbox.call("crm.deal.get", {"id": deal_id})
    if response.status_code == 404 and response.json()["error"] == "ERROR_METHOD_NOT_FOUND":
        deal = Deal.objects.get(pk=deal_id)
        return str(money_str(deal.opportunity)), str(money_str(deal.tax_value))
    assert response.status_code == 200, response.text
    fields = response.json()["result"]
    return fields["OPPORTUNITY"], fields["TAX_VALUE"]


# --- get: shape -------------------------------------------------------------------------------------


def test_a_saved_row_reads_back_with_the_wire_types_of_the_documented_sample(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    product = Product.objects.get(pk=1)
    # PRICE is the core's anchor: the sample row's 899.10 at 10 % off gives back its NETTO 999.
    sent = {"PRODUCT_ID": 1, "PRICE": 899.1, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 10, "TAX_INCLUDED": "Y"}
    assert set_rows(sandbox, deal.pk, [sent]).json()["result"] is True
    (row,) = rows_of(sandbox, deal.pk)
    assert list(row) == SAMPLE_KEYS
    assert row == {
        "ID": str(ProductRow.objects.get(deal=deal).pk),
        "OWNER_ID": str(deal.pk),
        "OWNER_TYPE": "D",
        "PRODUCT_ID": 1,
        "PRODUCT_NAME": product.name,
        "ORIGINAL_PRODUCT_NAME": product.name,
        "PRODUCT_DESCRIPTION": None,
        "PRICE": 899.1,
        "PRICE_EXCLUSIVE": 899.1,
        "PRICE_NETTO": 999,
        "PRICE_BRUTTO": 999,
        "PRICE_ACCOUNT": "899.10",
        "QUANTITY": 1,
        "DISCOUNT_TYPE_ID": 2,
        "DISCOUNT_RATE": 10,
        "DISCOUNT_SUM": 99.9,
        "TAX_RATE": None,
        "TAX_INCLUDED": "Y",
        "CUSTOMIZED": "Y",
        "MEASURE_CODE": product.measure_code,
        "MEASURE_NAME": product.measure_name,
        "SORT": 0,
        "XML_ID": None,
        "TYPE": product.type,
        "STORE_ID": 0,
        "RESERVE_ID": None,
        "DATE_RESERVE_END": None,
        "RESERVE_QUANTITY": None,
    }
    raw = sandbox.call("crm.deal.productrows.get", {"id": deal.pk}).text
    assert '"PRICE":899.1,' in raw.replace(" ", "") and '"PRICE_NETTO":999,' in raw.replace(" ", "")


def test_a_deal_without_rows_has_an_empty_list(sandbox: SandboxPortal) -> None:
    assert rows_of(sandbox, new_deal().pk) == []


def test_the_documented_set_sample_is_stored_ordered_and_sums_up_the_deal(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    response = set_rows(sandbox, deal.pk, SET_SAMPLE_ROWS)
    assert response.status_code == 200
    assert response.json()["result"] is True
    first, second = rows_of(sandbox, deal.pk)
    assert (first["SORT"], second["SORT"]) == (10, 20)
    assert (first["PRICE"], first["PRICE_EXCLUSIVE"], first["PRICE_NETTO"], first["PRICE_BRUTTO"]) == (
        1000, 884.96, 984.96, 1113
    )  # fmt: skip
    assert (first["DISCOUNT_TYPE_ID"], first["DISCOUNT_SUM"], first["DISCOUNT_RATE"], first["TAX_RATE"]) == (
        1, 100, 10.15, 13
    )  # fmt: skip
    assert (second["PRODUCT_ID"], second["PRODUCT_NAME"], second["ORIGINAL_PRODUCT_NAME"]) == (0, "Product #2", None)
    # EXCL round2(500/1.1) = 454.55; SUM round2(100·454.55/90 − 454.55) = 50.51; NETTO 505.06.
    assert (second["PRICE_EXCLUSIVE"], second["PRICE_NETTO"], second["DISCOUNT_SUM"]) == (454.55, 505.06, 50.51)
    assert (second["PRICE_BRUTTO"], second["MEASURE_CODE"], second["MEASURE_NAME"]) == (555.57, 166, "kg")
    # Basket lines at PRICE_EXCLUSIVE plus VAT: 8849.60 + 1150.45 and 2272.75 + 227.28.
    assert deal_amounts(sandbox, deal.pk) == ("12500.08", "1377.73")


def test_rows_are_ordered_by_sort_then_by_id(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    names = [("c", 20), ("a", 10), ("d", 20), ("b", 10)]
    set_rows(sandbox, deal.pk, [{"PRODUCT_NAME": n, "SORT": s, "PRICE": 1} for n, s in names])
    assert [r["PRODUCT_NAME"] for r in rows_of(sandbox, deal.pk)] == ["a", "b", "c", "d"]


# --- set: names, products, replace semantics -----------------------------------------------------


def test_a_catalog_product_fills_the_name_and_unit_unless_the_row_names_its_own(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    service = Product.objects.filter(measure_code=356).first()
    assert service is not None
    set_rows(sandbox, deal.pk, [{"PRODUCT_ID": service.pk, "PRICE": 10}, {"PRODUCT_ID": 1, "PRODUCT_NAME": "Mine"}])
    by_product = {r["PRODUCT_ID"]: r for r in rows_of(sandbox, deal.pk)}
    catalog = by_product[service.pk]
    assert (catalog["PRODUCT_NAME"], catalog["MEASURE_CODE"], catalog["MEASURE_NAME"]) == (service.name, 356, "h")
    assert catalog["TYPE"] == service.type
    assert (by_product[1]["PRODUCT_NAME"], by_product[1]["ORIGINAL_PRODUCT_NAME"]) == (
        "Mine",
        Product.objects.get(pk=1).name,
    )


def test_a_row_with_neither_product_nor_name_is_called_by_its_own_row_id(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    set_rows(sandbox, deal.pk, [{"PRICE": 5}, {"PRICE": 6, "PRODUCT_NAME": ""}])
    rows = rows_of(sandbox, deal.pk)
    assert [r["PRODUCT_NAME"] for r in rows] == [f"[{r['ID']}]" for r in rows]
    assert {(r["MEASURE_CODE"], r["MEASURE_NAME"]) for r in rows} == {(0, "")}


def test_set_replaces_all_rows_and_rows_sent_back_with_their_id_keep_it(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    set_rows(sandbox, deal.pk, [{"PRODUCT_NAME": n, "PRICE": 1, "SORT": i} for i, n in enumerate("abc")])
    a, b, c = rows_of(sandbox, deal.pk)
    b["PRICE"] = b["PRICE_EXCLUSIVE"] = 7  # a sent PRICE_EXCLUSIVE is kept, and totals are made of it
    set_rows(sandbox, deal.pk, [b, {"PRODUCT_NAME": "new", "PRICE": 2, "SORT": 9}])
    kept, new = rows_of(sandbox, deal.pk)
    assert (kept["ID"], kept["PRODUCT_NAME"], kept["PRICE"]) == (b["ID"], "b", 7)
    assert new["ID"] not in (a["ID"], b["ID"], c["ID"])
    assert ProductRow.objects.filter(pk__in=[a["ID"], c["ID"]]).count() == 0
    assert deal_amounts(sandbox, deal.pk)[0] == "9.00"


def test_rows_read_and_sent_back_unchanged_stay_exactly_the_same(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    set_rows(sandbox, deal.pk, [*SET_SAMPLE_ROWS, {"PRICE_NETTO": "33.33", "DISCOUNT_RATE": 7, "TAX_RATE": 13}])
    before = rows_of(sandbox, deal.pk)
    amounts = deal_amounts(sandbox, deal.pk)
    assert set_rows(sandbox, deal.pk, before).status_code == 200
    assert rows_of(sandbox, deal.pk) == before
    assert deal_amounts(sandbox, deal.pk) == amounts


def test_an_id_of_another_deals_row_makes_a_new_row_and_leaves_that_one_alone(sandbox: SandboxPortal) -> None:
    first, second = new_deal(), new_deal()
    set_rows(sandbox, first.pk, [{"PRODUCT_NAME": "theirs", "PRICE": 1}])
    (theirs,) = rows_of(sandbox, first.pk)
    set_rows(sandbox, second.pk, [{"ID": theirs["ID"], "PRODUCT_NAME": "mine", "PRICE": 2}])
    assert rows_of(sandbox, first.pk) == [theirs]
    assert rows_of(sandbox, second.pk)[0]["ID"] != theirs["ID"]


def test_an_empty_rows_array_clears_the_rows_and_the_amount(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    set_rows(sandbox, deal.pk, SET_SAMPLE_ROWS)
    assert set_rows(sandbox, deal.pk, []).json()["result"] is True
    assert rows_of(sandbox, deal.pk) == []
    assert deal_amounts(sandbox, deal.pk) == ("0.00", "0.00")


def test_no_rows_over_no_rows_changes_nothing_on_the_deal(sandbox: SandboxPortal) -> None:
    deal = new_deal(opportunity="4200.00")
    assert set_rows(sandbox, deal.pk, []).json()["result"] is True
    assert Deal.objects.get(pk=deal.pk).date_modify == deal.date_modify
    assert deal_amounts(sandbox, deal.pk)[0] == "4200.00"


def test_elements_of_rows_that_are_not_objects_are_skipped(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    assert set_rows(sandbox, deal.pk, ["x", 5, None, [], {"PRODUCT_NAME": "real", "PRICE": 3}]).status_code == 200
    assert [r["PRODUCT_NAME"] for r in rows_of(sandbox, deal.pk)] == ["real"]


def test_owner_keys_inside_a_row_are_ignored(sandbox: SandboxPortal) -> None:
    deal, other = new_deal(), new_deal()
    set_rows(sandbox, deal.pk, [{"PRODUCT_NAME": "x", "OWNER_ID": other.pk, "OWNER_TYPE": "L"}])
    (row,) = rows_of(sandbox, deal.pk)
    assert (row["OWNER_ID"], row["OWNER_TYPE"]) == (str(deal.pk), "D")


def test_a_form_encoded_call_sets_rows_like_a_json_one(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    body = {
        "auth": sandbox.token(),
        "id": str(deal.pk),
        "rows[0][PRODUCT_NAME]": "Form row",
        "rows[0][PRICE]": "12.50",
        "rows[0][QUANTITY]": "2",
        "rows[0][TAX_INCLUDED]": "Y",
    }
    response = requests.post(sandbox.rest_url("crm.deal.productrows.set"), data=body, timeout=10)
    assert response.json()["result"] is True
    (row,) = rows_of(sandbox, deal.pk)
    assert (row["PRICE"], row["QUANTITY"], row["TAX_INCLUDED"]) == (12.5, 2, "Y")
    assert deal_amounts(sandbox, deal.pk)[0] == "25.00"


def test_negative_quantities_are_accepted_and_lower_the_amount(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    set_rows(
        sandbox,
        deal.pk,
        [{"PRODUCT_NAME": "Sale", "PRICE": 100}, {"PRODUCT_NAME": "Return", "PRICE": 30, "QUANTITY": -1}],
    )
    assert deal_amounts(sandbox, deal.pk)[0] == "70.00"


# --- set: the deal afterwards ---------------------------------------------------------------------


def test_saving_rows_touches_the_deal_and_queues_oncrmdealupdate(sandbox: SandboxPortal, settings: Any) -> None:
    settings.SANDBOX_EVENTS_SYNC = True
    app = sandbox.install_app()
    EventBinding.objects.create(app=app, event="ONCRMDEALUPDATE", handler=f"{sandbox.app_url}no-such-handler/")
    deal = new_deal()
    assert set_rows(sandbox, deal.pk, [{"PRODUCT_NAME": "x", "PRICE": 10}], user=REP).status_code == 200
    changed = Deal.objects.get(pk=deal.pk)
    assert changed.modify_by_id == REP and changed.date_modify > deal.date_modify
    delivery = EventDelivery.objects.get(event="ONCRMDEALUPDATE")
    assert delivery.payload["data"] == {"FIELDS": {"ID": str(deal.pk)}}


def test_a_manual_amount_is_left_alone_but_its_tax_is_rewritten(sandbox: SandboxPortal) -> None:
    deal = new_deal(manual="Y", opportunity="5000.00", tax="12.00")
    assert set_rows(sandbox, deal.pk, SET_SAMPLE_ROWS).status_code == 200
    assert deal_amounts(sandbox, deal.pk) == ("5000.00", "1377.73")
    assert len(rows_of(sandbox, deal.pk)) == 2


def test_the_recalculated_amount_is_the_basket_of_the_stored_rows(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    rows = [
        {"PRODUCT_NAME": "a", "PRICE": "33.33", "DISCOUNT_RATE": 7, "TAX_RATE": 13, "QUANTITY": 3},
        {"PRODUCT_NAME": "b", "PRICE": "19.99", "DISCOUNT_TYPE_ID": 1, "DISCOUNT_SUM": "2.5", "QUANTITY": "1.5"},
    ]
    set_rows(sandbox, deal.pk, rows)
    # a: EXCL round2(33.33/1.13) = 29.50, line 88.50 + VAT roundEx(11.505) = 11.51 (rate sent without
    # a type is discarded); b: no tax, line roundEx(19.99 × 1.5) = 29.99.
    assert [r["DISCOUNT_RATE"] for r in rows_of(sandbox, deal.pk)] == [0, 11.12]  # 100·2.50/22.49
    assert deal_amounts(sandbox, deal.pk) == ("130.00", "11.51")


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", [0, -1, "abc", "", 0.5, False, None, []])
def test_an_invalid_id_is_refused_by_get_and_set(sandbox: SandboxPortal, bad_id: Any) -> None:
    params = {} if bad_id is None else {"id": bad_id}
    assert error_of(sandbox.call("crm.deal.productrows.get", params)) == ID_ERROR
    assert error_of(sandbox.call("crm.deal.productrows.set", params | {"rows": []})) == ID_ERROR


def test_the_id_may_be_upper_case_or_a_digit_string(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    assert sandbox.result("crm.deal.productrows.set", {"ID": str(deal.pk), "rows": [{"PRICE": 1}]}) is True
    assert len(sandbox.result("crm.deal.productrows.get", {"ID": str(deal.pk)})) == 1


def test_an_unknown_deal_is_not_found(sandbox: SandboxPortal) -> None:
    assert error_of(sandbox.call("crm.deal.productrows.get", {"id": 999999})) == NOT_FOUND
    assert error_of(set_rows(sandbox, 999999, [])) == NOT_FOUND


@pytest.mark.parametrize("rows", ["x", 5, None, True])
def test_rows_that_are_not_an_array_are_refused(sandbox: SandboxPortal, rows: Any) -> None:
    deal = new_deal()
    params: dict[str, Any] = {"id": deal.pk} if rows is None else {"id": deal.pk, "rows": rows}
    response = sandbox.call("crm.deal.productrows.set", params)
    assert error_of(response) == (400, "", "The parameter rows must be array.")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"PRICE": 10, "DISCOUNT_TYPE_ID": 2},
            "Discount Rate (DISCOUNT_RATE) is required if Percentage Discount Type (DISCOUNT_TYPE_ID) is defined.<br>",
        ),
        (
            {"PRICE": 0, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 100},
            "Discount Sum (DISCOUNT_SUM) is required if Percentage Discount Type (DISCOUNT_TYPE_ID) is defined "
            "and Discount Rate (DISCOUNT_RATE) is 100%<br>",
        ),
        (
            {"PRICE": 10, "DISCOUNT_TYPE_ID": 1},
            "Discount Sum (DISCOUNT_SUM) is required if Monetary Discount Type (DISCOUNT_TYPE_ID) is defined.<br>",
        ),
    ],
)
def test_the_documented_discount_errors_are_error_core_and_write_nothing(
    sandbox: SandboxPortal, row: dict[str, Any], message: str
) -> None:
    deal = new_deal()
    set_rows(sandbox, deal.pk, [{"PRODUCT_NAME": "before", "PRICE": 40}])
    before, amounts = rows_of(sandbox, deal.pk), deal_amounts(sandbox, deal.pk)
    good = [{"PRODUCT_NAME": "one", "PRICE": 1}, {"PRODUCT_NAME": "two", "PRICE": 2}]
    assert error_of(set_rows(sandbox, deal.pk, [*good, row])) == (400, "ERROR_CORE", message)
    assert rows_of(sandbox, deal.pk) == before
    assert deal_amounts(sandbox, deal.pk) == amounts


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"PRICE": "abc"}, "Price (PRICE) must be a number.<br>"),
        ({"PRICE": "Infinity"}, "Price (PRICE) must be a number.<br>"),
        ({"QUANTITY": {"a": 1}}, "Quantity (QUANTITY) must be a number.<br>"),
        ({"PRICE": 1e300}, "Price (PRICE) is out of range.<br>"),
        ({"PRICE": "999999999999", "QUANTITY": "999999"}, "The deal amount (OPPORTUNITY) is out of range.<br>"),
        ({"DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 150}, "Discount Rate (DISCOUNT_RATE) must be between 0 and 100.<br>"),
        ({"TAX_RATE": -1}, "Tax Rate (TAX_RATE) must be between 0 and 100.<br>"),
        ({"PRODUCT_ID": -5}, "Product ID (PRODUCT_ID) is out of range.<br>"),
        ({"PRODUCT_ID": "first"}, "Product ID (PRODUCT_ID) must be an integer.<br>"),
        ({"SORT": 10**12}, "Sort (SORT) is out of range.<br>"),
        ({"MEASURE_CODE": -1}, "Measure Code (MEASURE_CODE) is out of range.<br>"),
        ({"TYPE": 99}, "Type (TYPE) is not supported.<br>"),
        ({"PRODUCT_NAME": "x" * 256}, "Product Name (PRODUCT_NAME) must not be longer than 255 characters.<br>"),
        ({"PRODUCT_NAME": {"a": 1}}, "Product Name (PRODUCT_NAME) must be a string.<br>"),
    ],
)
def test_absurd_values_get_a_clear_error_and_never_a_500(
    sandbox: SandboxPortal, row: dict[str, Any], message: str
) -> None:
    assert error_of(set_rows(sandbox, new_deal().pk, [row])) == (400, "ERROR_CORE", message)


def test_nan_in_a_json_body_is_refused_like_any_non_number(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    body = json.dumps({"auth": sandbox.token(), "id": deal.pk, "rows": [{"PRICE": float("nan")}]})
    response = requests.post(
        sandbox.rest_url("crm.deal.productrows.set"),
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert error_of(response) == (400, "ERROR_CORE", "Price (PRICE) must be a number.<br>")


def test_more_than_a_thousand_rows_are_refused(sandbox: SandboxPortal) -> None:
    response = set_rows(sandbox, new_deal().pk, [{"PRICE": 1}] * 1001)
    assert error_of(response) == (400, "", "The parameter rows must not contain more than 1000 rows.")


# --- rights ---------------------------------------------------------------------------------------


def test_a_rep_sets_rows_of_own_deals_only(sandbox: SandboxPortal) -> None:
    own, foreign = new_deal(assigned=REP), new_deal(assigned=OTHER_REP)
    assert error_of(set_rows(sandbox, foreign.pk, [{"PRICE": 1}], user=REP)) == DENIED
    assert rows_of(sandbox, foreign.pk) == []
    assert set_rows(sandbox, own.pk, [{"PRICE": 1}], user=REP).status_code == 200
    assert len(rows_of(sandbox, foreign.pk, user=REP)) == 0  # reading someone else's deal is fine


def test_managers_and_admins_set_rows_of_any_deal(sandbox: SandboxPortal) -> None:
    deal = new_deal(assigned=OTHER_REP)
    for user in (MANAGER, ADMIN):
        assert set_rows(sandbox, deal.pk, [{"PRICE": user}], user=user).status_code == 200
    assert rows_of(sandbox, deal.pk)[0]["PRICE"] == ADMIN


def test_a_read_only_user_reads_rows_but_may_not_set_them(sandbox: SandboxPortal) -> None:
    deal = new_deal()
    set_rows(sandbox, deal.pk, [{"PRODUCT_NAME": "x", "PRICE": 1}])
    assert len(rows_of(sandbox, deal.pk, user=READONLY)) == 1
    assert error_of(set_rows(sandbox, deal.pk, [], user=READONLY)) == DENIED
    assert error_of(set_rows(sandbox, 999999, [], user=READONLY)) == DENIED
    assert len(rows_of(sandbox, deal.pk)) == 1
