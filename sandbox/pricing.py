"""Product-row price arithmetic as Bitrix24's core does it, pure Decimal (bitrix24-pricing.md).

The REST docs give only the field meanings (deals-api-spec.md §6); the steps below are the core's,
read from its PHP source (crm `CCrmProductRow::preparePrices` for one row, the sale module's
basket calculation behind `CCrmSaleHelper::Calculate` for the deal's totals). Every step rounds:

1. PRICE and PRICE_EXCLUSIVE are rounded to 2 places (0 when not sent), QUANTITY to 4 (1 when not
   sent), TAX_RATE to 2 (null when not sent). TAX_INCLUDED is "Y" only for the string "Y".
2. PRICE is the anchor and is stored as it is; a row sent without it is stored at 0. When
   PRICE_EXCLUSIVE is 0 and PRICE is not, PRICE_EXCLUSIVE = round2(PRICE / (1 + TAX_RATE/100)).
   TAX_INCLUDED changes neither.
3. A DISCOUNT_TYPE_ID other than 1 or 2 becomes 2 (percent) and the DISCOUNT_RATE sent is dropped.
4. Percent: DISCOUNT_RATE is required (rounded to 2); at 100 % a non-empty DISCOUNT_SUM is too.
   A DISCOUNT_SUM sent wins (rounded to 2); else round2(100·EXCL/(100 − RATE) − EXCL).
5. Absolute: DISCOUNT_SUM is required (rounded to 2). A DISCOUNT_RATE sent wins (rounded to 2);
   else round2(100·SUM/(EXCL + SUM)), 0 when EXCL + SUM is 0.
6. PRICE_NETTO: the value sent, else EXCL + SUM; rounded to 2. Nothing checks it against the rest.
7. PRICE_BRUTTO: the value sent (rounded to 2), else round2(NETTO × (1 + TAX_RATE/100)) with NETTO
   as sent (unrounded) or EXCL + SUM.

Deal totals (VAT mode), one basket line a row: the line's price is PRICE when TAX_INCLUDED is Y,
else PRICE_EXCLUSIVE; r = TAX_RATE/100 (no VAT when TAX_RATE is null); roundEx(x) = round2(x + 1e-6):

    line VAT   = roundEx(price × qty × r)              tax not included
               = roundEx(price × qty × r / (1 + r))    tax included
    line total = roundEx(price × qty) (+ line VAT when the tax is not included)
    OPPORTUNITY = Σ line total;  TAX_VALUE = Σ line VAT

Choices where neither the docs nor the stored source settle it (docs/sandbox.md, "Price
arithmetic"): TAX_INCLUDED "y" or JSON true count as "N", as the PHP comparison does; rates
outside 0-100 and absurd magnitudes get an error instead of a row the core would store; PHP's
float rounding is modelled as exact decimal rounding, half away from zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

PERCENTAGE = 2
MONETARY = 1

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")
QUANTITY_STEP = Decimal("0.0001")
ROUND_EX_NUDGE = Decimal("0.000001")  # the sale module's roundEx adds this before rounding

MAX_AMOUNT = Decimal("1e15")
MAX_QUANTITY = Decimal("1e9")
MAX_TOTAL = Decimal("1e16")  # OPPORTUNITY is DECIMAL(18,2) on the portal

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

# Field titles as the portal's own messages spell them ("Discount Rate (DISCOUNT_RATE) ...").
TITLES = {
    "PRICE": "Price",
    "PRICE_EXCLUSIVE": "Price Exclusive",
    "PRICE_NETTO": "Price Netto",
    "PRICE_BRUTTO": "Price Brutto",
    "QUANTITY": "Quantity",
    "DISCOUNT_RATE": "Discount Rate",
    "DISCOUNT_SUM": "Discount Sum",
    "TAX_RATE": "Tax Rate",
}

RATE_REQUIRED = "Discount Rate (DISCOUNT_RATE) is required if Percentage Discount Type (DISCOUNT_TYPE_ID) is defined."
SUM_REQUIRED_AT_100 = (
    "Discount Sum (DISCOUNT_SUM) is required if Percentage Discount Type (DISCOUNT_TYPE_ID) "
    "is defined and Discount Rate (DISCOUNT_RATE) is 100%"
)
SUM_REQUIRED = "Discount Sum (DISCOUNT_SUM) is required if Monetary Discount Type (DISCOUNT_TYPE_ID) is defined."


class PricingError(ValueError):
    """A row the portal refuses. `message` is the portal's text, without the `<br>` it appends."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RowInput:
    """The price part of one row as sent; None means "not sent" (PHP's isset)."""

    price: Decimal | None = None
    price_exclusive: Decimal | None = None
    price_netto: Decimal | None = None
    price_brutto: Decimal | None = None
    quantity: Decimal | None = None
    discount_type_id: int | None = None
    discount_rate: Decimal | None = None
    discount_sum: Decimal | None = None
    tax_rate: Decimal | None = None
    tax_included: bool = False


