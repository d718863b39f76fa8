"""widgets.pricing: the product-row arithmetic (deals-api-spec.md §6.3), checked by example, by
property (hypothesis), and against the sandbox portal's own arithmetic (sandbox/pricing.py)."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from widgets import pricing
from widgets.pricing import MONETARY, PERCENTAGE, PricedRow, RowTerms, unit_prices
from widgets.tab_forms import number_of
from widgets.tab_money import NBSP, CurrencyFormat
from widgets.tab_state import EditorRow, WireRow, bases_of, row_wire, unchanged_base

D = Decimal


def money_values(low: str, high: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=D(low), max_value=D(high), places=2, allow_nan=False, allow_infinity=False)


@st.composite
def row_terms(draw: st.DrawFn) -> RowTerms:
    """Any row a person can enter: the editor's validation bounds, and the portal's precision."""
    price = draw(money_values("0", "99999.99"))
    quantity = draw(st.decimals(min_value=D("0.0001"), max_value=D("10000"), places=4))
    tax_rate = draw(st.one_of(st.none(), money_values("0", "30")))
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


# --- by example ------------------------------------------------------------------------------------


def test_the_documented_sample_row_comes_out_as_the_portal_shows_it() -> None:
    # deals-api-spec.md §6.2, row 1: NETTO 999 at 10 % → SUM 99.9, EXCLUSIVE 899.1, PRICE 899.1.
    prices = unit_prices(RowTerms(price=D("999"), discount=D("10")))
    assert (prices.price, prices.price_exclusive, prices.price_netto, prices.price_brutto) == (
        D("899.1"),
        D("899.1"),
        D("999"),
        D("999"),
    )
    assert (prices.discount_rate, prices.discount_sum) == (D("10"), D("99.9"))


def test_tax_on_top_of_the_price_is_added_after_the_discount() -> None:
    prices = unit_prices(RowTerms(price=D("100"), discount_type=MONETARY, discount=D("10"), tax_rate=D("20")))
    assert (prices.price_exclusive, prices.price, prices.price_brutto) == (D("90"), D("108"), D("120"))
    assert prices.discount_rate == D("10")


def test_a_price_with_tax_included_is_the_gross_price_before_the_discount() -> None:
    prices = unit_prices(RowTerms(price=D("120"), discount=D("25"), tax_rate=D("20"), tax_included=True))
    assert (prices.price_brutto, prices.price_netto, prices.price_exclusive, prices.price) == (
        D("120"),
        D("100"),
        D("75"),
        D("90"),
    )


def test_the_footer_adds_up_and_its_total_is_the_deals_amount() -> None:
    rows = [
        PricedRow(unit_prices(RowTerms(price=D("4890"), quantity=D("2"), discount=D("5"), tax_rate=D("20"))), D("2")),
        PricedRow(unit_prices(RowTerms(price=D("89.90"), quantity=D("3"))), D("3")),
    ]
    result = pricing.totals(rows)
    assert result.total == D("11149.20") + D("269.70")
    assert result.tax == D("1858.20")
    assert result.discount == D("489.00")
    assert result.subtotal - result.discount + result.tax == result.total


def test_a_row_total_is_its_rounded_unit_price_times_the_quantity() -> None:
    prices = unit_prices(RowTerms(price=D("10.01"), discount=D("33.33")))  # PRICE 6.673667 → 6.67
    assert pricing.row_total(prices, D("3")) == D("20.01")


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


# --- by property ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(row_terms())
def test_the_price_fields_agree_with_each_other(terms: RowTerms) -> None:
    p = unit_prices(terms)
    factor = 1 + (terms.tax_rate or 0) / D(100)
    micro = D("0.000001")
    assert abs(p.price_netto - p.discount_sum - p.price_exclusive) <= 2 * micro
    assert abs(p.price_exclusive * factor - p.price) <= 2 * micro * factor
    assert abs(p.price_netto * factor - p.price_brutto) <= 2 * micro * factor
    assert p.price_exclusive >= 0 and p.price <= p.price_brutto + micro
    typed = p.price_brutto if terms.tax_included else p.price_netto
    assert typed == terms.price


@settings(max_examples=300, deadline=None)
@given(st.lists(row_terms(), max_size=8))
def test_the_footer_always_adds_up(rows: list[RowTerms]) -> None:
    result = pricing.totals(PricedRow(unit_prices(t), t.quantity) for t in rows)
    assert result.subtotal - result.discount + result.tax == result.total
    shown_rows = sum((pricing.row_total(unit_prices(t), t.quantity) for t in rows), D(0))
    assert abs(result.total - shown_rows) <= D("0.005") * len(rows)


@settings(max_examples=300, deadline=None)
@given(row_terms())
def test_a_row_read_back_from_the_portal_shows_what_was_typed(terms: RowTerms) -> None:
    """The portal reports prices in cents; the editor must recognise them as the row it saved."""
    p = unit_prices(terms)
    read = WireRow(
        id=7,
        product_id=0,
        name="x",
        prices=pricing.UnitPrices(
            price=pricing.cents(p.price),
            price_exclusive=pricing.cents(p.price_exclusive),
            price_netto=pricing.cents(p.price_netto),
            price_brutto=pricing.cents(p.price_brutto),
            discount_rate=pricing.cents(p.discount_rate),
            discount_sum=pricing.cents(p.discount_sum),
        ),
        quantity=terms.quantity,
        discount_type=terms.discount_type,
        tax_rate=terms.tax_rate,
        tax_included=terms.tax_included,
        measure_code=None,
        measure_name="",
    )
    row = EditorRow(id=7, product_id=0, name="x", terms=terms)
    assert read.terms() == terms
    assert unchanged_base(row, bases_of([read])) is read


@settings(max_examples=500, deadline=None)
@given(st.lists(row_terms(), min_size=1, max_size=6))
def test_what_the_editor_computes_is_what_the_sandbox_portal_stores(rows: list[RowTerms]) -> None:
    """The rows as sent by the editor, through the sandbox's own arithmetic (no HTTP here; the
    same over HTTP is in test_tab_wire.py)."""
    from sandbox.pricing import deal_totals, parse_row_input, row_prices

    editor_rows = [EditorRow(id=None, product_id=0, name="x", terms=t) for t in rows]
    stored = [row_prices(parse_row_input(row_wire(r, sort=10, bases=bases_of()))) for r in editor_rows]
    for terms, portal in zip(rows, stored, strict=True):
        ours = unit_prices(terms)
        assert (portal.price, portal.price_exclusive, portal.price_netto, portal.price_brutto) == (
            ours.price,
            ours.price_exclusive,
            ours.price_netto,
            ours.price_brutto,
        )
        assert (portal.discount_rate, portal.discount_sum) == (ours.discount_rate, ours.discount_sum)
    portal_totals = deal_totals(stored)
    ours_totals = pricing.totals(PricedRow(unit_prices(t), t.quantity) for t in rows)
    assert (portal_totals.opportunity, portal_totals.tax_value) == (ours_totals.total, ours_totals.tax)
