"""Product rows as the crm.item.productrow.* family names and sends them (b24restdocs
api-reference/crm/universal/product-rows/, data-types.md#crm_item_product_row).

The rows are the very ProductRow records crm.deal.productrows.* read and write; only the names
(camelCase) and the wire types (ids and prices as JSON numbers) differ. What the pages leave out
follows Bitrix's Crm\\Controller\\Item\\ProductRow: input keys are converted camelCase -> UPPER_SNAKE
(a key that is not camelCase is mangled and so ignored) and weighed against a whitelist.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox import wire
from sandbox.models import ProductRow
from sandbox.pricing import cents

# (name, type, title, required, read-only, immutable) in the order of the crm.item.productrow.fields sample.
_FIELDS: tuple[tuple[str, str, str, bool, bool, bool], ...] = (
    ("id", "integer", "ID", False, True, False),
    ("ownerId", "integer", "Owner ID", True, False, True),
    ("ownerType", "string", "Owner Type", True, False, True),
    ("productId", "integer", "Product", True, False, False),
    ("productName", "string", "Product Name", False, False, False),
    ("price", "double", "Price", False, False, False),
    ("priceExclusive", "double", "Discounted price excluding tax", False, True, False),
    ("priceNetto", "double", "PRICE_NETTO", False, True, False),
    ("priceBrutto", "double", "PRICE_BRUTTO", False, True, False),
    ("quantity", "double", "Quantity", False, False, False),
    ("discountTypeId", "integer", "Discount Type", False, False, False),
    ("discountRate", "double", "Discount Amount", False, False, False),
    ("discountSum", "double", "Discount Total", False, False, False),
    ("taxRate", "double", "Tax", False, False, False),
    ("taxIncluded", "char", "Tax included in price", False, False, False),
    ("customized", "char", "Modified", False, False, False),
    ("measureCode", "integer", "Unit of Measure Code", False, False, False),
    ("measureName", "string", "Unit of Measure", False, False, False),
    ("sort", "integer", "Sorting", False, False, False),
    ("type", "integer", "TYPE", False, True, False),
    ("storeId", "integer", "STORE_ID", False, True, False),
)

# Accepted by the whitelist (the writable fields of the description)...
ACCEPTED = frozenset(
    re.sub(r"(.)([A-Z])", r"\1_\2", name).upper()
    for name, _t, _title, _req, read_only, _imm in _FIELDS
    if not read_only
)
# ...of which these reach the row; the owner fields and the "customized" flag are accepted and dropped.
WRITTEN = (
    "PRODUCT_ID", "PRODUCT_NAME", "PRICE", "QUANTITY", "DISCOUNT_TYPE_ID", "DISCOUNT_RATE", "DISCOUNT_SUM",
    "TAX_RATE", "TAX_INCLUDED", "MEASURE_CODE", "MEASURE_NAME", "SORT",
)  # fmt: skip

# CCrmOwnerTypeAbbr: the short codes ownerType takes, with the type names errors use.
OWNER_TYPES = {"L": "LEAD", "D": "DEAL", "C": "CONTACT", "CO": "COMPANY", "I": "INVOICE", "Q": "QUOTE",
               "RQ": "REQUISITE", "O": "ORDER", "SI": "SMART_INVOICE"}  # fmt: skip
# Types that have product rows; of them the sandbox keeps deals only, so the others never have an owner.
WITH_ROWS = frozenset({"L", "D", "Q", "SI"})


def fields_description() -> dict[str, dict[str, Any]]:
    return {
        name: wire.field_descriptor(type_, title, required=required, read_only=read_only, immutable=immutable)
        for name, type_, title, required, read_only, immutable in _FIELDS
    }


def upper_key(key: Any) -> str:
    """productId -> PRODUCT_ID, =ownerType -> =OWNER_TYPE (Bitrix's Converter, keys to upper snake)."""
    return re.sub(r"(.)([A-Z])", r"\1_\2", str(key)).upper()


def accepted(fields: Any) -> dict[str, Any]:
    """The whitelisted part of an input, by UPPER_SNAKE name; anything else is dropped."""
    items = fields.items() if isinstance(fields, dict) else enumerate(fields) if isinstance(fields, list) else []
    converted = {upper_key(key): value for key, value in items}
    return {key: value for key, value in converted.items() if key in ACCEPTED}


def owner_type_name(abbr: str) -> str:
    """The type name an ENTITY_TYPE_NOT_SUPPORTED error shows: "" for a code naming no type."""
    code = abbr.strip().upper()
    if code in OWNER_TYPES:
        return OWNER_TYPES[code]
    if re.fullmatch(r"T[0-9A-F]+", code):
        return f"DYNAMIC_{int(code[1:], 16)}"  # a smart process; the sandbox has none
    return ""


def row_json(row: ProductRow, *, store: bool = True) -> dict[str, Any]:
    """One row in the key order of the crm.item.productrow.get sample; prices to the cent as the
    legacy crm.deal.productrows.get shows them. storeId comes with get and list only (the other
    samples have none): the warehouse of the row's reserve, null without one."""
    result: dict[str, Any] = {
        "id": row.pk,
        "ownerId": row.deal_id,
        "ownerType": "D",
        "productId": row.product_id,
        "productName": row.product_name,
        "price": wire.number(cents(row.price)),
        "priceAccount": wire.number(row.price_account),
        "priceExclusive": wire.number(cents(row.price_exclusive)),
        "priceNetto": wire.number(cents(row.price_netto)),
        "priceBrutto": wire.number(cents(row.price_brutto)),
        "quantity": wire.number(row.quantity),
        "discountTypeId": row.discount_type_id,
        "discountRate": wire.number(cents(row.discount_rate)),
        "discountSum": wire.number(cents(row.discount_sum)),
        "taxRate": wire.number(row.tax_rate),
        "taxIncluded": row.tax_included,
        "customized": row.customized,
        "measureCode": row.measure_code,
        "measureName": row.measure_name,
        "sort": row.sort,
        "xmlId": row.xml_id,
        "type": row.type,
    }
    if store:
        result["storeId"] = row.store_id or None
    return result


def stored_input(row: ProductRow) -> dict[str, Any]:
    """A stored row as crm.deal.productrows.set input, final price first: the base an update is
    applied to (only `price` is writable in this family, so the final price stays the authority)."""
    values: dict[str, Any] = {
        "PRODUCT_ID": row.product_id,
        "PRODUCT_NAME": row.product_name,
        "PRICE": str(row.price),
        "QUANTITY": str(row.quantity),
        "DISCOUNT_TYPE_ID": row.discount_type_id,
        "DISCOUNT_RATE": str(row.discount_rate),
        "DISCOUNT_SUM": str(row.discount_sum),
        "TAX_INCLUDED": row.tax_included,
        "MEASURE_CODE": row.measure_code,
        "MEASURE_NAME": row.measure_name,
        "SORT": row.sort,
        "TYPE": row.type,
        "XML_ID": row.xml_id,
    }
    if row.tax_rate is not None:
        values["TAX_RATE"] = str(row.tax_rate)
    return values
