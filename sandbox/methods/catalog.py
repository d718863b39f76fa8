"""The catalog and currencies: crm.product.list / .get, crm.currency.list / .get / .base.get.

crm.product.* is the deprecated CRM view of the catalog (bitrix24-protocol.md §7.5). The docs give
its fields and types but no response sample; like the other legacy CRM methods it sends every
scalar as a string: ids "12", PRICE "1200.00" (the catalog keeps prices to the cent), flags "Y".
MEASURE is the id of a catalog unit of measure, not its OKEI code: the portal's default units
(m, l, g, kg, pcs) have ids 1-5; the sandbox numbers further units after them.

crm.currency.list follows protocol §7.3: every currency, only `order` honoured, `total` always 0,
AMOUNT with four decimals, THOUSANDS_SEP as stored (possibly the literal "&nbsp;").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from sandbox import wire
from sandbox.listing import FieldSpec, apply_filter, apply_order, paginate, select_fields, split_key
from sandbox.models import Currency, Product
from sandbox.permissions import can_read_crm
from sandbox.rest.errors import RestError, access_denied, legacy, not_found
from sandbox.rest.registry import Call, ListResult, rest_method

LANGUAGE = "en"
MEASURE_IDS = {6: 1, 112: 2, 163: 3, 166: 4, 796: 5, 356: 6}  # OKEI code -> catalog measure id

PRODUCT_FIELDS: dict[str, FieldSpec] = {
    "ID": FieldSpec("id", "int"),
    "CATALOG_ID": FieldSpec("catalog_id", "int"),
    "NAME": FieldSpec("name"),
    "CODE": FieldSpec("code"),
    "PRICE": FieldSpec("price", "decimal"),
    "CURRENCY_ID": FieldSpec("currency_id", "ref"),
    "ACTIVE": FieldSpec("active", "yn"),
    "SECTION_ID": FieldSpec("section_id", "int"),
    "SORT": FieldSpec("sort", "int"),
    "DESCRIPTION": FieldSpec("description"),
    "VAT_ID": FieldSpec("vat_id", "int"),
    "VAT_INCLUDED": FieldSpec("vat_included", "yn"),
    "XML_ID": FieldSpec("xml_id"),
    "DATE_CREATE": FieldSpec("date_create", "datetime"),
    "TIMESTAMP_X": FieldSpec("timestamp_x", "datetime"),
    "CREATED_BY": FieldSpec("created_by", "int"),
    "MODIFIED_BY": FieldSpec("modified_by", "int"),
}


def product_json(product: Product) -> dict[str, Any]:
    """All fields of a product, in the order the docs list them."""
    return {
        "ID": str(product.pk),
        "CATALOG_ID": str(product.catalog_id),
        "NAME": product.name,
        "CODE": product.code,
        "PRICE": wire.money_str(product.price),
        "CURRENCY_ID": product.currency_id,
        "ACTIVE": product.active,
        "SECTION_ID": wire.id_str(product.section_id),
        "SORT": str(product.sort),
        "DESCRIPTION": product.description or None,
        "DESCRIPTION_TYPE": "text",
        "VAT_ID": wire.id_str(product.vat_id),
        "VAT_INCLUDED": product.vat_included,
        "MEASURE": str(MEASURE_IDS.get(product.measure_code, product.measure_code)),
        "XML_ID": product.xml_id,
        "PREVIEW_PICTURE": None,
        "DETAIL_PICTURE": None,
        "DATE_CREATE": wire.datetime_str(product.date_create),
        "TIMESTAMP_X": wire.datetime_str(product.timestamp_x),
        "CREATED_BY": str(product.created_by),
        "MODIFIED_BY": str(product.modified_by),
    }


PRODUCT_KEYS = [
    "ID",
    "CATALOG_ID",
    "NAME",
    "CODE",
    "PRICE",
    "CURRENCY_ID",
    "ACTIVE",
    "SECTION_ID",
    "SORT",
    "DESCRIPTION",
    "DESCRIPTION_TYPE",
    "VAT_ID",
    "VAT_INCLUDED",
    "MEASURE",
    "XML_ID",
    "PREVIEW_PICTURE",
    "DETAIL_PICTURE",
    "DATE_CREATE",
    "TIMESTAMP_X",
    "CREATED_BY",
    "MODIFIED_BY",
]


@rest_method("crm.product.list", scope="crm")
def product_list(call: Call) -> ListResult:
    if not can_read_crm(call.user):
        raise access_denied()
    products: QuerySet[Product] = Product.objects.all()
    products = apply_filter(products, name_patterns(call.param("filter")), PRODUCT_FIELDS)
    products = apply_order(products, call.param("order"), PRODUCT_FIELDS)
    page = paginate(products, call.param("start"))
    keys = select_fields(call.param("select"), default=PRODUCT_KEYS, available=PRODUCT_KEYS, user_fields=[])
    items = [{key: value for key, value in product_json(p).items() if key in keys} for p in page.rows]
    return ListResult(items, page.total, page.next)


def name_patterns(raw: Any) -> Any:
    """`{"NAME": "Lap%"}` is a LIKE pattern, as the catalog's string filters are; `%NAME` is contains."""
    if not isinstance(raw, dict):
        return raw
    result: dict[str, Any] = {}
    for key, value in raw.items():
        op, name = split_key(str(key))
        if op == "" and isinstance(value, str) and "%" in value:
            result[f"=%{name}"] = value
        else:
            result[key] = value
    return result


