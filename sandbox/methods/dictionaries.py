"""Funnels and CRM dictionaries: crm.category.list/get (entityTypeId 2) and crm.status.list,
crm.status.entity.items, crm.status.entity.types.

Sources: bitrix24-protocol.md §7.1–7.2, deals-api-spec.md §9.2–9.3 and A.7, the current
crm.category.* and crm.status.* doc pages. crm.category.* are "new-style" controllers (camelCase
keys, numbers as numbers, error codes such as NOT_FOUND); crm.status.* are legacy (UPPER_CASE keys,
every number a string).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from sandbox.listing import FieldSpec, apply_filter
from sandbox.models import Category, Status
from sandbox.permissions import can_read_crm
from sandbox.rest.errors import RestError, legacy
from sandbox.rest.registry import Call, ListResult, rest_method

DEAL_TYPE_ID = 2
# Types that exist on every portal but have no funnels in the sandbox (1 lead, 3 contact,
# 4 company, 7 quote, 31 smart invoice): ENTITY_TYPE_NOT_SUPPORTED. Anything else is taken for an
# unknown smart process: NOT_FOUND.
_TYPES_WITHOUT_FUNNELS = {1: "LEAD", 3: "CONTACT", 4: "COMPANY", 5: "INVOICE", 7: "QUOTE", 31: "SMART_INVOICE"}


def _read_guard(call: Call) -> None:
    if not can_read_crm(call.user):
        raise legacy("Access denied.")


# --- crm.category.* --------------------------------------------------------------------------------


def _engine_int(call: Call, name: str) -> int:
    """A required integer parameter of a Bitrix\\Main\\Engine controller, with its binder's errors."""
    if not call.has(name):
        raise RestError("100", f"Could not find value for parameter {{{name}}}", 400)
    raw = call.param(name)
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else None
    if text is None or not text.lstrip("-").isdigit():
        shown = raw if isinstance(raw, str | int | float) else "Array"
        raise RestError(
            "100", f"Invalid value {shown} to match with parameter {{{name}}}. Should be value of type int", 400
        )
    return int(text)


def _deal_funnels_only(entity_type_id: int) -> None:
    if entity_type_id == DEAL_TYPE_ID:
        return
    name = _TYPES_WITHOUT_FUNNELS.get(entity_type_id)
    if name is not None:
        raise RestError("ENTITY_TYPE_NOT_SUPPORTED", f"Entity type {name} is not supported", 400)
    raise RestError("NOT_FOUND", "Smart process not found", 400)


def category_json(category: Category) -> dict[str, Any]:
    """A funnel as crm.category.get shows it: `isDefault` "Y"/"N" as every sample shows (the field
    table says boolean); the default funnel carries no originId/originatorId in the list sample."""
    data: dict[str, Any] = {
        "id": category.pk,
        "name": category.name,
        "sort": category.sort,
        "entityTypeId": DEAL_TYPE_ID,
        "isDefault": "Y" if category.is_default else "N",
    }
    if not category.is_default:
        data["originId"] = ""
        data["originatorId"] = ""
    return data


@rest_method("crm.category.list", scope="crm")
def category_list(call: Call) -> ListResult:
    entity_type_id = _engine_int(call, "entityTypeId")
    _deal_funnels_only(entity_type_id)
    _read_guard(call)
    funnels = [category_json(c) for c in Category.objects.order_by("sort", "id")]
    # The list arrives wrapped in {"categories": [...]}; all funnels fit on one page.
    return ListResult({"categories": funnels}, len(funnels), None)


@rest_method("crm.category.get", scope="crm")
def category_get(call: Call) -> dict[str, Any]:
    # The engine binds every argument before the action runs, so a missing id is reported first.
    entity_type_id = _engine_int(call, "entityTypeId")
    category_id = _engine_int(call, "id")
    _deal_funnels_only(entity_type_id)
    _read_guard(call)
    category = Category.objects.filter(pk=category_id).first() if category_id >= 0 else None
    if category is None:
        raise RestError("NOT_FOUND", "Element not found", 400)
    return {"category": category_json(category)}


# --- crm.status.list -------------------------------------------------------------------------------

STATUS_FIELDS: dict[str, FieldSpec] = {
    "ID": FieldSpec("pk", "int"),
    "ENTITY_ID": FieldSpec("entity_id", "ref"),
    "STATUS_ID": FieldSpec("status_id", "ref"),
    "NAME": FieldSpec("name"),
    "NAME_INIT": FieldSpec("name_init"),
    "SORT": FieldSpec("sort", "int"),
    "SYSTEM": FieldSpec("system", "ref"),
    "CATEGORY_ID": FieldSpec("category_id", "int"),
    "COLOR": FieldSpec("color", "ref"),
    "SEMANTICS": FieldSpec("semantics", "ref"),
}


def invalid_parameters() -> RestError:
    # Exactly the crm.status.list doc's error sample.
    return RestError("Invalid parameters.", "Incorrect parameters passed.", 400)


def _is_stage_dictionary(entity_id: str) -> bool:
    return entity_id == "DEAL_STAGE" or entity_id.startswith("DEAL_STAGE_")


def _extra_semantics(status: Status) -> str:
    """EXTRA.SEMANTICS: process | success | failure (the system failure stage) | apology (others)."""
    if status.semantics == "S":
        return "success"
    if status.semantics == "F":
        return "failure" if status.system == "Y" else "apology"
    return "process"


