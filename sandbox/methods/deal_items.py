"""crm.item.update and crm.item.get for deals (entityTypeId 2): moving a deal to another funnel,
confirming a deletion.

Shapes and errors from b24restdocs `crm-item-update.md`, `crm-item-get.md`; parameters are bound
as Bitrix24's engine controllers bind them (sandbox/rest/engine.py).
"""

from __future__ import annotations

from typing import Any

from sandbox.deal_changes import (
    SIMPLE_FIELDS,
    SPECIAL_FIELDS,
    Changes,
    FieldError,
    deal_changed_event,
    parse_fields,
    save_update,
)
from sandbox.deal_fields import DealContext, Stage
from sandbox.deal_item import item_json, uf_camel_name
from sandbox.events import queue_event
from sandbox.models import Deal
from sandbox.permissions import can_edit_deal, can_read_crm
from sandbox.rest import engine
from sandbox.rest.errors import RestError
from sandbox.rest.registry import Call, rest_method
from sandbox.wire import yn


def _fields_param(call: Call) -> dict[str, Any]:
    """`fields` as a PHP array: an object, or a list (whose numeric keys match no field)."""
    value = engine.array_param(call, "fields")
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _camel(name: str) -> str:
    head, *rest = name.lower().split("_")
    return head + "".join(part.capitalize() for part in rest)


_ITEM_NAMES = {_camel(name): name for name in (*SIMPLE_FIELDS, *SPECIAL_FIELDS)}


def _from_item_fields(raw: dict[str, Any], context: DealContext, *, original_uf: bool) -> dict[str, Any]:
    """crm.item names (stageId, categoryId, ufCrm_…) to legacy ones. Upper-case standard names pass
    too (the seed's sample sends STAGE_ID); UF_CRM_… only with useOriginalUfNames=Y."""
    uf_names = {
        (uf.field_name if original_uf else uf_camel_name(uf.field_name)): uf.field_name for uf in context.user_fields
    }
    legacy_names: dict[str, Any] = {}
    for key, value in raw.items():
        known = key in SIMPLE_FIELDS or key in SPECIAL_FIELDS
        name = _ITEM_NAMES.get(key) or uf_names.get(key) or (key if known else None)
        if name is not None:
            legacy_names[name] = value
    return legacy_names


def _target_stage(deal: Deal, changes: Changes, context: DealContext) -> Stage | None:
    category = deal.category_id if changes.category_id is None else changes.category_id
    if category not in context.categories:
        raise FieldError("Category")
    if changes.stage_id is not None:
        stage = context.stages.get(changes.stage_id)
        if stage is None or stage.category_id != category:
            raise FieldError("Stage")
        return stage
    if category == deal.category_id:
        return None
    first = context.first_stage(category)
    if first is None:
        raise FieldError("Category")
    return first


@rest_method("crm.item.update", scope="crm")
def item_update(call: Call) -> dict[str, Any]:
    """Only deals (entityTypeId 2): the documented way to move a deal to another funnel (§9.1)."""
    entity_type_id = engine.int_param(call, "entityTypeId")
    item_id = engine.int_param(call, "id")
    raw = _fields_param(call)
    if entity_type_id != 2:
        raise RestError("NOT_FOUND", "Smart process not found", 400)
    deal = Deal.objects.filter(pk=item_id).first() if 0 < item_id <= 2**63 - 1 else None
    if deal is None:
        raise RestError("NOT_FOUND", "Element not found", 400)
    if not can_edit_deal(call.user, deal):
        raise RestError("ACCESS_DENIED", "Access denied", 400)
    context = DealContext.load()
    original_uf = yn(call.param("useOriginalUfNames"), "N") == "Y"
    try:
        changes = parse_fields(_from_item_fields(raw, context, original_uf=original_uf), context, allow_category=True)
        stage = _target_stage(deal, changes, context)
    except FieldError as exc:
        raise RestError("CRM_FIELD_ERROR_VALUE_NOT_VALID", f'Invalid value for field "{exc.title}"', 400) from exc
    old_category = deal.category_id
    if save_update(deal, changes, stage, call.user, context):
        if deal.category_id != old_category:
            # A funnel change fires ONCRMDEALMOVETOCATEGORY instead of ONCRMDEALUPDATE (protocol §6.2).
            fields = {"ID": str(deal.pk), "CATEGORY_ID": str(deal.category_id), "STAGE_ID": deal.stage_id}
            queue_event("ONCRMDEALMOVETOCATEGORY", {"FIELDS": fields}, user=call.user)
        else:
            deal_changed_event(deal, call.user)
    return {"item": item_json(deal, context=context, original_uf_names=original_uf)}


@rest_method("crm.item.get", scope="crm")
def item_get(call: Call) -> dict[str, Any]:
    """A deal as crm.item sends it. Existence is checked before rights, so a deleted deal is 400
    NOT_FOUND "Element not found" for every user (crm lib/controller/item.php; bitrix24-uninstall.md)."""
    entity_type_id = engine.int_param(call, "entityTypeId")
    item_id = engine.int_param(call, "id")
    if entity_type_id != 2:
        raise RestError("NOT_FOUND", "Smart process not found", 400)
    deal = Deal.objects.filter(pk=item_id).first() if 0 < item_id <= 2**63 - 1 else None
    if deal is None:
        raise RestError("NOT_FOUND", "Element not found", 400)
    if not can_read_crm(call.user):
        raise RestError("ACCESS_DENIED", "Access denied", 400)
    original_uf = yn(call.param("useOriginalUfNames"), "N") == "Y"
    return {"item": item_json(deal, context=DealContext.load(), original_uf_names=original_uf)}