@rest_method("crm.product.get", scope="crm")
def product_get(call: Call) -> dict[str, Any]:
    product_id = wire.parse_int(call.param("id")) if not isinstance(call.param("id"), bool) else None
    if product_id is None or product_id <= 0:
        raise legacy("ID is not defined or invalid.")
    if not can_read_crm(call.user):
        raise access_denied()
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise not_found()
    return product_json(product)


# --- Currencies --------------------------------------------------------------------------------------

CURRENCY_FIELDS: dict[str, FieldSpec] = {
    "CURRENCY": FieldSpec("code"),
    "SORT": FieldSpec("sort", "int"),
    "AMOUNT": FieldSpec("amount", "decimal"),
    "AMOUNT_CNT": FieldSpec("amount_cnt", "int"),
    "BASE": FieldSpec("base"),
    "FULL_NAME": FieldSpec("full_name"),
    "DATE_UPDATE": FieldSpec("date_update", "datetime"),
}
FOUR_PLACES = Decimal("0.0001")


def currency_json(currency: Currency) -> dict[str, Any]:
    return {
        "CURRENCY": currency.code,
        "AMOUNT_CNT": str(currency.amount_cnt),
        "AMOUNT": str(Decimal(currency.amount).quantize(FOUR_PLACES)),
        "SORT": str(currency.sort),
        "BASE": "Y" if currency.base else "N",
        "FULL_NAME": currency.full_name,
        "LID": LANGUAGE,
        "FORMAT_STRING": currency.format_string,
        "DEC_POINT": currency.dec_point,
        "THOUSANDS_SEP": currency.thousands_sep,
        "DECIMALS": str(currency.decimals),
        "DATE_UPDATE": wire.datetime_str(currency.date_update),
    }


def currency_denied() -> RestError:
    # The currency proxy spells it with a period (CCrmCurrencyRestProxy).
    return legacy("Access denied.")


@rest_method("crm.currency.list", scope="crm")
def currency_list(call: Call) -> ListResult:
    """All currencies; `filter`, `select` and paging are not supported, `total` is always 0 (§7.3)."""
    if not can_read_crm(call.user):
        raise currency_denied()
    currencies: QuerySet[Currency] = Currency.objects.all()
    order = call.param("order")
    if order not in (None, "", []):
        currencies = apply_order(currencies, order, CURRENCY_FIELDS)
    return ListResult([currency_json(c) for c in currencies], 0, None)


@rest_method("crm.currency.get", scope="crm")
def currency_get(call: Call) -> dict[str, Any]:
    code = call.param("id")
    if not isinstance(code, str) or code.strip() == "":
        raise legacy("ID is not defined or invalid.")
    if not can_read_crm(call.user):
        raise currency_denied()
    currency = Currency.objects.filter(code=code.strip().upper()).first()
    if currency is None:
        raise not_found()
    return currency_json(currency)


@rest_method("crm.currency.base.get", scope="crm")
def currency_base_get(call: Call) -> str:
    base = Currency.objects.filter(base=True).first()
    return base.code if base is not None else ""
