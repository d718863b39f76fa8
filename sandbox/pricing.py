"""Product-row price arithmetic, pure Decimal (deals-api-spec.md §6.1-6.3, rules R5 and R13).

What the fields mean (seed, crm.deal.productrows.set): PRICE is the final price of one unit
(after the discount, with tax); PRICE_EXCLUSIVE after the discount, without tax; PRICE_NETTO
before the discount and tax; PRICE_BRUTTO before the discount, with tax. DISCOUNT_SUM is the
discount of one unit. With t = TAX_RATE (0 when unset) and r = DISCOUNT_RATE (§6.3):

    DISCOUNT_SUM    = PRICE_NETTO * r / 100               type 2 (percentage, the default)
    DISCOUNT_RATE   = DISCOUNT_SUM / PRICE_NETTO * 100    type 1 (monetary; 0 when NETTO is 0)
    PRICE_EXCLUSIVE = PRICE_NETTO - DISCOUNT_SUM
    PRICE_BRUTTO    = PRICE_NETTO * (1 + t/100)
    PRICE           = PRICE_EXCLUSIVE * (1 + t/100)

The docs are silent on the rest (§13 #13); the choices made here:

* PRICE wins. The first price field sent, in the order PRICE, PRICE_EXCLUSIVE, PRICE_NETTO,
  PRICE_BRUTTO, is the authority and the others are derived from it; a value sent for them is
  ignored, so the four always agree. One exception keeps detail: when the row derived from another
  price field sent along (tried in the order PRICE_NETTO, PRICE_EXCLUSIVE, PRICE_BRUTTO) matches
  every price and discount value sent to the cent, that row is used instead - so a client that
  sends back the rows it read (all values in cents) changes nothing. PRICE first because it is the
  documented input with a default (0.0) and what deal totals are made of; nothing sent means 0.
* TAX_INCLUDED never changes the arithmetic: PRICE is the final price with tax whatever the flag
  says ("final cost per unit"; Bitrix's own CCrmProductRow::preparePrices ignores the flag too).
  The flag is stored and echoed back.
* At a 100 % discount PRICE is necessarily 0, so the list price comes from DISCOUNT_SUM, which is
  why the portal requires it then (the documented error). DISCOUNT_SUM sent with type 2 is
  otherwise ignored, and DISCOUNT_RATE sent with type 1 too: each type derives the other value.
* An unknown DISCOUNT_TYPE_ID counts as not sent (type 2, the documented default); "type 2
  without a rate" is only an error when DISCOUNT_TYPE_ID 2 is sent explicitly (§6.1).
* Sanity limits the docs do not have, so nonsense gets an error instead of a broken row:
  prices, sums and quantities must be finite numbers below 1e15 (quantities 1e9), DISCOUNT_RATE
  (type 2) and TAX_RATE between 0 and 100. Negative prices and quantities are allowed (credit
  rows); Bitrix's own code does not refuse them either.
* Precision: prices are computed exactly and kept to 6 decimals; DISCOUNT_RATE and DISCOUNT_SUM
  as sent are rounded to 2, QUANTITY to 4, TAX_RATE to 2, as the portal rounds them. Per-unit
  prices are shown rounded to cents, and deal totals are made of those cent prices -
  OPPORTUNITY = Σ PRICE×QUANTITY, TAX_VALUE = Σ (PRICE−PRICE_EXCLUSIVE)×QUANTITY, each rounded
  half-up to 2 places at the end - so they match the rows a client reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any

PERCENTAGE = 2
MONETARY = 1

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")  # ProductRow keeps prices to 6 places
QUANTITY_STEP = Decimal("0.0001")

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


class Anchor(Enum):
    PRICE = "PRICE"
    PRICE_EXCLUSIVE = "PRICE_EXCLUSIVE"
    PRICE_NETTO = "PRICE_NETTO"
    PRICE_BRUTTO = "PRICE_BRUTTO"


@dataclass(frozen=True)
class RowInput:
    """The price part of one row as sent; None means "not sent"."""

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

    def anchor(self) -> tuple[Anchor, Decimal]:
        for anchor, value in (
            (Anchor.PRICE, self.price),
            (Anchor.PRICE_EXCLUSIVE, self.price_exclusive),
            (Anchor.PRICE_NETTO, self.price_netto),
            (Anchor.PRICE_BRUTTO, self.price_brutto),
        ):
            if value is not None:
                return anchor, value
        return Anchor.PRICE, ZERO


@dataclass(frozen=True)
class RowPrices:
    """Every price field of a row, consistent with each other, at storage precision."""

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
    def total(self) -> Decimal:
        return cents(self.price) * self.quantity

    @property
    def tax(self) -> Decimal:
        return (cents(self.price) - cents(self.price_exclusive)) * self.quantity


@dataclass(frozen=True)
class DealTotals:
    opportunity: Decimal
    tax_value: Decimal


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def micro(value: Decimal) -> Decimal:
    return value.quantize(MICRO, rounding=ROUND_HALF_UP)


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
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    return int(text) if text in ("1", "2") else None


def parse_yes(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().upper() == "Y")


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


# --- Computing a row ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Terms:
    """What a row's prices are derived with: its discount, tax and quantity, validated."""

    discount_type: int
    rate: Decimal  # percentage discounts; monetary ones derive it
    discount_sum: Decimal  # monetary discounts and 100 % ones; percentage ones derive it
    tax_rate: Decimal | None
    quantity: Decimal
    tax_included: bool

    @property
    def factor(self) -> Decimal:
        return ONE + (self.tax_rate or ZERO) / HUNDRED

    @property
    def full_discount(self) -> bool:
        return self.discount_type == PERCENTAGE and self.rate == HUNDRED


