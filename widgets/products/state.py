"""The deal tab's state, kept by the page rather than the server.

The editor is stateless on the server: every request carries (signed by widgets.products.signing)
- the editor rows (form fields, parsed by widgets.products.forms into EditorRow),
- `state`: the deal and the product rows as they were read from Bitrix24, signed (django.core.signing)
  so that Cancel needs no REST call, the footer can be formatted without one, and the save can
  compare the fingerprint of what was loaded with what Bitrix24 holds now;
- `undo`: after a save, the rows as they were before it, signed too.

A row read from Bitrix24 keeps its exact prices while nobody edits its price, discount or tax:
recomputing them from the two decimals shown could move the deal's amount by a cent for rows
another client wrote with more precision.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from widgets.common import pricing
from widgets.common.money import CurrencyFormat, decimal_of, int_of
from widgets.common.pricing import PricedRow, RowTerms, UnitPrices

# OKEI codes of the units every portal's catalog starts with, by the names people type for them.
STANDARD_UNITS: dict[str, int] = {
    "pcs": 796, "шт": 796, "шт.": 796, "h": 356, "ч": 356, "ч.": 356, "kg": 166, "кг": 166,
    "g": 163, "г": 163, "l": 112, "л": 112, "m": 6, "м": 6,
}  # fmt: skip
# crm.product.list's MEASURE is a catalog unit id; a new portal's units 1-5 are m, l, g, kg, pcs.
CATALOG_MEASURES = {1: 6, 2: 112, 3: 163, 4: 166, 5: 796}


def measure_code_of(unit: str) -> int | None:
    return STANDARD_UNITS.get(unit.strip().lower())


# --- rows as Bitrix24 sends them -------------------------------------------------------------------


@dataclass(frozen=True)
class WireRow:
    """A product row as crm.deal.productrows.get returned it (deals-api-spec.md §6.2)."""

    id: int | None
    product_id: int
    name: str
    prices: UnitPrices
    quantity: Decimal
    discount_type: int
    tax_rate: Decimal | None
    tax_included: bool
    measure_code: int | None
    measure_name: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> WireRow:
        tax = data.get("TAX_RATE")
        return cls(
            id=int_of(data.get("ID")),
            product_id=int_of(data.get("PRODUCT_ID")) or 0,
            name=str(data.get("PRODUCT_NAME") or ""),
            prices=UnitPrices(
                price=decimal_of(data.get("PRICE")),
                price_exclusive=decimal_of(data.get("PRICE_EXCLUSIVE")),
                price_netto=decimal_of(data.get("PRICE_NETTO")),
                price_brutto=decimal_of(data.get("PRICE_BRUTTO")),
                discount_rate=decimal_of(data.get("DISCOUNT_RATE")),
                discount_sum=decimal_of(data.get("DISCOUNT_SUM")),
            ),
            quantity=decimal_of(data.get("QUANTITY"), pricing.ONE),
            discount_type=pricing.MONETARY if str(data.get("DISCOUNT_TYPE_ID")) == "1" else pricing.PERCENTAGE,
            tax_rate=None if tax in (None, "") else decimal_of(tax),
            tax_included=str(data.get("TAX_INCLUDED") or "N").upper() == "Y",
            measure_code=int_of(data.get("MEASURE_CODE")),
            measure_name=str(data.get("MEASURE_NAME") or ""),
        )

    def as_dict(self) -> dict[str, Any]:
        p = self.prices
        return {
            "i": self.id,
            "pi": self.product_id,
            "n": self.name,
            "p": [str(v) for v in (p.price, p.price_exclusive, p.price_netto, p.price_brutto)],
            "d": [str(p.discount_rate), str(p.discount_sum)],
            "q": str(self.quantity),
            "dt": self.discount_type,
            "t": None if self.tax_rate is None else str(self.tax_rate),
            "ti": self.tax_included,
            "mc": self.measure_code,
            "mn": self.measure_name,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WireRow:
        price, exclusive, netto, brutto = (decimal_of(v) for v in data["p"])
        rate, discount_sum = (decimal_of(v) for v in data["d"])
        return cls(
            id=data.get("i"),
            product_id=int(data.get("pi") or 0),
            name=str(data.get("n") or ""),
            prices=UnitPrices(price, exclusive, netto, brutto, rate, discount_sum),
            quantity=decimal_of(data.get("q"), pricing.ONE),
            discount_type=int(data.get("dt") or pricing.PERCENTAGE),
            tax_rate=None if data.get("t") is None else decimal_of(data["t"]),
            tax_included=bool(data.get("ti")),
            measure_code=data.get("mc"),
            measure_name=str(data.get("mn") or ""),
        )

    def terms(self) -> RowTerms:
        """What the editor shows for this row: the price before discount, the discount as set."""
        p = self.prices
        return RowTerms(
            price=pricing.cents(p.price_brutto if self.tax_included else p.price_netto),
            quantity=self.quantity,
            discount_type=self.discount_type,
            discount=pricing.cents(p.discount_sum if self.discount_type == pricing.MONETARY else p.discount_rate),
            tax_rate=self.tax_rate,
            tax_included=self.tax_included,
        )


def fingerprint(rows: list[WireRow]) -> str:
    """sha256 of the rows as read, in order, with numbers in one canonical spelling."""

    def canonical(row: WireRow) -> dict[str, Any]:
        data = row.as_dict()
        data["p"] = [_canon(v) for v in data["p"]]
        data["d"] = [_canon(v) for v in data["d"]]
        data["q"] = _canon(data["q"])
        data["t"] = None if data["t"] is None else _canon(data["t"])
        return data

    text = json.dumps([canonical(r) for r in rows], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _canon(value: str) -> str:
    number = Decimal(value)
    return "0" if number == 0 else f"{number.normalize():f}"


# --- rows in the editor ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EditorRow:
    id: int | None  # the Bitrix24 row id, None for a row added in this editor
    product_id: int  # 0 for a row typed in by hand
    name: str
    terms: RowTerms
    measure_code: int | None = None
    measure_name: str = ""
    price_currency: str = ""  # the catalog's currency, when it is not the deal's

    @classmethod
    def from_wire(cls, row: WireRow) -> EditorRow:
        return cls(
            id=row.id,
            product_id=row.product_id,
            name=row.name,
            terms=row.terms(),
            measure_code=row.measure_code,
            measure_name=row.measure_name,
        )


def _terms_key(terms: RowTerms) -> tuple[Any, ...]:
    tax = None if terms.tax_rate is None else pricing.cents(terms.tax_rate)
    return (pricing.cents(terms.price), terms.discount_type, pricing.cents(terms.discount), tax, terms.tax_included)


Bases = dict[int, tuple[WireRow, ...]]


def bases_of(*row_sets: tuple[WireRow, ...] | list[WireRow]) -> Bases:
    """Rows as read, by id, the first set first (the loaded rows, then the ones an undo restores)."""
    found: dict[int, list[WireRow]] = {}
    for rows in row_sets:
        for row in rows:
            if row.id is not None:
                found.setdefault(row.id, []).append(row)
    return {row_id: tuple(rows) for row_id, rows in found.items()}


def unchanged_base(row: EditorRow, bases: Bases) -> WireRow | None:
    """The row as read, if the editor has not changed what its prices depend on."""
    if row.id is None:
        return None
    key = _terms_key(row.terms)
    return next((base for base in bases.get(row.id, ()) if _terms_key(base.terms()) == key), None)


def row_prices(row: EditorRow, bases: Bases) -> UnitPrices:
    base = unchanged_base(row, bases)
    return base.prices if base is not None else pricing.unit_prices(row.terms)


def priced_row(row: EditorRow, bases: Bases) -> PricedRow:
    """The row as the deal's totals will see it: the one source of its cell total and the footer."""
    terms = row.terms
    return PricedRow(row_prices(row, bases), terms.quantity, terms.tax, terms.tax_included)