@dataclass(frozen=True)
class RowPrices:
    """A row's price fields as the core stores them (each already rounded as step 1-7 say)."""

    price: Decimal
    price_exclusive: Decimal
    price_netto: Decimal
    price_brutto: Decimal
    quantity: Decimal
    discount_type_id: int
    discount_rate: Decimal
    discount_sum: Decimal
    tax_rate: Decimal | None
    tax_included: bool

    @property
    def price_account(self) -> Decimal:
        """PRICE in the report currency: one currency, no conversion (§13 #33), 2 decimals."""
        return cents(self.price)

    @property
    def basket_price(self) -> Decimal:
        """The unit price of the row's basket line: with tax when it is included, else without."""
        return self.price if self.tax_included else self.price_exclusive

    @property
    def tax(self) -> Decimal:
        """The line's VAT, in cents (0 without a tax rate)."""
        return line_vat(self.basket_price, self.quantity, self.tax_rate, included=self.tax_included)

    @property
    def total(self) -> Decimal:
        """What the line adds to OPPORTUNITY, in cents: its amount, plus VAT when not included."""
        amount = round_ex(self.basket_price * self.quantity)
        return amount if self.tax_included else amount + self.tax


@dataclass(frozen=True)
class DealTotals:
    opportunity: Decimal
    tax_value: Decimal


def cents(value: Decimal) -> Decimal:
    """PHP's round($x, 2): half away from zero (ROUND_HALF_UP in Decimal's terms)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def micro(value: Decimal) -> Decimal:
    return value.quantize(MICRO, rounding=ROUND_HALF_UP)


def round_ex(value: Decimal) -> Decimal:
    """The sale module's roundEx($x, 2): a millionth added before rounding to cents."""
    return cents(value + ROUND_EX_NUDGE)


def line_vat(price: Decimal, quantity: Decimal, tax_rate: Decimal | None, *, included: bool) -> Decimal:
    if tax_rate is None:
        return ZERO
    rate = tax_rate / HUNDRED
    amount = price * quantity * rate
    return round_ex(amount / (ONE + rate) if included else amount)


# --- Reading a row as sent --------------------------------------------------------------------


def parse_number(value: Any, field: str) -> Decimal | None:
    """A JSON number or a numeric string (form bodies send strings); None/"" mean not sent."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise PricingError(f"{TITLES[field]} ({field}) must be a number.")
    if isinstance(value, int):
        result = Decimal(value)
    else:
        text = str(value).strip()
        if not _NUMBER.match(text):
            # Also NaN and Infinity, which Python's JSON decoder lets through as floats.
            raise PricingError(f"{TITLES[field]} ({field}) must be a number.")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid text
            raise PricingError(f"{TITLES[field]} ({field}) must be a number.") from exc
    limit = MAX_QUANTITY if field == "QUANTITY" else MAX_AMOUNT
    if abs(result) >= limit:
        raise PricingError(f"{TITLES[field]} ({field}) is out of range.")
    return result


def parse_discount_type(value: Any) -> int | None:
    """1 or 2 (PHP intval of what was sent); anything else is "no valid type" (step 3)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = int(value) if value.is_integer() else value
    text = str(value).strip()
    return int(text) if text in ("1", "2") else None


def parse_yes(value: Any) -> bool:
    """preparePrices compares TAX_INCLUDED with the string "Y" exactly (step 1)."""
    return bool(value == "Y")


def parse_row_input(raw: Mapping[str, Any]) -> RowInput:
    """The price, discount, tax and quantity keys of one `rows` element (UPPER_SNAKE keys)."""
    numbers = {
        name: parse_number(raw.get(name), name)
        for name in (
            "PRICE",
            "PRICE_EXCLUSIVE",
            "PRICE_NETTO",
            "PRICE_BRUTTO",
            "QUANTITY",
            "DISCOUNT_RATE",
            "DISCOUNT_SUM",
            "TAX_RATE",
        )
    }
    return RowInput(
        price=numbers["PRICE"],
        price_exclusive=numbers["PRICE_EXCLUSIVE"],
        price_netto=numbers["PRICE_NETTO"],
        price_brutto=numbers["PRICE_BRUTTO"],
        quantity=numbers["QUANTITY"],
        discount_type_id=parse_discount_type(raw.get("DISCOUNT_TYPE_ID")),
        discount_rate=numbers["DISCOUNT_RATE"],
        discount_sum=numbers["DISCOUNT_SUM"],
        tax_rate=numbers["TAX_RATE"],
        tax_included=parse_yes(raw.get("TAX_INCLUDED")),
    )


# --- One row: CCrmProductRow::preparePrices --------------------------------------------------------


