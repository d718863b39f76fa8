"""crm.deal.productrows.get / .set (deals-api-spec.md §6, rules R4, R5, R9, R13).

`set` replaces the deal's whole set of rows. A row sent with the ID of one of the deal's rows
updates that row in place and keeps its ID, as Bitrix's CCrmProductRow::DoSaveRows does; every
other row is new, and rows not sent are deleted. The prices are worked out by sandbox.pricing.
Afterwards the deal's TAX_VALUE is recalculated from the rows, and OPPORTUNITY too unless
IS_MANUAL_OPPORTUNITY is Y (bitrix24-pricing.md, "Deal totals"); DATE_MODIFY / MODIFY_BY_ID are
touched and ONCRMDEALUPDATE is queued (R5 says the recalculation fires it; we fire it for every
saved change). Saving "no rows" over "no rows" changes nothing and fires nothing, like the
portal, which skips the sync when both sets are empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from sandbox import wire
from sandbox.events import queue_event
from sandbox.models import Deal, Product, ProductRow
from sandbox.permissions import can_add, can_edit_deal, can_read_crm
from sandbox.pricing import PricingError, RowPrices, cents, deal_totals, parse_row_input, row_prices
from sandbox.rest.errors import RestError, access_denied, legacy, not_found
from sandbox.rest.registry import Call, rest_method
from sandbox.wire import parse_entity_id

MAX_ROWS = 1000
MAX_INT = 2**31 - 1
ID_ERROR = "The parameter id is invalid or not defined."
ROWS_ERROR = "The parameter rows must be array."
PRODUCT_TYPES = range(1, 8)  # 1 product, 4 offer / variation, 7 service (and the catalog's others)


def core_error(message: str) -> RestError:
    """Row validation fails as the portal's core does: code ERROR_CORE, text ending in <br> (§6.1)."""
    return RestError("ERROR_CORE", f"{message}<br>", 400)


# --- crm.deal.productrows.get ---------------------------------------------------------------------


@rest_method("crm.deal.productrows.get", scope="crm")
def deal_productrows_get(call: Call) -> list[dict[str, Any]]:
    deal_id = deal_id_param(call)
    if not can_read_crm(call.user):
        raise access_denied()
    deal = Deal.objects.filter(pk=deal_id).first()
    if deal is None:
        raise not_found()
    rows = list(deal.product_rows.order_by("sort", "id"))
    catalog = products_by_id({row.product_id for row in rows})
    return [row_json(row, catalog.get(row.product_id)) for row in rows]


def row_json(row: ProductRow, product: Product | None) -> dict[str, Any]:
    """One row with the sample's mixed wire types (§6.2): ids strings, prices numbers, PRICE_ACCOUNT a string.

    Prices are shown to the cent, as the portal's LoadRows rounds them; ORIGINAL_PRODUCT_NAME is
    the catalog's current name (a join on the product), null for rows typed in by hand.
    """
    original = product.name if product is not None else (row.original_product_name or None)
    return {
        "ID": str(row.pk),
        "OWNER_ID": str(row.deal_id),
        "OWNER_TYPE": "D",
        "PRODUCT_ID": row.product_id,
        "PRODUCT_NAME": row.product_name,
        "ORIGINAL_PRODUCT_NAME": original,
        "PRODUCT_DESCRIPTION": row.product_description or None,
        "PRICE": wire.number(cents(row.price)),
        "PRICE_EXCLUSIVE": wire.number(cents(row.price_exclusive)),
        "PRICE_NETTO": wire.number(cents(row.price_netto)),
        "PRICE_BRUTTO": wire.number(cents(row.price_brutto)),
        "PRICE_ACCOUNT": wire.money_str(row.price_account),
        "QUANTITY": wire.number(row.quantity),
        "DISCOUNT_TYPE_ID": row.discount_type_id,
        "DISCOUNT_RATE": wire.number(cents(row.discount_rate)),
        "DISCOUNT_SUM": wire.number(cents(row.discount_sum)),
        "TAX_RATE": wire.number(row.tax_rate),
        "TAX_INCLUDED": row.tax_included,
        "CUSTOMIZED": row.customized,
        "MEASURE_CODE": row.measure_code,
        "MEASURE_NAME": row.measure_name,
        "SORT": row.sort,
        "XML_ID": row.xml_id or None,
        "TYPE": row.type,
        "STORE_ID": row.store_id,
        # The sandbox keeps no warehouse reserves: a row without one has no reserve data.
        "RESERVE_ID": None,
        "DATE_RESERVE_END": None,
        "RESERVE_QUANTITY": None,
    }


