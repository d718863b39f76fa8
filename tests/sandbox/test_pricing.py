"""The sandbox's price arithmetic against rows worked by hand from Bitrix24's core steps
(tests/pricing_cases.py): as a pure function and over HTTP, plus the documented errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sandbox.models import Deal
from sandbox.pricing import (
    RATE_REQUIRED,
    SUM_REQUIRED,
    SUM_REQUIRED_AT_100,
    PricingError,
    RowPrices,
    deal_totals,
    parse_row_input,
    row_prices,
)
from tests.conftest import SandboxPortal
from tests.pricing_cases import CASES, Case, StoredRow, case_id
from tests.sandbox.test_productrows import deal_amounts, new_deal, rows_of, set_rows

D = Decimal


def expected_fields(row: StoredRow) -> dict[str, Any]:
    return {
        "PRICE": D(row.price),
        "PRICE_EXCLUSIVE": D(row.exclusive),
        "PRICE_NETTO": D(row.netto),
        "PRICE_BRUTTO": D(row.brutto),
        "DISCOUNT_RATE": D(row.rate),
        "DISCOUNT_SUM": D(row.discount_sum),
        "QUANTITY": D(row.quantity),
        "DISCOUNT_TYPE_ID": row.discount_type,
        "TAX_RATE": None if row.tax_rate is None else D(row.tax_rate),
        "TAX_INCLUDED": "Y" if row.included else "N",
    }


def fields_of(row: RowPrices) -> dict[str, Any]:
    return {
        "PRICE": row.price,
        "PRICE_EXCLUSIVE": row.price_exclusive,
        "PRICE_NETTO": row.price_netto,
        "PRICE_BRUTTO": row.price_brutto,
        "DISCOUNT_RATE": row.discount_rate,
        "DISCOUNT_SUM": row.discount_sum,
        "QUANTITY": row.quantity,
        "DISCOUNT_TYPE_ID": row.discount_type_id,
        "TAX_RATE": row.tax_rate,
        "TAX_INCLUDED": "Y" if row.tax_included else "N",
    }


def read_back(row: dict[str, Any]) -> dict[str, Any]:
    """A row of crm.deal.productrows.get, its numbers as Decimals."""
    numbers = ("PRICE", "PRICE_EXCLUSIVE", "PRICE_NETTO", "PRICE_BRUTTO", "DISCOUNT_RATE", "DISCOUNT_SUM", "QUANTITY")
    result: dict[str, Any] = {name: D(str(row[name])) for name in numbers}
    result["TAX_RATE"] = None if row["TAX_RATE"] is None else D(str(row["TAX_RATE"]))
    result["DISCOUNT_TYPE_ID"] = row["DISCOUNT_TYPE_ID"]
    result["TAX_INCLUDED"] = row["TAX_INCLUDED"]
    return result


# --- The hand-worked table ----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_each_row_is_stored_as_the_core_computes_it(case: Case) -> None:
    stored = [row_prices(parse_row_input(sent)) for sent in case.sent]
    assert [fields_of(row) for row in stored] == [expected_fields(row) for row in case.stored], case.source
    totals = deal_totals(stored)
    assert (totals.opportunity, totals.tax_value) == (D(case.opportunity), D(case.tax_value)), case.source


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_over_http_the_portal_stores_and_totals_each_case_as_the_core(sandbox: SandboxPortal, case: Case) -> None:
    deal = new_deal()
    assert set_rows(sandbox, deal.pk, case.sent).json()["result"] is True
    got = [read_back(row) for row in rows_of(sandbox, deal.pk)]
    assert got == [expected_fields(row) for row in case.stored], case.source
    assert deal_amounts(sandbox, deal.pk) == (case.opportunity, case.tax_value), case.source


def test_a_manual_amount_stays_but_the_tax_of_the_seed_example_is_written(sandbox: SandboxPortal) -> None:
    case = CASES[0]
    deal = new_deal(manual="Y", opportunity="9000.00", tax="0.00")
    set_rows(sandbox, deal.pk, case.sent)
    assert deal_amounts(sandbox, deal.pk) == ("9000.00", case.tax_value)


def test_switching_a_deal_back_to_automatic_totals_its_rows_as_the_basket_does(sandbox: SandboxPortal) -> None:
    case = CASES[2]  # the seed's whole request
    deal = new_deal(manual="Y", opportunity="9000.00")
    set_rows(sandbox, deal.pk, case.sent)
    response = sandbox.call("crm.deal.update", {"id": deal.pk, "fields": {"IS_MANUAL_OPPORTUNITY": "N"}})
    assert response.status_code == 200, response.text
    assert deal_amounts(sandbox, deal.pk) == (case.opportunity, case.tax_value)
    assert Deal.objects.get(pk=deal.pk).is_manual_opportunity == "N"


# --- Reading what was sent ------------------------------------------------------------------------


def test_tax_included_is_yes_only_for_the_string_y() -> None:
    # preparePrices: $product['TAX_INCLUDED'] === 'Y'.
    assert [row_prices(parse_row_input({"PRICE": 1, "TAX_INCLUDED": v})).tax_included for v in ("Y", "y", True)] == [
        True,
        False,
        False,
    ]


def test_negative_quantities_and_prices_are_accepted_as_credit_rows() -> None:
    row = row_prices(parse_row_input({"PRICE": -10, "QUANTITY": -2}))
    assert deal_totals([row]).opportunity == 20


def test_form_encoded_strings_are_read_as_numbers() -> None:
    sent = {"PRICE": " 12.50 ", "QUANTITY": "3", "DISCOUNT_TYPE_ID": "1", "DISCOUNT_SUM": "1"}
    row = row_prices(parse_row_input(sent))
    assert (row.price, row.quantity, row.discount_type_id, row.price_netto) == (D("12.5"), D("3"), 1, D("13.50"))


# --- Documented errors and sanity limits -----------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ({"PRICE": 10, "DISCOUNT_TYPE_ID": 2}, RATE_REQUIRED),
        ({"PRICE": 10, "DISCOUNT_TYPE_ID": "2", "DISCOUNT_RATE": None}, RATE_REQUIRED),
        ({"PRICE": 10, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 100}, SUM_REQUIRED_AT_100),
        ({"PRICE": 0, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 100, "DISCOUNT_SUM": 0}, SUM_REQUIRED_AT_100),
        ({"PRICE": 10, "DISCOUNT_TYPE_ID": 1}, SUM_REQUIRED),
        ({"PRICE": 10, "DISCOUNT_TYPE_ID": 1, "DISCOUNT_SUM": ""}, SUM_REQUIRED),
    ],
)
def test_the_documented_discount_errors(sent: dict[str, Any], message: str) -> None:
    with pytest.raises(PricingError) as caught:
        row_prices(parse_row_input(sent))
    assert caught.value.message == message


def test_the_documented_error_texts_are_exact() -> None:
    assert SUM_REQUIRED_AT_100 == (
        "Discount Sum (DISCOUNT_SUM) is required if Percentage Discount Type (DISCOUNT_TYPE_ID) is defined "
        "and Discount Rate (DISCOUNT_RATE) is 100%"
    )
    assert RATE_REQUIRED.endswith("is required if Percentage Discount Type (DISCOUNT_TYPE_ID) is defined.")
    assert SUM_REQUIRED.endswith("is required if Monetary Discount Type (DISCOUNT_TYPE_ID) is defined.")


def test_a_missing_rate_is_fine_when_the_discount_type_is_left_to_its_default() -> None:
    assert row_prices(parse_row_input({"PRICE": 10})).discount_rate == 0


@pytest.mark.parametrize("bad", ["abc", "1,5", "NaN", "Infinity", float("nan"), float("inf"), True, {"a": 1}, [1]])
def test_anything_but_a_finite_number_is_refused(bad: Any) -> None:
    with pytest.raises(PricingError, match=r"^Price \(PRICE\) must be a number\.$"):
        parse_row_input({"PRICE": bad})


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ({"PRICE": 1e300}, "Price (PRICE) is out of range."),
        ({"QUANTITY": "1e12"}, "Quantity (QUANTITY) is out of range."),
        (
            {"PRICE": 1, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 150},
            "Discount Rate (DISCOUNT_RATE) must be between 0 and 100.",
        ),
        (
            {"PRICE": 1, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": -1},
            "Discount Rate (DISCOUNT_RATE) must be between 0 and 100.",
        ),
        ({"PRICE": 1, "TAX_RATE": -100}, "Tax Rate (TAX_RATE) must be between 0 and 100."),
    ],
)
def test_absurd_values_are_refused_with_a_clear_message(sent: dict[str, Any], message: str) -> None:
    with pytest.raises(PricingError) as caught:
        row_prices(parse_row_input(sent))
    assert caught.value.message == message


def test_a_deal_total_beyond_what_the_portal_stores_is_refused() -> None:
    row = row_prices(parse_row_input({"PRICE": "999999999999", "QUANTITY": "100000"}))
    with pytest.raises(PricingError, match="OPPORTUNITY"):
        deal_totals([row])


def test_deal_update_totals_stored_prices_as_they_are_and_productrows_set_in_cents(sandbox: SandboxPortal) -> None:
    """A row stored with more than cents (an older sandbox, another path): crm.deal.update totals it
    unrounded (3 × 33.333333 = 99.999999 → 100.00), productrows.set from the cents it prepares
    (3 × 33.33 = 99.99). docs/sandbox.md, "Price arithmetic"."""
    from sandbox.models import ProductRow

    deal = new_deal(manual="Y", opportunity="1.00")
    third = D("33.333333")
    ProductRow.objects.create(
        deal=deal, product_name="x", price=third, price_exclusive=third, price_netto=third, price_brutto=third,
        price_account=D("33.33"), quantity=D(3),
    )  # fmt: skip
    sandbox.call("crm.deal.update", {"id": deal.pk, "fields": {"IS_MANUAL_OPPORTUNITY": "N"}})
    assert deal_amounts(sandbox, deal.pk) == ("100.00", "0.00")
    set_rows(sandbox, deal.pk, rows_of(sandbox, deal.pk))
    assert deal_amounts(sandbox, deal.pk) == ("99.99", "0.00")
