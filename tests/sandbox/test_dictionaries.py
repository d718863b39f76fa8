"""Funnels and dictionaries: crm.category.list/get, crm.status.list, crm.status.entity.items/types."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.models import Status
from sandbox.seed.data import CATEGORIES, STAGES
from tests.conftest import SandboxPortal

READONLY = 5


def error_of(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


# --- crm.category.list / get -------------------------------------------------------------------------


def test_category_list_wraps_the_deal_funnels_in_categories_with_a_total(sandbox: SandboxPortal) -> None:
    body = sandbox.call("crm.category.list", {"entityTypeId": 2}).json()
    assert body["total"] == len(CATEGORIES)
    assert "next" not in body
    categories = body["result"]["categories"]
    assert [c["id"] for c in categories] == [0, 1, 2]  # by sort
    assert categories[0] == {"id": 0, "name": "General", "sort": 100, "entityTypeId": 2, "isDefault": "Y"}
    assert categories[1] == {
        "id": 1,
        "name": "Enterprise",
        "sort": 200,
        "entityTypeId": 2,
        "isDefault": "N",
        "originId": "",
        "originatorId": "",
    }


def test_category_list_is_open_to_a_read_only_user_and_takes_a_string_type(sandbox: SandboxPortal) -> None:
    result = sandbox.result("crm.category.list", {"entityTypeId": "2"}, user=READONLY)
    assert len(result["categories"]) == 3


def test_category_get_returns_one_funnel_wrapped_in_category(sandbox: SandboxPortal) -> None:
    assert sandbox.result("crm.category.get", {"entityTypeId": 2, "id": 2}) == {
        "category": {
            "id": 2,
            "name": "Partners",
            "sort": 300,
            "entityTypeId": 2,
            "isDefault": "N",
            "originId": "",
            "originatorId": "",
        }
    }
    assert sandbox.result("crm.category.get", {"entityTypeId": 2, "id": 0})["category"]["isDefault"] == "Y"


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("crm.category.get", {"entityTypeId": 2, "id": 99}, (400, "NOT_FOUND", "Element not found")),
        ("crm.category.get", {"entityTypeId": 2, "id": -1}, (400, "NOT_FOUND", "Element not found")),
        ("crm.category.list", {"entityTypeId": 999}, (400, "NOT_FOUND", "Smart process not found")),
        ("crm.category.get", {"entityTypeId": 0, "id": 1}, (400, "NOT_FOUND", "Smart process not found")),
        (
            "crm.category.list",
            {"entityTypeId": 1},
            (400, "ENTITY_TYPE_NOT_SUPPORTED", "Entity type LEAD is not supported"),
        ),
        (
            "crm.category.get",
            {"entityTypeId": 3, "id": 0},
            (400, "ENTITY_TYPE_NOT_SUPPORTED", "Entity type CONTACT is not supported"),
        ),
        ("crm.category.list", {}, (400, "100", "Could not find value for parameter {entityTypeId}")),
        ("crm.category.get", {"entityTypeId": 2}, (400, "100", "Could not find value for parameter {id}")),
        (
            "crm.category.list",
            {"entityTypeId": "deal"},
            (400, "100", "Invalid value deal to match with parameter {entityTypeId}. Should be value of type int"),
        ),
        (
            "crm.category.get",
            {"entityTypeId": 2, "id": [1]},
            (400, "100", "Invalid value Array to match with parameter {id}. Should be value of type int"),
        ),
    ],
)
def test_category_errors_have_their_documented_codes_and_texts(
    sandbox: SandboxPortal, method: str, params: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    assert error_of(sandbox.call(method, params)) == expected


# --- crm.status.list ---------------------------------------------------------------------------------


def test_status_list_of_default_funnel_stages_matches_the_doc_shape(sandbox: SandboxPortal) -> None:
    body = sandbox.call("crm.status.list", {"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": "DEAL_STAGE"}}).json()
    rows = body["result"]
    assert body["total"] == len(STAGES) == len(rows)
    assert "next" not in body
    assert [r["STATUS_ID"] for r in rows] == [s.status_id for s in STAGES]
    won = next(r for r in rows if r["STATUS_ID"] == "WON")
    assert list(won) == [
        "ID", "ENTITY_ID", "STATUS_ID", "NAME", "NAME_INIT", "SORT", "SYSTEM", "CATEGORY_ID", "COLOR",
        "SEMANTICS", "EXTRA",
    ]  # fmt: skip
    assert won["SORT"] == "60" and isinstance(won["ID"], str)
    assert (won["SYSTEM"], won["CATEGORY_ID"], won["SEMANTICS"]) == ("Y", None, "S")
    assert won["EXTRA"] == {"SEMANTICS": "success", "COLOR": won["COLOR"]}
    new = rows[0]
    assert (new["SEMANTICS"], new["EXTRA"]["SEMANTICS"]) == (None, "process")
    lose = next(r for r in rows if r["STATUS_ID"] == "LOSE")
    apology = next(r for r in rows if r["STATUS_ID"] == "APOLOGY")
    assert (lose["EXTRA"]["SEMANTICS"], apology["EXTRA"]["SEMANTICS"]) == ("failure", "apology")
    assert apology["NAME_INIT"] == ""


def test_status_list_of_another_funnel_carries_its_category_id_as_a_string(sandbox: SandboxPortal) -> None:
    rows = sandbox.result("crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE_1"}})
    assert rows[0]["STATUS_ID"] == "C1:NEW"
    assert {r["CATEGORY_ID"] for r in rows} == {"1"}


def test_status_list_filters_by_category_id_and_status_id(sandbox: SandboxPortal) -> None:
    by_category = sandbox.result("crm.status.list", {"filter": {"CATEGORY_ID": 2}})
    assert {r["ENTITY_ID"] for r in by_category} == {"DEAL_STAGE_2"}
    default_funnel = sandbox.result("crm.status.list", {"filter": {"CATEGORY_ID": 0, "ENTITY_ID": "DEAL_STAGE"}})
    assert len(default_funnel) == len(STAGES)
    won = sandbox.result("crm.status.list", {"filter": {"STATUS_ID": "C1:WON"}})
    assert [r["ENTITY_ID"] for r in won] == ["DEAL_STAGE_1"]


def test_status_list_orders_descending_and_defaults_to_sort(sandbox: SandboxPortal) -> None:
    desc = sandbox.result("crm.status.list", {"order": {"SORT": "DESC"}, "filter": {"ENTITY_ID": "DEAL_STAGE"}})
    assert desc[0]["STATUS_ID"] == "APOLOGY"
    types = sandbox.result("crm.status.list", {"filter": {"ENTITY_ID": "DEAL_TYPE"}})
    assert [int(r["SORT"]) for r in types] == sorted(int(r["SORT"]) for r in types)
    assert types[0]["CATEGORY_ID"] is None and "EXTRA" not in types[0]


def test_status_list_without_a_filter_returns_every_row_on_one_page(sandbox: SandboxPortal) -> None:
    Status.objects.bulk_create(
        Status(entity_id="SOURCE", status_id=f"EXTRA_{i}", name=f"Source {i}", sort=1000 + i) for i in range(30)
    )
    body = sandbox.call("crm.status.list", {}, user=READONLY).json()
    assert body["total"] == len(body["result"]) > 50
    assert "next" not in body


@pytest.mark.parametrize("params", [{"filter": "DEAL_STAGE"}, {"order": "SORT"}])
def test_status_list_refuses_malformed_filter_or_order(sandbox: SandboxPortal, params: dict[str, Any]) -> None:
    assert error_of(sandbox.call("crm.status.list", params)) == (
        400,
        "Invalid parameters.",
        "Incorrect parameters passed.",
    )


# --- crm.status.entity.items / types -------------------------------------------------------------------


def test_status_entity_items_lists_name_sort_and_status_id_with_int_sort(sandbox: SandboxPortal) -> None:
    items = sandbox.result("crm.status.entity.items", {"entityId": "deal_stage_2"})
    assert items[0] == {"NAME": "Partner lead", "SORT": 10, "STATUS_ID": "C2:NEW"}
    assert [i["SORT"] for i in items] == sorted(i["SORT"] for i in items)
    assert sandbox.result("crm.status.entity.items", {"entityId": "NOTHING"}) == []


@pytest.mark.parametrize("params", [{}, {"entityId": ""}, {"entityId": ["DEAL_STAGE"]}])
def test_status_entity_items_without_an_entity_id_is_refused(sandbox: SandboxPortal, params: dict[str, Any]) -> None:
    assert error_of(sandbox.call("crm.status.entity.items", params)) == (
        400,
        "The parameter entityId is not defined or invalid.",
        "The directory ID is not specified or is incorrect.",
    )


def test_status_entity_types_describes_the_dictionaries_and_funnel_stages(sandbox: SandboxPortal) -> None:
    types = {t["ID"]: t for t in sandbox.result("crm.status.entity.types", {})}
    assert types["DEAL_TYPE"] == {"ID": "DEAL_TYPE", "NAME": "Deal type"}
    assert types["DEAL_STAGE"]["CATEGORY_ID"] == 0
    assert types["DEAL_STAGE"]["SEMANTIC_INFO"] == {
        "START_FIELD": "NEW",
        "FINAL_SUCCESS_FIELD": "WON",
        "FINAL_UNSUCCESS_FIELD": "LOSE",
        "FINAL_SORT": 0,
    }
    funnel = types["DEAL_STAGE_1"]
    assert (funnel["PARENT_ID"], funnel["PREFIX"], funnel["FIELD_ATTRIBUTE_SCOPE"]) == (
        "DEAL_STAGE",
        "C1",
        "category_1",
    )
    assert (funnel["CATEGORY_ID"], funnel["ENTITY_TYPE_ID"]) == ("1", 2)
    assert funnel["SEMANTIC_INFO"]["FINAL_SUCCESS_FIELD"] == "C1:WON"
