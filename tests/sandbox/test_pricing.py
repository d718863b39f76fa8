"""Product-row price arithmetic (sandbox.pricing): the doc samples, the errors and its invariants."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.pricing import (
    CENT,
    MONETARY,
    PERCENTAGE,
    RATE_REQUIRED,
    SUM_REQUIRED,
    SUM_REQUIRED_AT_100,
    PricingError,
    RowInput,
    RowPrices,
    cents,
    deal_totals,
    parse_row_input,
    row_prices,
)
from sandbox.wire import number

D = Decimal
HALF_CENT = D("0.005")
PRICE_FIELDS = ("price", "price_exclusive", "price_netto", "price_brutto", "discount_sum", "discount_rate")

money = st.decimals(min_value=D("1.00"), max_value=D("1000000000"), places=2)
rates = st.decimals(min_value=D("0"), max_value=D("99"), places=2)
tax_rates = st.one_of(st.none(), st.decimals(min_value=D("0"), max_value=D("100"), places=2))
quantities = st.decimals(min_value=D("-1000"), max_value=D("100000"), places=4)


def on_the_wire(row: RowPrices) -> dict[str, Any]:
    """The numbers crm.deal.productrows.get shows for a row: prices to the cent."""
    return {
        "PRICE": number(cents(row.price)),
        "PRICE_EXCLUSIVE": number(cents(row.price_exclusive)),
        "PRICE_NETTO": number(cents(row.price_netto)),
        "PRICE_BRUTTO": number(cents(row.price_brutto)),
        "PRICE_ACCOUNT": str(row.price_account),
        "QUANTITY": number(row.quantity),
        "DISCOUNT_TYPE_ID": row.discount_type_id,
        "DISCOUNT_RATE": number(cents(row.discount_rate)),
        "DISCOUNT_SUM": number(cents(row.discount_sum)),
        "TAX_RATE": number(row.tax_rate),
    }


def agree_to_the_cent(a: RowPrices, b: RowPrices) -> bool:
    return all(abs(getattr(a, name) - getattr(b, name)) < HALF_CENT for name in PRICE_FIELDS)


# --- The documented samples ---------------------------------------------------------------------

SAMPLE_ROW_1 = {
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
}
SAMPLE_ROW_2 = {
    "PRICE": 100,
    "PRICE_EXCLUSIVE": 100,
    "PRICE_NETTO": 100,
    "PRICE_BRUTTO": 100,
    "PRICE_ACCOUNT": "100.00",
    "QUANTITY": 1,
    "DISCOUNT_TYPE_ID": 2,
    "DISCOUNT_RATE": 0,
    "DISCOUNT_SUM": 0,
    "TAX_RATE": None,
}


@pytest.mark.parametrize(
    "sent",
    [
        {"PRICE_NETTO": 999, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 10},
        {"PRICE": 899.1, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 10},
        {"PRICE_EXCLUSIVE": "899.10", "DISCOUNT_RATE": "10"},
    ],
)
def test_the_first_get_sample_row_is_reproduced_from_any_price_field(sent: dict[str, Any]) -> None:
    assert on_the_wire(row_prices(parse_row_input(sent))) == SAMPLE_ROW_1


def test_the_first_get_sample_row_as_a_monetary_discount_from_the_brutto_price() -> None:
    row = row_prices(parse_row_input({"PRICE_BRUTTO": 999, "DISCOUNT_TYPE_ID": 1, "DISCOUNT_SUM": 99.9}))
    assert on_the_wire(row) == SAMPLE_ROW_1 | {"DISCOUNT_TYPE_ID": 1}


def test_the_second_get_sample_row_is_a_plain_price_without_discount_or_tax() -> None:
    assert on_the_wire(row_prices(parse_row_input({"PRICE": 100}))) == SAMPLE_ROW_2


def test_the_set_sample_rows_give_the_derived_prices_and_deal_totals() -> None:
    first = row_prices(
        parse_row_input({"PRICE": 1000, "QUANTITY": 10, "DISCOUNT_TYPE_ID": 1, "DISCOUNT_SUM": 100, "TAX_RATE": 13})
    )
    second = row_prices(
        parse_row_input({"PRICE": 500, "QUANTITY": 5, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 10, "TAX_RATE": 10})
    )
    assert on_the_wire(first) | {"PRICE_ACCOUNT": None} == {
        "PRICE": 1000,
        "PRICE_EXCLUSIVE": 884.96,
        "PRICE_NETTO": 984.96,
        "PRICE_BRUTTO": 1113,
        "PRICE_ACCOUNT": None,
        "QUANTITY": 10,
        "DISCOUNT_TYPE_ID": 1,
        "DISCOUNT_RATE": 10.15,
        "DISCOUNT_SUM": 100,
        "TAX_RATE": 13,
    }
    assert on_the_wire(second)["PRICE_NETTO"] == 505.05
    assert on_the_wire(second)["DISCOUNT_SUM"] == 50.51
    totals = deal_totals([first, second])
    assert (totals.opportunity, totals.tax_value) == (D("12500.00"), D("1377.65"))


# --- Documented choices --------------------------------------------------------------------------


def test_price_wins_over_the_other_price_fields_which_are_recomputed() -> None:
    row = row_prices(parse_row_input({"PRICE": 120, "PRICE_NETTO": 5, "PRICE_BRUTTO": 7, "TAX_RATE": 20}))
    assert (row.price, row.price_exclusive, row.price_netto, row.price_brutto) == (120, 100, 100, 120)


def test_price_exclusive_wins_over_netto_and_brutto() -> None:
    row = row_prices(parse_row_input({"PRICE_EXCLUSIVE": 100, "PRICE_NETTO": 1, "TAX_RATE": 10}))
    assert (row.price, row.price_netto) == (110, 100)


def test_tax_included_changes_no_price_only_the_flag() -> None:
    sent = {"PRICE": 118, "TAX_RATE": 18, "DISCOUNT_RATE": 5}
    included = row_prices(parse_row_input(sent | {"TAX_INCLUDED": "Y"}))
    excluded = row_prices(parse_row_input(sent | {"TAX_INCLUDED": "N"}))
    assert (included.tax_included, excluded.tax_included) == (True, False)
    assert [getattr(included, f) for f in PRICE_FIELDS] == [getattr(excluded, f) for f in PRICE_FIELDS]
    assert included.price_exclusive == 100


def test_a_row_with_nothing_sent_is_one_free_unit_with_a_zero_percent_discount() -> None:
    row = row_prices(parse_row_input({}))
    assert (row.price, row.price_netto, row.quantity, row.discount_type_id, row.tax_rate) == (0, 0, 1, 2, None)


def test_an_unknown_discount_type_counts_as_the_default_percentage() -> None:
    row = row_prices(parse_row_input({"PRICE": 90, "DISCOUNT_TYPE_ID": 7, "DISCOUNT_RATE": 10}))
    assert (row.discount_type_id, row.price_netto) == (PERCENTAGE, 100)


def test_a_full_percentage_discount_takes_the_list_price_from_the_discount_sum() -> None:
    row = row_prices(parse_row_input({"PRICE": 50, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 100, "DISCOUNT_SUM": 80}))
    assert (row.price, row.price_exclusive, row.price_netto, row.discount_sum) == (0, 0, 80, 80)


def test_a_monetary_discount_derives_its_rate_and_ignores_a_rate_sent_with_it() -> None:
    row = row_prices(
        parse_row_input({"PRICE_NETTO": 200, "DISCOUNT_TYPE_ID": 1, "DISCOUNT_SUM": 50, "DISCOUNT_RATE": 99})
    )
    assert (row.discount_type_id, row.discount_rate, row.price) == (MONETARY, 25, 150)


def test_negative_quantities_and_prices_are_accepted_as_credit_rows() -> None:
    row = row_prices(parse_row_input({"PRICE": -10, "QUANTITY": -2}))
    assert row.total == 20


def test_form_encoded_strings_are_read_as_numbers() -> None:
    row = row_prices(parse_row_input({"PRICE": " 12.50 ", "QUANTITY": "3", "TAX_INCLUDED": "y"}))
    assert (row.price, row.quantity, row.tax_included) == (D("12.5"), 3, True)


# --- Documented errors and sanity limits -----------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        ({"PRICE": 10, "DISCOUNT_TYPE_ID": 2}, RATE_REQUIRED),
        ({"PRICE": 10, "DISCOUNT_TYPE_ID": "2", "DISCOUNT_RATE": None}, RATE_REQUIRED),
        ({"PRICE": 10, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 100}, SUM_REQUIRED_AT_100),
        ({"PRICE": 0, "DISCOUNT_RATE": 100, "DISCOUNT_SUM": 0}, SUM_REQUIRED_AT_100),
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
        ({"PRICE": 1, "DISCOUNT_RATE": 150}, "Discount Rate (DISCOUNT_RATE) must be between 0 and 100."),
        ({"PRICE": 1, "DISCOUNT_RATE": -1}, "Discount Rate (DISCOUNT_RATE) must be between 0 and 100."),
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


# --- Properties ------------------------------------------------------------------------------------


@given(netto=money, rate=rates, tax=tax_rates, quantity=quantities)
def test_a_percentage_row_from_netto_re_derived_from_its_price_agrees_to_the_cent(
    netto: Decimal, rate: Decimal, tax: Decimal | None, quantity: Decimal
) -> None:
    first = row_prices(
        RowInput(price_netto=netto, discount_type_id=2, discount_rate=rate, tax_rate=tax, quantity=quantity)
    )
    again = row_prices(
        RowInput(price=first.price, discount_type_id=2, discount_rate=rate, tax_rate=tax, quantity=quantity)
    )
    assert agree_to_the_cent(first, again)
    assert cents(again.price_netto) == netto


@given(netto=money, share=st.decimals(min_value=D("0"), max_value=D("1"), places=4), tax=tax_rates)
def test_a_monetary_row_from_netto_re_derived_from_its_price_agrees_to_the_cent(
    netto: Decimal, share: Decimal, tax: Decimal | None
) -> None:
    discount = cents(netto * share)
    first = row_prices(RowInput(price_netto=netto, discount_type_id=1, discount_sum=discount, tax_rate=tax))
    again = row_prices(RowInput(price=first.price, discount_type_id=1, discount_sum=discount, tax_rate=tax))
    assert agree_to_the_cent(first, again)


@given(price=money, rate=rates, tax=tax_rates)
def test_the_four_prices_always_satisfy_the_documented_formulas(
    price: Decimal, rate: Decimal, tax: Decimal | None
) -> None:
    row = row_prices(RowInput(price=price, discount_rate=rate, tax_rate=tax))
    factor = 1 + (tax or 0) / D(100)
    tolerance = D("0.00001")
    assert abs(row.discount_sum - row.price_netto * row.discount_rate / 100) < tolerance
    assert abs(row.price_exclusive - (row.price_netto - row.discount_sum)) < tolerance
    assert abs(row.price_brutto - row.price_netto * factor) < tolerance
    assert abs(row.price - row.price_exclusive * factor) < tolerance


@given(rows=st.lists(st.tuples(money, rates, tax_rates, quantities), max_size=30))
def test_deal_totals_are_the_sum_of_the_row_totals_within_half_a_cent_a_row(
    rows: list[tuple[Decimal, Decimal, Decimal | None, Decimal]],
) -> None:
    priced = [row_prices(RowInput(price_netto=n, discount_rate=r, tax_rate=t, quantity=q)) for n, r, t, q in rows]
    totals = deal_totals(priced)
    slack = HALF_CENT * max(len(priced), 1)
    assert totals.opportunity == totals.opportunity.quantize(CENT)
    assert abs(totals.opportunity - sum((cents(row.total) for row in priced), D(0))) <= slack
    assert abs(totals.tax_value - sum((cents(row.tax) for row in priced), D(0))) <= slack
    # What a client recomputes from the rows it reads gives exactly the deal's amount.
    wire_sum = sum((D(str(on_the_wire(row)["PRICE"])) * row.quantity for row in priced), D(0))
    assert totals.opportunity == cents(wire_sum)


def read_back(row: RowPrices) -> dict[str, Any]:
    """What a client sends when it returns a row it read from crm.deal.productrows.get."""
    return on_the_wire(row) | {"TAX_INCLUDED": "Y" if row.tax_included else "N"}


@given(
    anchor=st.sampled_from(["PRICE", "PRICE_EXCLUSIVE", "PRICE_NETTO", "PRICE_BRUTTO"]),
    amount=money,
    kind=st.sampled_from([PERCENTAGE, MONETARY]),
    rate=rates,
    share=st.decimals(min_value=D("0"), max_value=D("0.9"), places=2),
    tax=tax_rates,
)
def test_a_row_sent_back_exactly_as_it_was_read_reads_the_same_again(
    anchor: str, amount: Decimal, kind: int, rate: Decimal, share: Decimal, tax: Decimal | None
) -> None:
    discount = {"DISCOUNT_RATE": rate} if kind == PERCENTAGE else {"DISCOUNT_SUM": cents(amount * share)}
    first = row_prices(parse_row_input({anchor: amount, "DISCOUNT_TYPE_ID": kind, "TAX_RATE": tax, **discount}))
    again = row_prices(parse_row_input(read_back(first)))
    assert on_the_wire(again) == on_the_wire(first)
    assert deal_totals([again]) == deal_totals([first])


def test_a_finer_price_sent_with_a_price_it_reproduces_is_kept() -> None:
    sent = {"PRICE": "35.03", "PRICE_NETTO": "33.33", "DISCOUNT_RATE": 7, "TAX_RATE": 13}
    row = row_prices(parse_row_input(sent))
    assert (row.price_netto, row.price_brutto) == (D("33.33"), D("37.6629"))
    assert row.price == D("35.026497")
