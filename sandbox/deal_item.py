"""A deal as the `crm.item.*` methods send it (entityTypeId 2): camelCase keys, numbers as numbers,
user fields as ufCrm_… (or UF_CRM_… with useOriginalUfNames=Y); deals-api-spec.md §9.1 and
b24restdocs `crm-item-get.md`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sandbox.deal_fields import DealContext, primary_contact_id, uf_wire_value
from sandbox.models import Deal, DealUserField
from sandbox.wire import date_str, datetime_str, money_str, number


def uf_camel_name(field_name: str) -> str:
    """UF_CRM_1721244707107 → ufCrm_1721244707107, as crm.item.* name user fields by default."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), field_name.lower())


def _item_uf(field: DealUserField, stored: Any) -> Any:
    value = uf_wire_value(field, stored)
    convert: Callable[[Any], Any]
    if field.user_type_id in ("enumeration", "integer"):
        convert = _int_or_none
    elif field.user_type_id == "double":
        convert = _number_or_none
    else:
        return value
    return [convert(v) for v in value] if isinstance(value, list) else convert(value)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _number_or_none(value: Any) -> int | float | None:
    try:
        return number(value)
    except (TypeError, ArithmeticError, ValueError):
        return None


def item_json(deal: Deal, *, context: DealContext | None = None, original_uf_names: bool = False) -> dict[str, Any]:
    """A deal as crm.item.get/update send it (crm-item-update.md response sample, b24restdocs)."""
    context = context or DealContext.load()
    semantic = context.semantic(deal.stage_id)
    contact_ids = [b.contact_id for b in deal.contact_bindings.all()]
    item: dict[str, Any] = {
        "id": deal.pk,
        "createdTime": datetime_str(deal.date_create),
        "dateCreateShort": None,
        "updatedTime": datetime_str(deal.date_modify),
        "dateModifyShort": None,
        "createdBy": deal.created_by_id,
        "updatedBy": deal.modify_by_id,
        "assignedById": deal.assigned_by_id,
        "opened": deal.opened,
        "leadId": deal.lead_id,
        "companyId": deal.company_id or 0,
        "contactId": primary_contact_id(deal) or 0,
        "quoteId": deal.quote_id,
        "title": deal.title,
        "productId": None,
        "categoryId": deal.category_id,
        "stageId": deal.stage_id,
        "stageSemanticId": semantic,
        "isNew": deal.is_new,
        "isRecurring": deal.is_recurring,
        "isReturnCustomer": deal.is_return_customer,
        "isRepeatedApproach": deal.is_repeated_approach,
        "closed": deal.closed,
        "typeId": deal.type_id,
        "opportunity": number(deal.opportunity),
        "isManualOpportunity": deal.is_manual_opportunity,
        "taxValue": number(deal.tax_value),
        "currencyId": deal.currency_id,
        "probability": deal.probability,
        "comments": deal.comments,
        "begindate": date_str(deal.begindate),
        "begindateShort": None,
        "closedate": date_str(deal.closedate),
        "closedateShort": None,
        "eventDate": None,
        "eventDateShort": None,
        "eventId": None,
        "eventDescription": None,
        "locationId": deal.location_id,
        "webformId": 0,
        "sourceId": deal.source_id,
        "sourceDescription": deal.source_description,
        "originatorId": deal.originator_id,
        "originId": deal.origin_id,
        "additionalInfo": deal.additional_info,
        "searchContent": f"{deal.pk} {deal.title} {money_str(deal.opportunity)} {deal.currency_id}",
        "orderStage": None,
        "movedBy": deal.moved_by_id,
        "movedTime": datetime_str(deal.moved_time),
        "lastActivityBy": deal.last_activity_by,
        "lastActivityTime": datetime_str(deal.last_activity_time),
        "isWork": None,
        "isWon": None,
        "isLose": None,
        "receivedAmount": None,
        "lostAmount": None,
        "hasProducts": None,
    }
    for field in context.user_fields:
        key = field.field_name if original_uf_names else uf_camel_name(field.field_name)
        item[key] = _item_uf(field, deal.uf.get(field.field_name))
    item.update(
        utmSource=deal.utm_source,
        utmMedium=deal.utm_medium,
        utmCampaign=deal.utm_campaign,
        utmContent=deal.utm_content,
        utmTerm=deal.utm_term,
        observers=[int(u) for u in deal.observer_ids if str(u).isdigit()],
        contactIds=contact_ids,
        entityTypeId=2,
    )
    return item
