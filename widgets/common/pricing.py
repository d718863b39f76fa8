"""Product-row arithmetic as Bitrix24 stores it, pure Decimal: one module for the editor, the
footer and the save (reference bitrix24-pricing.md; the fields' meanings are deals-api-spec.md §6).

What the portal does with a row it is sent (`CCrmProductRow::preparePrices`), in our words:
PRICE (rounded to cents) is the anchor and is stored as sent; PRICE_EXCLUSIVE is stored as sent,
or round2(PRICE / (1 + t/100)) when it is 0; with a percent discount a DISCOUNT_SUM sent wins over
the one the rate gives, with an absolute one a DISCOUNT_RATE sent wins; PRICE_NETTO and
PRICE_BRUTTO are stored as sent. `stored_prices` is that rule, for what we send.

What the deal then says (the sale module's basket): each row is a line priced at PRICE when the
tax is included, else at PRICE_EXCLUSIVE; roundEx(x) = round2(x + 0.000001);
line VAT = roundEx(price × qty × r) (or × r/(1 + r) when included), r = t/100, none without a
rate; line total = roundEx(price × qty), plus its VAT when not included. OPPORTUNITY is the sum of
line totals, TAX_VALUE the sum of line VAT. `totals` is that sum, so the footer is what the deal
will hold.

What the person types is the unit price before the discount as Bitrix24's own editor shows it
(PRICE_NETTO, or PRICE_BRUTTO with the tax included), the discount (a rate, or an amount off one
unit before tax) and the tax. `unit_prices` turns that into every price field, in cents, so
that the portal's rules keep each of them as sent: the row read back after a save shows the same
numbers in every cell, and its totals are the ones shown before saving.

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
QUANTITY_STEP = Decimal("0.0001")
ROUND_EX_NUDGE = Decimal("0.000001")

# Bounds the editor enforces, well inside what the portal stores (DECIMAL(18,2) deal amounts).
MAX_PRICE = Decimal("1e12")
MAX_QUANTITY = Decimal("1e9")
MAX_TOTAL = Decimal("1e15")
MAX_ROWS = 500
PRICE_PLACES = 2
QUANTITY_PLACES = 4
RATE_PLACES = 2


def cents(value: Decimal) -> Decimal:
    """PHP's round($x, 2): half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_ex(value: Decimal) -> Decimal:
    """The sale module's roundEx($x, 2): a millionth is added before rounding."""
    return cents(value + ROUND_EX_NUDGE)


def quantity_of(value: Decimal) -> Decimal:
    return value.quantize(QUANTITY_STEP, rounding=ROUND_HALF_UP)