def row_wire(row: EditorRow, *, sort: int, bases: Bases) -> dict[str, Any]:
    """One element of crm.deal.productrows.set's `rows` (deals-api-spec.md §6.1).

    Every price field is sent, in cents: the portal keeps PRICE as the anchor, a sent
    PRICE_EXCLUSIVE, NETTO and BRUTTO as they are, and the discount value sent along with the
    type's own (bitrix24-pricing.md), so it stores exactly the row the editor showed. An
    unchanged row sends back what was read.
    """
    terms = row.terms
    prices = row_prices(row, bases)
    wire: dict[str, Any] = {"PRODUCT_ID": row.product_id, "PRODUCT_NAME": row.name}
    if row.id is not None:
        wire["ID"] = row.id
    wire.update(
        PRICE=prices.price,
        PRICE_EXCLUSIVE=prices.price_exclusive,
        PRICE_NETTO=prices.price_netto,
        PRICE_BRUTTO=prices.price_brutto,
        QUANTITY=pricing.quantity_of(terms.quantity),
        DISCOUNT_TYPE_ID=terms.discount_type,
        DISCOUNT_RATE=prices.discount_rate,
        DISCOUNT_SUM=prices.discount_sum,
        TAX_RATE=terms.tax,
        TAX_INCLUDED="Y" if terms.tax_included else "N",
        SORT=sort,
    )
    if row.measure_code is not None:
        wire["MEASURE_CODE"] = row.measure_code
    if row.measure_name or not row.product_id:
        # Left out for a catalog row without a unit: the portal takes the product's own.
        wire["MEASURE_NAME"] = row.measure_name
    return wire