def row_prices(row: RowInput) -> RowPrices:
    """The row as the core stores it, steps 1-7; raises PricingError where the core refuses it."""
    price = cents(row.price) if row.price is not None else ZERO
    exclusive = cents(row.price_exclusive) if row.price_exclusive is not None else ZERO
    quantity = (row.quantity if row.quantity is not None else ONE).quantize(QUANTITY_STEP, ROUND_HALF_UP)
    tax_rate = _checked_tax_rate(row.tax_rate)
    factor = ONE + (tax_rate or ZERO) / HUNDRED
    if exclusive == ZERO and price != ZERO:
        exclusive = cents(price / factor)
    discount_type, sent_rate = row.discount_type_id, row.discount_rate
    if discount_type is None:
        discount_type, sent_rate = PERCENTAGE, ZERO
    if discount_type == PERCENTAGE:
        rate, discount_sum = _percentage(exclusive, sent_rate, row.discount_sum)
    else:
        rate, discount_sum = _absolute(exclusive, sent_rate, row.discount_sum)
    netto = row.price_netto if row.price_netto is not None else exclusive + discount_sum
    brutto = row.price_brutto if row.price_brutto is not None else netto * factor
    result = RowPrices(
        price=price,
        price_exclusive=exclusive,
        price_netto=cents(netto),
        price_brutto=cents(brutto),
        quantity=quantity,
        discount_type_id=discount_type,
        discount_rate=rate,
        discount_sum=discount_sum,
        tax_rate=tax_rate,
        tax_included=row.tax_included,
    )
    for name in ("price_netto", "price_brutto", "discount_rate", "discount_sum"):
        if abs(getattr(result, name)) >= MAX_AMOUNT:
            field = name.upper()
            raise PricingError(f"{TITLES[field]} ({field}) is out of range.")
    return result


def _percentage(exclusive: Decimal, sent_rate: Decimal | None, sent_sum: Decimal | None) -> tuple[Decimal, Decimal]:
    """Step 4 (Bitrix\\Crm\\Discount::calculateDiscountSum when no sum is sent)."""
    if sent_rate is None:
        raise PricingError(RATE_REQUIRED)
    rate = _checked_rate(sent_rate)
    if rate == HUNDRED and not sent_sum:
        # PHP empty(): a zero sum is as good as none, and nothing else gives the list price.
        raise PricingError(SUM_REQUIRED_AT_100)
    if sent_sum is not None:
        return rate, cents(sent_sum)
    return rate, cents(HUNDRED * exclusive / (HUNDRED - rate) - exclusive)


def _absolute(exclusive: Decimal, sent_rate: Decimal | None, sent_sum: Decimal | None) -> tuple[Decimal, Decimal]:
    """Step 5 (Discount::calculateDiscountRate when no rate is sent)."""
    if sent_sum is None:
        raise PricingError(SUM_REQUIRED)
    discount_sum = cents(sent_sum)
    if sent_rate is not None:
        return _checked_rate(sent_rate), discount_sum
    before = exclusive + discount_sum
    return (cents(HUNDRED * discount_sum / before) if before else ZERO), discount_sum


def _checked_rate(rate: Decimal) -> Decimal:
    # Not a check of the core's (it has none): a rate over 100 % makes no row anyone means.
    if not ZERO <= rate <= HUNDRED:
        raise PricingError("Discount Rate (DISCOUNT_RATE) must be between 0 and 100.")
    return cents(rate)


def _checked_tax_rate(tax_rate: Decimal | None) -> Decimal | None:
    if tax_rate is None:
        return None
    if not ZERO <= tax_rate <= HUNDRED:
        raise PricingError("Tax Rate (TAX_RATE) must be between 0 and 100.")
    return cents(tax_rate)


def stored_row_prices(row: Any) -> RowPrices:
    """A stored row (anything with the model's attribute names) as RowPrices, values as stored."""
    return RowPrices(
        price=Decimal(row.price),
        price_exclusive=Decimal(row.price_exclusive),
        price_netto=Decimal(row.price_netto),
        price_brutto=Decimal(row.price_brutto),
        quantity=Decimal(row.quantity),
        discount_type_id=int(row.discount_type_id),
        discount_rate=Decimal(row.discount_rate),
        discount_sum=Decimal(row.discount_sum),
        tax_rate=None if row.tax_rate is None else Decimal(row.tax_rate),
        tax_included=row.tax_included in (True, "Y"),
    )


# --- Deal totals: the sale module's basket calculation ---------------------------------------------


def deal_totals(rows: Iterable[RowPrices]) -> DealTotals:
    """OPPORTUNITY and TAX_VALUE of a deal made of `rows`: the sums of the basket lines."""
    rows = list(rows)
    opportunity = sum((row.total for row in rows), ZERO)
    tax_value = sum((row.tax for row in rows), ZERO)
    if abs(opportunity) >= MAX_TOTAL or abs(tax_value) >= MAX_TOTAL:
        raise PricingError("The deal amount (OPPORTUNITY) is out of range.")
    return DealTotals(opportunity=cents(opportunity), tax_value=cents(tax_value))
