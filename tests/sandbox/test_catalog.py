"""crm.product.list / .get and crm.currency.list / .get / .base.get over HTTP."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.utils import timezone

from sandbox.models import Currency, Product
from sandbox.wire import datetime_str
from tests.conftest import SandboxPortal

READONLY = 5
PRODUCT_KEYS = [
    "ID", "CATALOG_ID", "NAME", "CODE", "PRICE", "CURRENCY_ID", "ACTIVE", "SECTION_ID", "SORT", "DESCRIPTION",
    "DESCRIPTION_TYPE", "VAT_ID", "VAT_INCLUDED", "MEASURE", "XML_ID", "PREVIEW_PICTURE", "DETAIL_PICTURE",
    "DATE_CREATE", "TIMESTAMP_X", "CREATED_BY", "MODIFIED_BY",
]  # fmt: skip
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def error_of(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def products(sandbox: SandboxPortal, params: dict[str, Any] | None = None, user: int = 1) -> dict[str, Any]:
    response = sandbox.call("crm.product.list", params, user=user)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def names(sandbox: SandboxPortal, filter_: dict[str, Any]) -> set[str]:
    return {p["NAME"] for p in products(sandbox, {"filter": filter_, "select": ["NAME"]})["result"]}


def add_products(count: int) -> None:
    now = timezone.now()
    Product.objects.bulk_create(
        Product(name=f"Extra item {i}", price=Decimal(i), date_create=now, timestamp_x=now) for i in range(count)
    )


# --- currencies -------------------------------------------------------------------------------------


def test_currency_list_returns_every_currency_in_the_documented_shape_with_total_zero(sandbox: SandboxPortal) -> None:
    response = sandbox.call("crm.currency.list", user=READONLY)
    body = response.json()
    assert response.status_code == 200
    assert body["total"] == 0 and "next" not in body
    assert [c["CURRENCY"] for c in body["result"]] == ["USD", "EUR", "RUB"]
    eur = body["result"][1]
    assert eur == {
        "CURRENCY": "EUR",
        "AMOUNT_CNT": "1",
        "AMOUNT": "1.0850",
        "SORT": "200",
        "BASE": "N",
        "FULL_NAME": "Euro",
        "LID": "en",
        "FORMAT_STRING": "# €",
        "DEC_POINT": ",",
        "THOUSANDS_SEP": "&nbsp;",
        "DECIMALS": "2",
        "DATE_UPDATE": datetime_str(Currency.objects.get(code="EUR").date_update),
    }
    assert ISO.match(eur["DATE_UPDATE"])
    assert [c["BASE"] for c in body["result"]] == ["Y", "N", "N"]
    assert body["result"][2]["AMOUNT_CNT"] == "100"


def test_currency_list_honours_order_and_ignores_filter_and_paging(sandbox: SandboxPortal) -> None:
    by_sort = sandbox.result("crm.currency.list", {"order": {"SORT": "DESC"}, "filter": {"CURRENCY": "EUR"}})
    assert [c["CURRENCY"] for c in by_sort] == ["RUB", "EUR", "USD"]
    by_code = sandbox.result("crm.currency.list", {"ORDER": {"currency": "asc"}, "start": 2})
    assert [c["CURRENCY"] for c in by_code] == ["EUR", "RUB", "USD"]


def test_currency_list_with_an_order_that_is_not_an_object_is_refused(sandbox: SandboxPortal) -> None:
    response = sandbox.call("crm.currency.list", {"order": "SORT"})
    assert error_of(response) == (400, "", "Parameter 'order' must be array.")


def test_currency_get_finds_a_code_in_any_case(sandbox: SandboxPortal) -> None:
    listed = sandbox.result("crm.currency.list")
    assert sandbox.result("crm.currency.get", {"id": "eur"}, user=READONLY) == listed[1]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, (400, "", "ID is not defined or invalid.")),
        ({"id": ""}, (400, "", "ID is not defined or invalid.")),
        ({"id": 5}, (400, "", "ID is not defined or invalid.")),
        ({"id": "XXX"}, (400, "", "Not found")),
    ],
)
def test_currency_get_errors(sandbox: SandboxPortal, params: dict[str, Any], expected: tuple[int, str, str]) -> None:
    assert error_of(sandbox.call("crm.currency.get", params)) == expected


def test_currency_base_get_names_the_base_currency(sandbox: SandboxPortal) -> None:
    assert sandbox.result("crm.currency.base.get", user=READONLY) == "USD"


# --- products ---------------------------------------------------------------------------------------


def test_product_list_sends_every_field_as_a_string_or_null(sandbox: SandboxPortal) -> None:
    body = products(sandbox)
    assert (body["total"], len(body["result"])) == (Product.objects.count(), Product.objects.count())
    assert "next" not in body
    first = body["result"][0]
    product = Product.objects.order_by("id").first()
    assert product is not None
    assert list(first) == PRODUCT_KEYS
    assert all(value is None or isinstance(value, str) for value in first.values())
    assert first["ID"] == str(product.pk)
    assert first["PRICE"] == f"{product.price:.2f}"
    assert (first["CATALOG_ID"], first["CURRENCY_ID"], first["ACTIVE"]) == (str(product.catalog_id), "USD", "Y")
    assert (first["PREVIEW_PICTURE"], first["DETAIL_PICTURE"], first["DESCRIPTION_TYPE"]) == (None, None, "text")
    assert first["MEASURE"] == "5"  # pcs, the catalog's default unit
    assert ISO.match(first["DATE_CREATE"]) and ISO.match(first["TIMESTAMP_X"])


def test_product_list_pages_fifty_at_a_time(sandbox: SandboxPortal) -> None:
    add_products(60 - Product.objects.count())
    first = products(sandbox)
    assert (len(first["result"]), first["total"], first["next"]) == (50, 60, 50)
    last = products(sandbox, {"start": 50})
    assert (len(last["result"]), last["total"]) == (10, 60)
    assert "next" not in last
    assert {p["ID"] for p in first["result"]}.isdisjoint(p["ID"] for p in last["result"])


def test_product_list_filters_by_name_with_like_patterns(sandbox: SandboxPortal) -> None:
    everything = {p.name for p in Product.objects.all()}
    assert names(sandbox, {"%NAME": "licence"}) == {n for n in everything if "licence" in n.lower()}
    assert names(sandbox, {"NAME": "CRM%"}) == {n for n in everything if n.startswith("CRM")}
    assert names(sandbox, {"=%NAME": "%year"}) == {n for n in everything if n.endswith("year")}
    assert names(sandbox, {"NAME": "IP desk phone"}) == {"IP desk phone"}


def test_product_list_filters_by_id_catalog_active_currency_and_price_ranges(sandbox: SandboxPortal) -> None:
    Product.objects.filter(pk=2).update(active="N")
    ids = {str(pk) for pk in Product.objects.values_list("pk", flat=True)}

    def listed(filter_: dict[str, Any]) -> set[str]:
        return {p["ID"] for p in products(sandbox, {"filter": filter_, "select": ["ID"]})["result"]}

    assert listed({"ID": 3}) == {"3"}
    assert listed({"@ID": [1, 2]}) == {"1", "2"}
    assert listed({"CATALOG_ID": 25}) == ids
    assert listed({"CATALOG_ID": 99}) == set()
    assert listed({"ACTIVE": "N"}) == {"2"}
    in_range = Product.objects.filter(price__gte=1000, price__lt=2000).values_list("pk", flat=True)
    assert listed({">=PRICE": 1000, "<PRICE": "2000"}) == {str(pk) for pk in in_range}
    euro = Product.objects.filter(currency_id="EUR").values_list("pk", flat=True)
    assert listed({"CURRENCY_ID": "EUR"}) == {str(pk) for pk in euro}


def test_product_list_select_returns_the_named_fields_plus_id(sandbox: SandboxPortal) -> None:
    picked = products(sandbox, {"select": ["NAME", "PRICE"]})["result"][0]
    assert list(picked) == ["ID", "NAME", "PRICE"]
    assert list(products(sandbox, {"select": ["*"]})["result"][0]) == PRODUCT_KEYS
    assert list(products(sandbox, {"select": ["PROPERTY_*", "NAME"]})["result"][0]) == ["ID", "NAME"]


def test_product_list_orders_by_any_field(sandbox: SandboxPortal) -> None:
    rows = products(sandbox, {"order": {"PRICE": "DESC"}, "filter": {"CURRENCY_ID": "USD"}})["result"]
    prices = [Decimal(p["PRICE"]) for p in rows]
    assert prices == sorted(prices, reverse=True)
    by_name = [p["NAME"] for p in products(sandbox, {"order": {"NAME": "ASC"}})["result"]]
    assert by_name == sorted(by_name)


@pytest.mark.parametrize(("key", "field"), [("filter", "filter"), ("order", "order")])
def test_product_list_refuses_filter_or_order_that_is_not_an_object(
    sandbox: SandboxPortal, key: str, field: str
) -> None:
    response = sandbox.call("crm.product.list", {key: "NAME"})
    assert error_of(response) == (400, "", f"Parameter '{field}' must be array.")


def test_product_get_returns_the_list_shape(sandbox: SandboxPortal) -> None:
    listed = products(sandbox, {"filter": {"ID": 4}})["result"][0]
    assert sandbox.result("crm.product.get", {"id": 4}, user=READONLY) == listed
    assert sandbox.result("crm.product.get", {"ID": "4"}) == listed


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, (400, "", "ID is not defined or invalid.")),
        ({"id": 0}, (400, "", "ID is not defined or invalid.")),
        ({"id": "abc"}, (400, "", "ID is not defined or invalid.")),
        ({"id": True}, (400, "", "ID is not defined or invalid.")),
        ({"id": 99999}, (400, "", "Not found")),
    ],
)
def test_product_get_errors(sandbox: SandboxPortal, params: dict[str, Any], expected: tuple[int, str, str]) -> None:
    assert error_of(sandbox.call("crm.product.get", params)) == expected