BASES = (Anchor.PRICE_NETTO, Anchor.PRICE_EXCLUSIVE, Anchor.PRICE_BRUTTO)


def row_prices(row: RowInput) -> RowPrices:
    """All price fields of a row from what was sent; raises PricingError as the portal would."""
    discount_type = row.discount_type_id or PERCENTAGE
    rate = _checked_rate(row, discount_type)
    terms = _Terms(
        discount_type=discount_type,
        rate=rate,
        discount_sum=_checked_sum(row, discount_type, rate),
        tax_rate=_checked_tax_rate(row.tax_rate),
        quantity=(ONE if row.quantity is None else row.quantity).quantize(QUANTITY_STEP, ROUND_HALF_UP),
        tax_included=row.tax_included,
    )
    authority, value = row.anchor()
    result = derive(terms, authority, value)
    sent = _sent_fields(row, terms)
    for base in BASES:
        base_value = sent.get(base.value.lower())
        if base is authority or base_value is None:
            continue
        try:
            candidate = derive(terms, base, base_value)
        except PricingError:
            continue
        if all(cents(getattr(candidate, name)) == cents(amount) for name, amount in sent.items()):
            # A finer field agrees with everything sent, to the cent: keep the detail it carries.
            return candidate
    return result


def _sent_fields(row: RowInput, terms: _Terms) -> dict[str, Decimal]:
    """The RowPrices attributes the caller sent a value for (the derived discount value too)."""
    derived_discount = "discount_sum" if terms.discount_type == PERCENTAGE else "discount_rate"
    names = ("price", "price_exclusive", "price_netto", "price_brutto", derived_discount)
    return {name: value for name in names if (value := getattr(row, name)) is not None}