# --- crm.deal.productrows.set ---------------------------------------------------------------------


@dataclass(frozen=True)
class RowDraft:
    """One element of `rows`, validated, before anything is written."""

    id: int | None
    product_id: int
    product_name: str
    measure_code: int | None
    measure_name: str | None
    sort: int
    type: int | None
    xml_id: str
    prices: RowPrices


@rest_method("crm.deal.productrows.set", scope="crm")
def deal_productrows_set(call: Call) -> bool:
    deal_id = deal_id_param(call)
    raw_rows = rows_param(call)
    deal = Deal.objects.select_for_update().filter(pk=deal_id).first()
    if deal is None:
        # Someone who may change no deal at all is told so, not whether the deal exists.
        raise not_found() if can_add(call.user) else access_denied()
    if not can_edit_deal(call.user, deal):
        raise access_denied()
    # Everything is validated before the first write: an error in row 3 leaves rows 1-2 unsaved.
    drafts = [read_row(raw) for raw in raw_rows]
    totals = price_totals(drafts)
    existing = {row.pk: row for row in deal.product_rows.all()}
    if not existing and not drafts:
        return True
    save_rows(deal, drafts, existing)
    # The rows are saved, then the deal's OPPORTUNITY/TAX_VALUE are updated (a manual amount stays;
    # its tax is still rewritten); on current portals (factory mode) that update is skipped when
    # neither changes, so a reorder or a rename keeps DATE_MODIFY and sends no ONCRMDEALUPDATE
    # (CCrmDeal::SynchronizeProductRows, Service/Operation.php; bitrix24-batch.md "Ids").
    opportunity, tax_value = totals
    if deal.is_manual_opportunity == "Y":
        opportunity = deal.opportunity
    if (deal.opportunity, deal.tax_value) == (opportunity, tax_value):
        return True
    deal.opportunity, deal.tax_value = opportunity, tax_value
    deal.date_modify = timezone.now()
    deal.modify_by_id = call.user.pk
    deal.save(update_fields=["date_modify", "modify_by_id", "opportunity", "tax_value"])
    queue_event("ONCRMDEALUPDATE", {"FIELDS": {"ID": str(deal.pk)}}, user=call.user)
    return True


def rows_param(call: Call) -> list[dict[str, Any]]:
    raw = call.param("rows")
    if isinstance(raw, dict):
        raw = list(raw.values())  # a PHP array with gaps in its keys, e.g. from a form body
    if not isinstance(raw, list):
        raise legacy(ROWS_ERROR)
    rows = [row for row in raw if isinstance(row, dict)]  # other elements are skipped (§6.1, EXT)
    if len(rows) > MAX_ROWS:
        raise legacy(f"The parameter rows must not contain more than {MAX_ROWS} rows.")
    return rows


def price_totals(drafts: list[RowDraft]) -> tuple[Decimal, Decimal]:
    try:
        totals = deal_totals(draft.prices for draft in drafts)
    except PricingError as exc:
        raise core_error(exc.message) from exc
    return totals.opportunity, totals.tax_value


def read_row(raw: Mapping[str, Any]) -> RowDraft:
    try:
        prices = row_prices(parse_row_input(raw))
    except PricingError as exc:
        raise core_error(exc.message) from exc
    product_type = optional_int(raw, "TYPE", "Type")
    if product_type is not None and product_type not in PRODUCT_TYPES:
        raise core_error("Type (TYPE) is not supported.")
    return RowDraft(
        id=lenient_id(raw.get("ID")),
        product_id=optional_int(raw, "PRODUCT_ID", "Product ID", minimum=0) or 0,
        product_name=text(raw, "PRODUCT_NAME", "Product Name", 255),
        measure_code=optional_int(raw, "MEASURE_CODE", "Measure Code", minimum=0),
        measure_name=text(raw, "MEASURE_NAME", "Measure Name", 50) or None,
        sort=optional_int(raw, "SORT", "Sort", minimum=-MAX_INT) or 0,
        type=product_type,
        xml_id=text(raw, "XML_ID", "External ID", 255),
        prices=prices,
    )


