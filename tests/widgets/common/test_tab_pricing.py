"""widgets.common.pricing, the tab's one pricing module, against rows worked by hand from Bitrix24's core
steps (tests/pricing_cases.py) and, by property, against the sandbox portal's separate
implementation of the same steps (sandbox/pricing.py; the test may import both, the app may not)."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.pricing import RowPrices, deal_totals, parse_row_input, row_prices
from tests.pricing_cases import CASES, Case, StoredRow, case_id
from widgets.common import pricing
from widgets.common.money import NBSP, CurrencyFormat
from widgets.common.pricing import MONETARY, PERCENTAGE, PricedRow, RowTerms, UnitPrices, unit_prices
from widgets.products.forms import number_of
from widgets.products.state import EditorRow, WireRow, bases_of, priced_row, row_wire, unchanged_base

D = Decimal


def money_values(low: str, high: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=D(low), max_value=D(high), places=2, allow_nan=False, allow_infinity=False)


@st.composite
def row_terms(draw: st.DrawFn) -> RowTerms:
    """Any row a person can enter: the editor's validation bounds, and the portal's precision."""
    price = draw(money_values("0", "99999.99"))
    quantity = draw(st.decimals(min_value=D("0.0001"), max_value=D("10000"), places=4))
    tax_rate = draw(st.one_of(st.none(), money_values("0", "100")))
    tax_included = draw(st.booleans())
    discount_type = draw(st.sampled_from([PERCENTAGE, MONETARY]))
    if discount_type == PERCENTAGE:
        discount = draw(money_values("0", "100"))
        if discount == 100 and price == 0:
            discount = D("50")  # refused by the editor: a 100 % discount needs a price
    else:
        netto = RowTerms(price=price, tax_rate=tax_rate, tax_included=tax_included).netto
        share = draw(st.decimals(min_value=D("0"), max_value=D("1"), places=3))
        discount = (netto * share).quantize(D("0.01"), rounding=ROUND_DOWN)
    return RowTerms(price, quantity, discount_type, discount, tax_rate, tax_included)


def unit_of(row: StoredRow) -> UnitPrices:
    return UnitPrices(D(row.price), D(row.exclusive), D(row.netto), D(row.brutto), D(row.rate), D(row.discount_sum))


def priced_of(row: StoredRow) -> PricedRow:
    tax = None if row.tax_rate is None else D(row.tax_rate)
    return PricedRow(unit_of(row), D(row.quantity), tax, row.included)


def terms_of(kwargs: dict[str, Any]) -> RowTerms:
    values: dict[str, Any] = {k: D(v) if isinstance(v, str) else v for k, v in kwargs.items()}
    return RowTerms(**values)


# --- The hand-worked table ----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_footer_of_the_stored_rows_is_the_deal_the_core_computes(case: Case) -> None:
    result = pricing.totals(priced_of(row) for row in case.stored)
    assert (result.total, result.tax) == (D(case.opportunity), D(case.tax_value)), case.source


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_stored_row_sent_back_whole_is_kept_as_it_is(case: Case) -> None:
    for row in case.stored:
        tax = None if row.tax_rate is None else D(row.tax_rate)
        assert pricing.stored_prices(unit_of(row), discount_type=row.discount_type, tax_rate=tax) == unit_of(row)


@pytest.mark.parametrize("case", [c for c in CASES if any(c.terms)], ids=case_id)
def test_what_a_rep_types_for_a_case_is_the_row_the_core_stores(case: Case) -> None:
    for kwargs, row in zip(case.terms, case.stored, strict=False):
        if kwargs is None:
            continue
        terms = terms_of(kwargs)
        assert unit_prices(terms) == unit_of(row), case.source
        editor = EditorRow(id=None, product_id=0, name="x", terms=terms)
        assert priced_row(editor, bases_of()) == priced_of(row)
    if all(case.terms) and len(case.terms) == len(case.stored):
        rows = [EditorRow(id=None, product_id=0, name="x", terms=terms_of(t)) for t in case.terms if t]
        result = pricing.totals(priced_row(r, bases_of()) for r in rows)
        assert (result.total, result.tax) == (D(case.opportunity), D(case.tax_value))


def test_a_100_percent_discount_of_a_gross_price_costs_nothing_and_never_less() -> None:
    prices = unit_prices(RowTerms(price=D("1.00"), discount_type=MONETARY, discount=D("0.77"), tax_rate=D("30"),
                                  tax_included=True))  # fmt: skip
    assert (prices.price, prices.price_exclusive) == (D("0.00"), D("0.00"))
    assert str(prices.price) == "0.00"


# --- Against the sandbox's own implementation, thousands of rows -----------------------------------


def as_read(stored: RowPrices) -> dict[str, Any]:
    """The row as crm.deal.productrows.get returns it (prices in cents)."""
    return {
        "ID": "7",
        "PRODUCT_NAME": "x",
        "PRICE": str(pricing.cents(stored.price)),
        "PRICE_EXCLUSIVE": str(pricing.cents(stored.price_exclusive)),
        "PRICE_NETTO": str(pricing.cents(stored.price_netto)),
        "PRICE_BRUTTO": str(pricing.cents(stored.price_brutto)),
        "DISCOUNT_RATE": str(pricing.cents(stored.discount_rate)),
        "DISCOUNT_SUM": str(pricing.cents(stored.discount_sum)),
        "QUANTITY": str(stored.quantity),
        "DISCOUNT_TYPE_ID": stored.discount_type_id,
        "TAX_RATE": None if stored.tax_rate is None else str(stored.tax_rate),
        "TAX_INCLUDED": "Y" if stored.tax_included else "N",
    }


@settings(max_examples=3000, deadline=None)
@given(st.lists(row_terms(), min_size=1, max_size=6))
def test_the_footer_is_what_the_sandbox_stores_for_what_the_tab_sends(rows: list[RowTerms]) -> None:
    editor_rows = [EditorRow(id=None, product_id=0, name="x", terms=t) for t in rows]
    stored = [row_prices(parse_row_input(row_wire(r, sort=10, bases=bases_of()))) for r in editor_rows]
    portal = deal_totals(stored)
    footer = pricing.totals(priced_row(r, bases_of()) for r in editor_rows)
    assert (footer.total, footer.tax) == (portal.opportunity, portal.tax_value)
    for row, back in zip(editor_rows, stored, strict=True):
        shown = unit_prices(row.terms)
        assert (back.price, back.price_exclusive, back.price_netto, back.price_brutto) == (
            shown.price,
            shown.price_exclusive,
            shown.price_netto,
            shown.price_brutto,
        )
        assert (back.discount_rate, back.discount_sum) == (shown.discount_rate, shown.discount_sum)
        # Read back, the row shows the cells that were typed, and is known as unchanged.
        read = WireRow.from_api(as_read(back))
        assert read.terms() == row.terms
        assert unchanged_base(EditorRow(id=7, product_id=0, name="x", terms=row.terms), bases_of([read])) is read


@settings(max_examples=2000, deadline=None)
@given(
    price=money_values("0", "99999.99"),
    quantity=st.decimals(min_value=D("0.0001"), max_value=D("10000"), places=4),
    tax=st.one_of(st.none(), money_values("0", "30")),
    included=st.booleans(),
    exclusive=st.one_of(st.none(), money_values("0", "99999.99")),
)
def test_any_row_as_the_sandbox_stores_it_is_totalled_by_the_tab_as_by_the_portal(
    price: Decimal, quantity: Decimal, tax: Decimal | None, included: bool, exclusive: Decimal | None
) -> None:
    """Rows another client wrote (PRICE alone, or with its own PRICE_EXCLUSIVE), opened in the tab."""
    sent = {"PRICE": price, "QUANTITY": quantity, "TAX_RATE": tax, "TAX_INCLUDED": "Y" if included else "N"}
    if exclusive is not None:
        sent["PRICE_EXCLUSIVE"] = exclusive
    stored = row_prices(parse_row_input(sent))
    read = WireRow.from_api(as_read(stored))
    row = EditorRow.from_wire(read)
    footer = pricing.totals([priced_row(row, bases_of([read]))])
    portal = deal_totals([stored])
    assert (footer.total, footer.tax) == (portal.opportunity, portal.tax_value)


# --- Formatting and reading numbers --------------------------------------------------------------


def test_money_is_formatted_as_the_currency_list_says() -> None:
    usd = CurrencyFormat.from_api({"CURRENCY": "USD", "FORMAT_STRING": "$#", "DEC_POINT": ".", "THOUSANDS_SEP": ","})
    eur = CurrencyFormat.from_api(
        {"CURRENCY": "EUR", "FORMAT_STRING": "# €", "DEC_POINT": ",", "THOUSANDS_SEP": "&nbsp;", "DECIMALS": "2"}
    )
    rub = CurrencyFormat.from_api(
        {"CURRENCY": "RUB", "FORMAT_STRING": "# &#8381;", "DEC_POINT": ",", "THOUSANDS_SEP": " "}
    )
    assert usd.money(D("1234567.5")) == "$1,234,567.50"
    assert usd.money(D("-5")) == "-$5.00"
    assert eur.money(D("1234.5")) == f"1{NBSP}234,50 €"
    assert rub.money(D("999.999")) == f"1{NBSP}000,00 ₽"
    assert CurrencyFormat.from_api({"CURRENCY": "JPY", "FORMAT_STRING": "¥#", "DECIMALS": "0"}).money(D("1500.5")) == (
        "¥1501"
    )
    assert CurrencyFormat.fallback("XYZ").money(D("3")) == "3.00 XYZ"


def test_numbers_are_read_as_people_type_them() -> None:
    assert number_of("1 200,50") == D("1200.50")
    assert number_of("1,200.50") == D("1200.50")
    assert number_of("1.200,50") == D("1200.50")
    assert number_of(f"12{NBSP}000") == D("12000")
    assert number_of(",5") == D("0.5")
    for garbage in ("", "abc", "1,2,3", "1e5", "--1", "NaN", "Infinity"):
        assert number_of(garbage) is None, garbage