def places(value: Decimal) -> int:
    """Decimal places a typed number carries (trailing zeros do not count: 1.50 has 1)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def tax_factor(tax_rate: Decimal | None) -> Decimal:
    return ONE + (ZERO if tax_rate is None else cents(tax_rate)) / HUNDRED


@dataclass(frozen=True)
class RowTerms:
    """What a person sets on a row, apart from its name and unit."""

    price: Decimal  # unit price before the discount: NETTO, or BRUTTO when tax_included
    quantity: Decimal = ONE
    discount_type: int = PERCENTAGE
    discount: Decimal = ZERO  # the rate in % (PERCENTAGE) or the amount off one unit before tax (MONETARY)
    tax_rate: Decimal | None = None
    tax_included: bool = False

    @property
    def tax(self) -> Decimal | None:
        return None if self.tax_rate is None else cents(self.tax_rate)

    @property
    def factor(self) -> Decimal:
        return tax_factor(self.tax_rate)

    @property
    def netto(self) -> Decimal:
        """The unit price before discount and tax, in cents, as it will be stored."""
        price = cents(self.price)
        return cents(price / self.factor) if self.tax_included else price


@dataclass(frozen=True)
class UnitPrices:
    """Every price field of one unit as the portal stores it (cents)."""

    price: Decimal
    price_exclusive: Decimal
    price_netto: Decimal
    price_brutto: Decimal
    discount_rate: Decimal
    discount_sum: Decimal


def stored_prices(sent: UnitPrices, *, discount_type: int, tax_rate: Decimal | None) -> UnitPrices:
    """What the portal keeps of a row sent with every price field (bitrix24-pricing.md steps 1-7).

    Sent with all six values, only PRICE_EXCLUSIVE can change: the core recomputes it when it is
    0 and PRICE is not. The discount value that is not the type's own is kept as sent because it
    is sent (steps 4 and 5), and NETTO and BRUTTO because they are (steps 6 and 7).
    """
    price = cents(sent.price)
    exclusive = cents(sent.price_exclusive)
    if exclusive == ZERO and price != ZERO:
        exclusive = cents(price / tax_factor(tax_rate))
    return UnitPrices(
        price=price,
        price_exclusive=exclusive,
        price_netto=cents(sent.price_netto),
        price_brutto=cents(sent.price_brutto),
        discount_rate=cents(sent.discount_rate),
        discount_sum=cents(sent.discount_sum),
    )


def unit_prices(terms: RowTerms) -> UnitPrices:
    """The row a person means, as the portal will store it when sent every field of it.

    Without the tax included, the typed price is NETTO and the money follows from it:
    EXCLUSIVE = NETTO − DISCOUNT_SUM, PRICE = round2(EXCLUSIVE × (1 + t)). With the tax included
    the typed price is BRUTTO and PRICE is worked from it directly (round2(BRUTTO × (1 − rate))
    or round2(BRUTTO − amount × (1 + t))), so a row with no discount costs exactly what was typed;
    EXCLUSIVE is then round2(PRICE / (1 + t)), as the core itself would make it.
    """
    factor = terms.factor
    typed = cents(terms.price)
    monetary = terms.discount_type == MONETARY
    netto = terms.netto
    brutto = typed if terms.tax_included else cents(netto * factor)
    rate = ZERO if monetary else cents(terms.discount)
    discount_sum = cents(terms.discount) if monetary else cents(netto * rate / HUNDRED)
    if terms.tax_included:
        price = cents(brutto - discount_sum * factor) if monetary else cents(brutto * (HUNDRED - rate) / HUNDRED)
        if price <= ZERO:  # an amount off a whole net price may overshoot the gross one by a cent
            price = ZERO.quantize(CENT)
        exclusive = cents(price / factor)
        if not monetary:
            discount_sum = netto - exclusive
    else:
        exclusive = netto - discount_sum
        price = cents(exclusive * factor)
    if monetary:
        rate = cents(HUNDRED * discount_sum / netto) if netto else ZERO
    sent = UnitPrices(price, exclusive, netto, brutto, rate, discount_sum)
    return stored_prices(sent, discount_type=terms.discount_type, tax_rate=terms.tax_rate)


@dataclass(frozen=True)
class PricedRow:
    """A row as the deal's basket sees it: its stored prices, quantity and tax."""

    prices: UnitPrices
    quantity: Decimal
    tax_rate: Decimal | None = None
    tax_included: bool = False

    @property
    def basket_price(self) -> Decimal:
        return self.prices.price if self.tax_included else self.prices.price_exclusive

    @property
    def amount(self) -> Decimal:
        return self.basket_price * quantity_of(self.quantity)

    @property
    def tax(self) -> Decimal:
        """The line's VAT, in cents: what it adds to TAX_VALUE."""
        if self.tax_rate is None:
            return ZERO
        rate = cents(self.tax_rate) / HUNDRED
        return round_ex(self.amount * rate / (ONE + rate) if self.tax_included else self.amount * rate)

    @property
    def total(self) -> Decimal:
        """The line's total, in cents: what it adds to OPPORTUNITY."""
        amount = round_ex(self.amount)
        return amount if self.tax_included else amount + self.tax

    @property
    def discount(self) -> Decimal:
        """The discount over the whole line, before tax, in cents."""
        return cents(self.prices.discount_sum * quantity_of(self.quantity))


@dataclass(frozen=True)
class Totals:
    """The footer. `total` is the deal's OPPORTUNITY and `tax` its TAX_VALUE once saved."""

    subtotal: Decimal  # before discounts, without tax
    discount: Decimal
    tax: Decimal  # TAX_VALUE
    total: Decimal  # OPPORTUNITY


def totals(rows: Iterable[PricedRow]) -> Totals:
    rows = list(rows)
    total = sum((row.total for row in rows), ZERO)
    tax = sum((row.tax for row in rows), ZERO)
    discount = sum((row.discount for row in rows), ZERO)
    # The portal stores no subtotal; the one shown is what is left of the total without its tax
    # and before the discount, so the four lines of the footer add up.
    return Totals(subtotal=total - tax + discount, discount=discount, tax=tax, total=total)