def derive(terms: _Terms, anchor: Anchor, value: Decimal) -> RowPrices:
    """Every price field from one of them (the formulas of the module docstring)."""
    factor, rate, discount_sum = terms.factor, terms.rate, terms.discount_sum
    percentage = terms.discount_type == PERCENTAGE
    if anchor in (Anchor.PRICE_NETTO, Anchor.PRICE_BRUTTO):
        netto = value if anchor is Anchor.PRICE_NETTO else value / factor
        if percentage:
            discount_sum = netto * rate / HUNDRED
        exclusive = netto - discount_sum
    else:
        exclusive = value if anchor is Anchor.PRICE_EXCLUSIVE else value / factor
        if terms.full_discount:
            # PRICE can only be 0 here; the list price is what DISCOUNT_SUM says it was.
            netto, exclusive = discount_sum, ZERO
        elif percentage:
            netto = exclusive / (ONE - rate / HUNDRED)
            discount_sum = netto * rate / HUNDRED
        else:
            netto = exclusive + discount_sum
    if not percentage:
        rate = discount_sum / netto * HUNDRED if netto else ZERO
    price = value if anchor is Anchor.PRICE and not terms.full_discount else exclusive * factor
    brutto = value if anchor is Anchor.PRICE_BRUTTO else netto * factor
    fields = {
        "PRICE": price,
        "PRICE_EXCLUSIVE": exclusive,
        "PRICE_NETTO": netto,
        "PRICE_BRUTTO": brutto,
        "DISCOUNT_SUM": discount_sum,
        "DISCOUNT_RATE": rate,
    }
    for name, amount in fields.items():
        if abs(amount) >= MAX_AMOUNT:
            raise PricingError(f"{TITLES[name]} ({name}) is out of range.")
    return RowPrices(
        price=micro(price),
        price_exclusive=micro(exclusive),
        price_netto=micro(netto),
        price_brutto=micro(brutto),
        quantity=terms.quantity,
        discount_type_id=terms.discount_type,
        discount_rate=micro(rate),
        discount_sum=micro(discount_sum),
        tax_rate=terms.tax_rate,
        tax_included=terms.tax_included,
    )


def _checked_rate(row: RowInput, discount_type: int) -> Decimal:
    if discount_type != PERCENTAGE:
        return ZERO  # derived from the sum later
    if row.discount_rate is None:
        if row.discount_type_id == PERCENTAGE:
            raise PricingError(RATE_REQUIRED)
        return ZERO
    if not ZERO <= row.discount_rate <= HUNDRED:
        raise PricingError("Discount Rate (DISCOUNT_RATE) must be between 0 and 100.")
    return cents(row.discount_rate)


def _checked_sum(row: RowInput, discount_type: int, rate: Decimal) -> Decimal:
    if discount_type == MONETARY:
        if row.discount_sum is None:
            raise PricingError(SUM_REQUIRED)
        return cents(row.discount_sum)
    if rate == HUNDRED:
        # The portal tests PHP empty(): a zero sum is as good as none.
        if not row.discount_sum:
            raise PricingError(SUM_REQUIRED_AT_100)
        return cents(row.discount_sum)
    return ZERO  # derived from the rate later


def _checked_tax_rate(tax_rate: Decimal | None) -> Decimal | None:
    if tax_rate is None:
        return None
    if not ZERO <= tax_rate <= HUNDRED:
        raise PricingError("Tax Rate (TAX_RATE) must be between 0 and 100.")
    return tax_rate.quantize(CENT, rounding=ROUND_HALF_UP)


# --- Deal totals -------------------------------------------------------------------------------


def deal_totals(rows: Iterable[RowPrices]) -> DealTotals:
    """OPPORTUNITY and TAX_VALUE of a deal made of `rows` (rule R5)."""
    rows = list(rows)
    opportunity = cents(sum((row.total for row in rows), ZERO))
    tax_value = cents(sum((row.tax for row in rows), ZERO))
    if abs(opportunity) >= MAX_TOTAL or abs(tax_value) >= MAX_TOTAL:
        raise PricingError("The deal amount (OPPORTUNITY) is out of range.")
    return DealTotals(opportunity=opportunity, tax_value=tax_value)