def save_rows(deal: Deal, drafts: list[RowDraft], existing: dict[int, ProductRow]) -> None:
    catalog = products_by_id({draft.product_id for draft in drafts})
    kept: dict[int, ProductRow] = {}
    created: list[ProductRow] = []
    for draft in drafts:
        row = existing.get(draft.id) if draft.id is not None and draft.id not in kept else None
        if row is None:
            row = ProductRow(deal=deal)
            created.append(row)
        else:
            kept[row.pk] = row
        fill_row(row, draft, catalog.get(draft.product_id))
    ProductRow.objects.filter(pk__in=[pk for pk in existing if pk not in kept]).delete()
    for row in kept.values():
        row.save(update_fields=FILLED_FIELDS)  # one UPDATE a row beats bulk_update's CASE on SQLite
    created = ProductRow.objects.bulk_create(created)
    # Neither a product nor a name: the row is called by its own id (§6.1), known only now.
    unnamed = [row for row in (*kept.values(), *created) if not row.product_name]
    for row in unnamed:
        row.product_name = f"[{row.pk}]"
    if unnamed:
        ProductRow.objects.bulk_update(unnamed, ["product_name"], batch_size=50)


FILLED_FIELDS = [
    "product_id",
    "product_name",
    "original_product_name",
    "price",
    "price_exclusive",
    "price_netto",
    "price_brutto",
    "price_account",
    "quantity",
    "discount_type_id",
    "discount_rate",
    "discount_sum",
    "tax_rate",
    "tax_included",
    "customized",
    "measure_code",
    "measure_name",
    "sort",
    "type",
    "xml_id",
]


def fill_row(row: ProductRow, draft: RowDraft, product: Product | None) -> None:
    prices = draft.prices
    row.product_id = draft.product_id
    named = draft.product_name.strip() != ""
    row.product_name = draft.product_name if named else (product.name if product is not None else "")
    row.original_product_name = product.name if product is not None else ""
    row.price = prices.price
    row.price_exclusive = prices.price_exclusive
    row.price_netto = prices.price_netto
    row.price_brutto = prices.price_brutto
    row.price_account = prices.price_account
    row.quantity = prices.quantity
    row.discount_type_id = prices.discount_type_id
    row.discount_rate = prices.discount_rate
    row.discount_sum = prices.discount_sum
    row.tax_rate = prices.tax_rate
    row.tax_included = "Y" if prices.tax_included else "N"
    row.customized = "Y"  # the portal always stores Y ("deprecated" field)
    row.measure_code = draft.measure_code if draft.measure_code is not None else measure_code_of(product)
    row.measure_name = draft.measure_name or (product.measure_name if product is not None else "")
    row.sort = draft.sort
    row.type = draft.type or (product.type if product is not None else 1)
    row.xml_id = draft.xml_id


def measure_code_of(product: Product | None) -> int:
    return product.measure_code if product is not None else 0


def products_by_id(ids: set[int]) -> dict[int, Product]:
    wanted = [pk for pk in ids if pk > 0]
    return {p.pk: p for p in Product.objects.filter(pk__in=wanted)} if wanted else {}


# --- Reading parameters ----------------------------------------------------------------------------


def deal_id_param(call: Call) -> int:
    """`id` as PHP `(int)` (CCrmRestHelper::resolveEntityID): "12abc" is 12, a non-empty array 1;
    it must come out positive (R9)."""
    deal_id = parse_entity_id(call.param("id"))
    if not 0 < deal_id <= MAX_INT:
        raise legacy(ID_ERROR)
    return deal_id


def whole_number(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, int | str):
        return wire.parse_int(value)
    return None


def lenient_id(value: Any) -> int | None:
    number = whole_number(value)
    return number if number is not None and number > 0 else None


def optional_int(raw: Mapping[str, Any], field: str, title: str, *, minimum: int = 0) -> int | None:
    value = raw.get(field)
    if value is None or value == "":
        return None
    number = whole_number(value)
    if number is None:
        raise core_error(f"{title} ({field}) must be an integer.")
    if not minimum <= number <= MAX_INT:
        raise core_error(f"{title} ({field}) is out of range.")
    return number


def text(raw: Mapping[str, Any], field: str, title: str, max_length: int) -> str:
    value = raw.get(field)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise core_error(f"{title} ({field}) must be a string.")
    result = ("Y" if value else "N") if isinstance(value, bool) else str(value)
    if len(result) > max_length:
        raise core_error(f"{title} ({field}) must not be longer than {max_length} characters.")
    return result