def status_json(status: Status) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ID": str(status.pk),
        "ENTITY_ID": status.entity_id,
        "STATUS_ID": status.status_id,
        "NAME": status.name,
        "NAME_INIT": status.name_init,
        "SORT": str(status.sort),
        "SYSTEM": status.system,
        # null for the default funnel's stages and for plain dictionaries, the funnel id otherwise.
        "CATEGORY_ID": None if status.category_id is None else str(status.category_id),
        "COLOR": status.color or None,
        "SEMANTICS": status.semantics or None,
    }
    if _is_stage_dictionary(status.entity_id):
        data["EXTRA"] = {"SEMANTICS": _extra_semantics(status), "COLOR": status.color}
    return data


def _status_order(qs: QuerySet[Status], raw: Any) -> QuerySet[Status]:
    if raw in (None, "", []):
        raw = {"SORT": "ASC"}  # CCrmStatusRestProxy: no order means sort asc
    if not isinstance(raw, dict):
        raise invalid_parameters()
    ordering: list[str] = []
    for key, direction in raw.items():
        spec = STATUS_FIELDS.get(str(key).upper())
        if spec is None:
            continue
        ordering.append(f"-{spec.orm}" if str(direction).strip().upper() == "DESC" else spec.orm)
    return qs.order_by(*ordering, "pk")


def _status_filter(raw: Any) -> Any:
    if raw in (None, "", []):
        return {}
    if not isinstance(raw, dict):
        raise invalid_parameters()
    normalized: dict[str, Any] = {}
    for key, value in raw.items():
        # The default funnel's stages have CATEGORY_ID null; asking for funnel 0 means them.
        if str(key).upper().lstrip("=") == "CATEGORY_ID" and str(value).strip() == "0":
            value = ""
        normalized[str(key)] = value
    return normalized


@rest_method("crm.status.list", scope="crm")
def status_list(call: Call) -> ListResult:
    _read_guard(call)
    qs = apply_filter(Status.objects.all(), _status_filter(call.param("filter")), STATUS_FIELDS)
    rows = [status_json(s) for s in _status_order(qs, call.param("order"))]
    # Every matching row in one answer, with `total` and no `next` (protocol §7.1).
    return ListResult(rows, len(rows), None)


@rest_method("crm.status.entity.items", scope="crm")
def status_entity_items(call: Call) -> list[dict[str, Any]]:
    _read_guard(call)
    raw = call.param("entityId")
    entity_id = raw.strip().upper() if isinstance(raw, str) else ""
    if entity_id == "":
        # Code and text exactly as the doc's error sample.
        raise RestError(
            "The parameter entityId is not defined or invalid.",
            "The directory ID is not specified or is incorrect.",
            400,
        )
    statuses = Status.objects.filter(entity_id=entity_id).order_by("sort", "pk")
    return [{"NAME": s.name, "SORT": s.sort, "STATUS_ID": s.status_id} for s in statuses]


# --- crm.status.entity.types -----------------------------------------------------------------------

_PLAIN_DICTIONARIES = (("SOURCE", "Sources"), ("CONTACT_TYPE", "Contact type"), ("DEAL_TYPE", "Deal type"))


def _semantic_info(entity_id: str) -> dict[str, Any]:
    stages = list(Status.objects.filter(entity_id=entity_id).order_by("sort", "pk"))
    start = stages[0].status_id if stages else ""
    success = next((s.status_id for s in stages if s.semantics == "S"), "")
    failure = next((s.status_id for s in stages if s.semantics == "F" and s.system == "Y"), "")
    return {"START_FIELD": start, "FINAL_SUCCESS_FIELD": success, "FINAL_UNSUCCESS_FIELD": failure, "FINAL_SORT": 0}


def _funnel_type(category: Category) -> dict[str, Any]:
    if category.pk == 0:
        return {
            "ID": "DEAL_STAGE",
            "NAME": f"{category.name} deal stages",
            "SEMANTIC_INFO": _semantic_info("DEAL_STAGE"),
            "FIELD_ATTRIBUTE_SCOPE": "",
            "ENTITY_TYPE_ID": DEAL_TYPE_ID,
            "CATEGORY_ID": 0,
        }
    entity_id = f"DEAL_STAGE_{category.pk}"
    return {
        "ID": entity_id,
        "NAME": f"{category.name} deal stages",
        "PARENT_ID": "DEAL_STAGE",
        "SEMANTIC_INFO": _semantic_info(entity_id),
        "PREFIX": f"C{category.pk}",
        "FIELD_ATTRIBUTE_SCOPE": f"category_{category.pk}",
        "ENTITY_TYPE_ID": DEAL_TYPE_ID,
        "CATEGORY_ID": str(category.pk),  # a string here, the int 0 for the default funnel (doc sample)
    }


@rest_method("crm.status.entity.types", scope="crm")
def status_entity_types(call: Call) -> list[dict[str, Any]]:
    _read_guard(call)
    types: list[dict[str, Any]] = [{"ID": entity_id, "NAME": name} for entity_id, name in _PLAIN_DICTIONARIES]
    funnels = list(Category.objects.order_by("sort", "id"))
    # As in the doc sample, the other funnels' stage dictionaries come before DEAL_STAGE.
    types.extend(_funnel_type(c) for c in funnels if c.pk != 0)
    types.extend(_funnel_type(c) for c in funnels if c.pk == 0)
    return types