def rows_wire(rows: list[EditorRow], bases: Bases) -> list[dict[str, Any]]:
    return [row_wire(row, sort=(index + 1) * 10, bases=bases) for index, row in enumerate(rows)]


# --- the deal around the rows ----------------------------------------------------------------------


@dataclass(frozen=True)
class DealSnapshot:
    """The deal as the tab shows it, with the reference data it needs, as of one read."""

    id: int
    title: str
    currency: CurrencyFormat
    manual_amount: bool
    opportunity: Decimal
    date_modify: str
    stage_name: str = ""
    stage_color: str = ""
    stage_semantics: str = ""
    funnel_name: str = ""
    amount_title: str = ""


@dataclass(frozen=True)
class TabState:
    portal_id: int
    user_id: int
    deal: DealSnapshot
    rows: tuple[WireRow, ...]
    is_admin: bool = False
    fingerprint: str = field(default="")

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", fingerprint(list(self.rows)))

    def with_rows(self, rows: list[WireRow], deal: DealSnapshot) -> TabState:
        return replace(self, rows=tuple(rows), deal=deal, fingerprint=fingerprint(rows))


def rows_match(sent: list[Any], held: list[WireRow]) -> bool:
    """Whether the rows Bitrix24 holds are the rows sent (crm.deal.productrows.set's `rows`)."""
    wanted = [row for row in sent if isinstance(row, dict)]
    if len(wanted) != len(held):
        return False
    for row, now in zip(wanted, held, strict=True):
        tax = row.get("TAX_RATE")
        same = (
            int_of(row.get("PRODUCT_ID")) or 0,
            str(row.get("PRODUCT_NAME") or ""),
            cents_of(row.get("PRICE")),
            decimal_of(row.get("QUANTITY")),
            int_of(row.get("DISCOUNT_TYPE_ID")),
            None if tax is None else cents_of(tax),
            row.get("TAX_INCLUDED") == "Y",
        ) == (
            now.product_id,
            now.name,
            cents_of(now.prices.price),
            now.quantity,
            now.discount_type,
            None if now.tax_rate is None else cents_of(now.tax_rate),
            now.tax_included,
        )
        if not same:
            return False
    return True


def cents_of(value: Any) -> Decimal:
    return decimal_of(value).quantize(Decimal("0.01"))
