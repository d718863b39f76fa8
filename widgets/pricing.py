"""Product-row arithmetic, pure Decimal (deals-api-spec.md §6.1-6.3 and rule R5).

What the wire fields mean: PRICE is the final price of one unit (after the discount, with tax);
PRICE_EXCLUSIVE after the discount, without tax; PRICE_NETTO before the discount and tax;
PRICE_BRUTTO before the discount, with tax; DISCOUNT_SUM is the discount of one unit, before tax.
With t = TAX_RATE (0 when there is none) and r = DISCOUNT_RATE:

    DISCOUNT_SUM    = PRICE_NETTO * r / 100               percentage discount (type 2)
    DISCOUNT_RATE   = DISCOUNT_SUM / PRICE_NETTO * 100    monetary discount (type 1; 0 when NETTO is 0)
    PRICE_EXCLUSIVE = PRICE_NETTO - DISCOUNT_SUM
    PRICE_BRUTTO    = PRICE_NETTO * (1 + t/100)
    PRICE           = PRICE_EXCLUSIVE * (1 + t/100)

The person types the unit price before the discount, as Bitrix24's own product editor shows it:
PRICE_NETTO when "tax included" is off, PRICE_BRUTTO when it is on (then NETTO = BRUTTO / (1 + t/100)).
That typed value is the anchor every other price is derived from, in the order written above.

Precision, chosen to agree with what the portal stores and reports:

* the typed inputs are rounded as the portal rounds them: prices, discounts and the tax rate to
  2 places, the quantity to 4;
* derived prices are exact Decimal operations (28 significant digits), kept to 6 places;
* a row is worth cents(PRICE) x QUANTITY; the deal's amount (OPPORTUNITY) is the sum of the rows,
  its tax (TAX_VALUE) the sum of (cents(PRICE) - cents(PRICE_EXCLUSIVE)) x QUANTITY, each rounded
  half-up to cents at the end.

No Django in here: the editor, the save and the tests share it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

MONETARY = 1  # DISCOUNT_TYPE_ID: an amount off each unit
PERCENTAGE = 2  # DISCOUNT_TYPE_ID: a share of the unit price (Bitrix24's default)

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")
QUANTITY_STEP = Decimal("0.0001")

# Bounds the editor enforces, well inside what the portal stores (DECIMAL(18,2) deal amounts).
MAX_PRICE = Decimal("1e12")
MAX_QUANTITY = Decimal("1e9")
MAX_TOTAL = Decimal("1e15")
MAX_ROWS = 500
PRICE_PLACES = 2
QUANTITY_PLACES = 4
RATE_PLACES = 2


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def micro(value: Decimal) -> Decimal:
    return value.quantize(MICRO, rounding=ROUND_HALF_UP)


def quantity_of(value: Decimal) -> Decimal:
    return value.quantize(QUANTITY_STEP, rounding=ROUND_HALF_UP)


def places(value: Decimal) -> int:
    """Decimal places a typed number carries (trailing zeros do not count: 1.50 has 1)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@dataclass(frozen=True)
class RowTerms:
    """What a person sets on a row, apart from its name and unit."""

    price: Decimal  # unit price before the discount: NETTO, or BRUTTO when tax_included
    quantity: Decimal = ONE
    discount_type: int = PERCENTAGE
    discount: Decimal = ZERO  # the rate in % (PERCENTAGE) or the amount off one unit (MONETARY)
    tax_rate: Decimal | None = None
    tax_included: bool = False

    @property
    def tax(self) -> Decimal | None:
        return None if self.tax_rate is None else cents(self.tax_rate)

    @property
    def factor(self) -> Decimal:
        return ONE + (self.tax or ZERO) / HUNDRED

    @property
    def netto(self) -> Decimal:
        """The unit price before discount and tax, exactly."""
        price = cents(self.price)
        return price / self.factor if self.tax_included else price


@dataclass(frozen=True)
class UnitPrices:
    """Every price field of one unit, consistent with each other, to 6 places."""

    price: Decimal
    price_exclusive: Decimal
    price_netto: Decimal
    price_brutto: Decimal
    discount_rate: Decimal
    discount_sum: Decimal


def unit_prices(terms: RowTerms) -> UnitPrices:
    factor = terms.factor
    typed = cents(terms.price)
    netto = terms.netto
    if terms.discount_type == MONETARY:
        discount_sum = cents(terms.discount)
    else:
        rate = cents(terms.discount)
        discount_sum = netto * rate / HUNDRED
    exclusive = netto - discount_sum
    if terms.discount_type == MONETARY:
        rate = discount_sum / netto * HUNDRED if netto else ZERO
    price = exclusive * factor
    brutto = typed if terms.tax_included else netto * factor
    return UnitPrices(
        price=micro(price),
        price_exclusive=micro(exclusive),
        price_netto=micro(netto),
        price_brutto=micro(brutto),
        discount_rate=micro(rate),
        discount_sum=micro(discount_sum),
    )


@dataclass(frozen=True)
class PricedRow:
    """A row's unit prices and quantity: all the totals need."""

    prices: UnitPrices
    quantity: Decimal

    @property
    def total(self) -> Decimal:
        """What the row adds to the deal's amount (not rounded: the deal rounds its sum)."""
        return cents(self.prices.price) * quantity_of(self.quantity)

    @property
    def tax(self) -> Decimal:
        return (cents(self.prices.price) - cents(self.prices.price_exclusive)) * quantity_of(self.quantity)

    @property
    def discount(self) -> Decimal:
        return (cents(self.prices.price_netto) - cents(self.prices.price_exclusive)) * quantity_of(self.quantity)


@dataclass(frozen=True)
class Totals:
    """The footer: subtotal - discount + tax = total, in the deal's currency."""

    subtotal: Decimal  # before discounts, without tax
    discount: Decimal
    tax: Decimal  # TAX_VALUE
    total: Decimal  # OPPORTUNITY


def totals(rows: Iterable[PricedRow]) -> Totals:
    rows = list(rows)
    total = cents(sum((row.total for row in rows), ZERO))
    tax = cents(sum((row.tax for row in rows), ZERO))
    discount = cents(sum((row.discount for row in rows), ZERO))
    # Derived rather than summed on its own, so the footer always adds up to the cent.
    return Totals(subtotal=total - tax + discount, discount=discount, tax=tax, total=total)


def row_total(prices: UnitPrices, quantity: Decimal) -> Decimal:
    """A row's own total as shown in its last cell, in cents."""
    return cents(PricedRow(prices, quantity).total)
