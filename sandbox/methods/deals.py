"""Deal CRUD: crm.deal.add/update/get/list/delete/fields.

Behaviour per deals-api-spec.md §4, §5 and rules §11. Reading and applying `fields` lives in
sandbox/deal_changes.py; crm.item.update/get for deals in sandbox/methods/deal_items.py.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from sandbox.deal_changes import (
    MONEY_LIMIT,
    Changes,
    FieldError,
    deal_changed_event,
    new_deal,
    parse_fields,
    save_update,
    write_contacts,
)
from sandbox.deal_fields import (
    DealContext,
    deal_json,
    deals_queryset,
    fields_description,
    filter_fields,
    order_fields,
    resolve_select,
)
from sandbox.events import queue_event
from sandbox.listing import FieldSpec, apply_filter, apply_order, coerce, paginate
from sandbox.models import Deal
from sandbox.permissions import can_add, can_delete_deal, can_edit_deal, can_read_crm
from sandbox.rest.errors import access_denied, legacy, not_found
from sandbox.rest.registry import Call, ListResult, rest_method
from sandbox.wire import parse_entity_id

# --- Shared parameter checks ----------------------------------------------------------------------


def _entity_id(call: Call) -> int:
    deal_id = parse_entity_id(call.param("id"))
    if deal_id <= 0:
        raise legacy("ID is not defined or invalid.")
    return deal_id


def _array_param(call: Call, name: str) -> dict[str, Any]:
    """A PHP array parameter: an object, or a list (whose numeric keys match no field)."""
    value = call.param(name)
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        return {}
    raise legacy(f"Parameter '{name}' must be array.")


def _check_params(call: Call) -> None:
    """`params` (REGISTER_SONET_EVENT, REGISTER_HISTORY_EVENT) is accepted and has no visible effect."""
    if call.param("params") is not None:
        _array_param(call, "params")


def _find(deal_id: int) -> Deal:
    deal = Deal.objects.filter(pk=deal_id).first()
    if deal is None:
        raise not_found()
    return deal


def _legacy_fields(raw: dict[str, Any], context: DealContext, *, allow_category: bool) -> Changes:
    try:
        return parse_fields(raw, context, allow_category=allow_category)
    except FieldError as exc:
        raise legacy(f'Invalid value for the "{exc.title}" field') from exc


# --- crm.deal.* --------------------------------------------------------------------------------------


@rest_method("crm.deal.fields", scope="crm")
def deal_fields(call: Call) -> dict[str, Any]:
    return fields_description(DealContext.load().user_fields)


@rest_method("crm.deal.add", scope="crm")
def deal_add(call: Call) -> int:
    raw = _array_param(call, "fields")
    _check_params(call)
    if not can_add(call.user):
        raise access_denied()
    context = DealContext.load()
    changes = _legacy_fields(raw, context, allow_category=True)
    deal = new_deal(call.user, changes, context)
    deal.save()
    if not deal.title:
        deal.title = f"Deal #{deal.pk}"  # the documented default template
        deal.save(update_fields=["title"])
    write_contacts(deal, changes)
    queue_event("ONCRMDEALADD", {"FIELDS": {"ID": str(deal.pk)}}, user=call.user)
    return int(deal.pk)


@rest_method("crm.deal.update", scope="crm")
def deal_update(call: Call) -> bool:
    deal_id = _entity_id(call)
    raw = _array_param(call, "fields")
    _check_params(call)
    if not can_add(call.user):
        raise access_denied()
    deal = _find(deal_id)
    if not can_edit_deal(call.user, deal):
        raise access_denied()
    context = DealContext.load()
    changes = _legacy_fields(raw, context, allow_category=False)  # CATEGORY_ID is immutable
    stage = context.stages.get(changes.stage_id or "")
    if stage is not None and stage.category_id != deal.category_id:
        stage = None  # "If you pass a STAGE_ID that does not belong to the current funnel, nothing will change."
    if save_update(deal, changes, stage, call.user, context):
        deal_changed_event(deal, call.user)
    return True


@rest_method("crm.deal.get", scope="crm")
def deal_get(call: Call) -> dict[str, Any]:
    deal_id = _entity_id(call)
    if not can_read_crm(call.user):
        raise access_denied()
    return deal_json(_find(deal_id), context=DealContext.load())


@rest_method("crm.deal.delete", scope="crm")
def deal_delete(call: Call) -> bool:
    deal_id = _entity_id(call)
    if not can_add(call.user):
        raise access_denied()
    deal = _find(deal_id)
    if not can_delete_deal(call.user, deal):
        raise access_denied()
    # Product rows, contact bindings and recurrence settings go with it (FK cascade, §5.5, R11).
    deal.delete()
    queue_event("ONCRMDEALDELETE", {"FIELDS": {"ID": str(deal_id)}}, user=call.user)
    return True


@rest_method("crm.deal.list", scope="crm")
def deal_list(call: Call) -> ListResult:
    if not can_read_crm(call.user):
        raise access_denied()
    context = DealContext.load()
    # restservice.php checks `order` before `filter`.
    qs: QuerySet[Deal] = apply_order(deals_queryset(), _list_param(call.param("order")), order_fields(context))
    specs = filter_fields(context)
    qs = apply_filter(qs, _safe_filter(_list_param(call.param("filter")), specs), specs)
    select = resolve_select(call.param("select"), context)
    page = paginate(qs, call.param("start"))
    return ListResult([deal_json(d, select, context=context) for d in page.rows], page.total, page.next)


def _list_param(value: Any) -> Any:
    # A JSON list is a PHP array too; its numeric keys name no field.
    return {} if isinstance(value, list) else value


def _safe_filter(raw: Any, specs: dict[str, FieldSpec]) -> Any:
    """Values the database cannot compare (2024-13-45, NaN, 20-digit ids) match nothing instead
    of failing the query."""
    if not isinstance(raw, dict):
        return raw
    cleaned: dict[str, Any] = {}
    for key, value in raw.items():
        spec = specs.get(re.sub(r"^[!=<>@%]+", "", str(key)).upper())
        if spec is None or spec.kind not in ("int", "decimal", "date", "datetime"):
            cleaned[key] = value
        elif isinstance(value, list):
            cleaned[key] = [v if _comparable(v, spec.kind) else "invalid" for v in value]
        else:
            cleaned[key] = value if _comparable(value, spec.kind) else "invalid"
    return cleaned


def _comparable(value: Any, kind: str) -> bool:
    try:
        coerced = coerce(value, kind)
    except (ValueError, OverflowError, ArithmeticError):
        return False
    if isinstance(coerced, int) and not isinstance(coerced, bool):
        return abs(coerced) <= 2**63 - 1
    if isinstance(coerced, Decimal):
        return coerced.is_finite() and abs(coerced) < MONEY_LIMIT
    return True
