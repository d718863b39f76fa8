"""Recurring deals: crm.deal.recurring.add/get/list/update/delete/fields/expose.

The seed names these methods only (deals-api-spec.md §9.6); fields from Appendix A.4 and the
current crm.deal.recurring.fields page. Behaviour the docs leave out follows what Bitrix24 does
(observed in bitrix24/b24phpsdk's integration tests against a live portal): `add` turns a deal into
a template by copying it into a new deal with IS_RECURRING=Y, so DEAL_ID is the template and
BASED_ID the deal it came from; `expose` answers {"DEAL_ID": <new deal id>}.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Model
from django.utils import timezone

from sandbox.events import queue_event
from sandbox.listing import FieldSpec, apply_filter, apply_order, paginate, select_fields
from sandbox.models import Category, Deal, DealContact, ProductRow, RecurringDeal, Status
from sandbox.permissions import can_add, can_edit_deal, can_read_crm
from sandbox.recurring_schedule import MAX_INTERVAL, add_period, next_execution, period_param
from sandbox.rest.errors import access_denied, legacy, not_found
from sandbox.rest.registry import Call, ListResult, rest_method
from sandbox.wire import date_str, field_descriptor, id_str, parse_int

DEFAULT_CLOSE_DAYS = 7  # a new deal closes a week after it begins (deals-api-spec.md R7)

# (type, required, read-only, immutable, title) — crm.deal.recurring.fields.
_FIELDS: dict[str, tuple[str, bool, bool, bool, str]] = {
    "ID": ("integer", False, True, False, "ID"),
    "DEAL_ID": ("integer", True, False, True, "Deal template ID"),
    "BASED_ID": ("integer", False, True, True, "Based on deal ID"),
    "ACTIVE": ("char", False, False, False, "Active"),
    "NEXT_EXECUTION": ("date", False, True, False, "Next deal creation date"),
    "LAST_EXECUTION": ("date", False, True, False, "Last deal creation date"),
    "COUNTER_REPEAT": ("integer", False, True, False, "Deals created"),
    "START_DATE": ("date", False, False, False, "Start date"),
    "CATEGORY_ID": ("char", False, False, False, "Pipeline"),
    "IS_LIMIT": ("char", False, False, False, "Limit"),
    "LIMIT_REPEAT": ("integer", False, False, False, "Maximum number of deals"),
    "LIMIT_DATE": ("date", False, False, False, "Create deals until"),
    "PARAMS": ("recurring_params", False, False, False, "Recurrence parameters"),
}
FIELD_NAMES = list(_FIELDS)

LIST_FIELDS: dict[str, FieldSpec] = {
    "ID": FieldSpec("pk", "int"),
    "DEAL_ID": FieldSpec("deal_id", "int"),
    "BASED_ID": FieldSpec("base_deal_id", "int"),
    "ACTIVE": FieldSpec("active", "ref"),
    "NEXT_EXECUTION": FieldSpec("next_execution", "date"),
    "LAST_EXECUTION": FieldSpec("last_execution", "date"),
    "COUNTER_REPEAT": FieldSpec("counter_repeat", "int"),
    "START_DATE": FieldSpec("start_date", "date"),
    "CATEGORY_ID": FieldSpec("category_id", "int"),
    "IS_LIMIT": FieldSpec("is_limit", "ref"),
    "LIMIT_REPEAT": FieldSpec("limit_repeat", "int"),
    "LIMIT_DATE": FieldSpec("limit_date", "date"),
}


# --- Wire ------------------------------------------------------------------------------------------


def recurring_json(rec: RecurringDeal) -> dict[str, Any]:
    """Legacy wire: ids and counters as strings, dates as deal dates are sent, PARAMS an object."""
    return {
        "ID": str(rec.pk),
        "DEAL_ID": str(rec.deal_id),
        "BASED_ID": id_str(rec.base_deal_id),
        "ACTIVE": rec.active,
        "NEXT_EXECUTION": date_str(rec.next_execution),
        "LAST_EXECUTION": date_str(rec.last_execution),
        "COUNTER_REPEAT": str(rec.counter_repeat),
        "START_DATE": date_str(rec.start_date),
        "CATEGORY_ID": str(rec.category_id),
        "IS_LIMIT": rec.is_limit,
        "LIMIT_REPEAT": id_str(rec.limit_repeat),
        "LIMIT_DATE": date_str(rec.limit_date),
        "PARAMS": _params(rec.params),
    }


def _descriptor(spec: tuple[str, bool, bool, bool, str]) -> dict[str, Any]:
    kind, required, read_only, immutable, title = spec
    return field_descriptor(kind, title, required=required, read_only=read_only, immutable=immutable)


# --- Input -----------------------------------------------------------------------------------------


def _parse_date(value: Any) -> date | None:
    """ "2025-03-01", "2025-03-01T10:00:00+02:00": the date part counts; anything else is empty."""
    if not isinstance(value, str) or len(value.strip()) < 10:
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _record_id(call: Call) -> int:
    value = parse_int(call.param("id"))
    if value is None or value <= 0:
        raise legacy("ID is not defined or invalid.")
    return value


def _fields(call: Call) -> dict[str, Any]:
    raw = call.param("fields")
    if not isinstance(raw, dict):
        raise legacy("Parameter 'fields' must be array.")
    return {str(k).upper(): v for k, v in raw.items()}


def _category(value: Any) -> int:
    category_id = parse_int(value)
    if category_id is None or category_id < 0 or not Category.objects.filter(pk=category_id).exists():
        raise legacy(f"The deal category with ID '{value}' is not found.")
    return category_id


def _params(value: Any) -> dict[str, Any]:
    """PARAMS is kept as sent, scalars as strings (how the portal hands them back)."""
    if not isinstance(value, dict):
        return {}
    cleaned: dict[str, Any] = {}
    for key, item in list(value.items())[:50]:
        if isinstance(item, dict | list):
            continue
        cleaned[str(key).upper()[:100]] = "" if item is None else str(item)[:255]
    return cleaned


def _apply_settings(rec: RecurringDeal, fields: dict[str, Any]) -> None:
    """The writable fields; read-only and immutable ones (ID, DEAL_ID, BASED_ID, NEXT_EXECUTION,
    LAST_EXECUTION, COUNTER_REPEAT) are ignored, as legacy methods ignore them in `fields`."""
    if "ACTIVE" in fields:
        rec.active = "N" if str(fields["ACTIVE"]).strip().upper() == "N" else "Y"
    if "START_DATE" in fields:
        rec.start_date = _parse_date(fields["START_DATE"])
    if "CATEGORY_ID" in fields:
        rec.category_id = _category(fields["CATEGORY_ID"])
    if "IS_LIMIT" in fields:
        limit = str(fields["IS_LIMIT"]).strip().upper()
        rec.is_limit = limit if limit in ("N", "D", "T") else "N"
    if "LIMIT_REPEAT" in fields:
        repeat = parse_int(fields["LIMIT_REPEAT"])
        rec.limit_repeat = repeat if repeat is not None and repeat >= 0 else None
    if "LIMIT_DATE" in fields:
        rec.limit_date = _parse_date(fields["LIMIT_DATE"])
    if "PARAMS" in fields:
        rec.params = _params(fields["PARAMS"])


# --- Copying deals ---------------------------------------------------------------------------------


def _copy_deal(source: Deal, **overrides: Any) -> Deal:
    """A new deal with the source's fields, product rows and contacts."""
    values = {f.attname: getattr(source, f.attname) for f in Deal._meta.concrete_fields if not f.primary_key}
    values.update(overrides)
    copy = Deal.objects.create(**values)
    _copy_rows(ProductRow.objects.filter(deal=source), deal=copy)
    _copy_rows(DealContact.objects.filter(deal=source), deal=copy)
    return copy


def _copy_rows(rows: Any, *, deal: Deal) -> None:
    copies: list[Model] = []
    for row in rows:
        row.pk = None
        row.deal = deal
        copies.append(row)
    if copies:
        type(copies[0])._default_manager.bulk_create(copies)


def _first_stage(category_id: int) -> str:
    entity = "DEAL_STAGE" if category_id == 0 else f"DEAL_STAGE_{category_id}"
    stage = Status.objects.filter(entity_id=entity).order_by("sort", "pk").first()
    if stage is not None:
        return stage.status_id
    return "NEW" if category_id == 0 else f"C{category_id}:NEW"


# --- Methods ---------------------------------------------------------------------------------------


def _load(call: Call) -> RecurringDeal:
    rec = RecurringDeal.objects.select_related("deal").filter(pk=_record_id(call)).first()
    if rec is None:
        raise not_found()
    return rec


def _event(name: str, call: Call, **fields: int) -> None:
    queue_event(name, {"FIELDS": {key: str(value) for key, value in fields.items()}}, user=call.user)


@rest_method("crm.deal.recurring.fields", scope="crm")
def recurring_fields(call: Call) -> dict[str, Any]:
    return {name: _descriptor(spec) for name, spec in _FIELDS.items()}


@rest_method("crm.deal.recurring.get", scope="crm")
def recurring_get(call: Call) -> dict[str, Any]:
    rec = _load(call)
    if not can_read_crm(call.user):
        raise access_denied()
    return recurring_json(rec)


@rest_method("crm.deal.recurring.list", scope="crm")
def recurring_list(call: Call) -> ListResult:
    if not can_read_crm(call.user):
        raise access_denied()
    qs = apply_filter(RecurringDeal.objects.all(), call.param("filter"), LIST_FIELDS)
    qs = apply_order(qs, call.param("order"), LIST_FIELDS)
    page = paginate(qs, call.param("start"))
    chosen = select_fields(call.param("select"), default=FIELD_NAMES, available=FIELD_NAMES, user_fields=[])
    rows = [{key: value for key, value in recurring_json(rec).items() if key in chosen} for rec in page.rows]
    return ListResult(rows, page.total, page.next)


@rest_method("crm.deal.recurring.add", scope="crm")
def recurring_add(call: Call) -> int:
    fields = _fields(call)
    deal_id = parse_int(fields.get("DEAL_ID"))
    if deal_id is None or deal_id <= 0:
        raise legacy("DEAL_ID is not defined or invalid.")
    source = Deal.objects.filter(pk=deal_id).first()
    if source is None:
        raise not_found()
    if not (can_add(call.user) and can_edit_deal(call.user, source)):
        raise access_denied()
    if RecurringDeal.objects.filter(deal=source).exists():
        raise legacy(f"The deal with ID '{deal_id}' already has recurring settings.")
    now = timezone.now()
    if source.is_recurring == "Y":
        template, based_id = source, None  # already a template without settings: use it as it is
    else:
        template = _copy_deal(
            source,
            is_recurring="Y",
            created_by_id=call.user.pk,
            modify_by_id=call.user.pk,
            date_create=now,
            date_modify=now,
        )
        based_id = source.pk
    rec = RecurringDeal(deal=template, base_deal_id=based_id, category_id=source.category_id)
    _apply_settings(rec, fields)
    rec.next_execution = next_execution(rec, today=timezone.localdate())
    rec.save()
    if template.pk != source.pk:
        _event("ONCRMDEALADD", call, ID=template.pk)
    _event("ONCRMDEALRECURRINGADD", call, ID=rec.pk, RECURRING_DEAL_ID=template.pk)
    return rec.pk


@rest_method("crm.deal.recurring.update", scope="crm")
def recurring_update(call: Call) -> bool:
    rec = _load(call)
    fields = _fields(call)
    if not can_edit_deal(call.user, rec.deal):
        raise access_denied()
    _apply_settings(rec, fields)
    rec.next_execution = next_execution(rec, today=timezone.localdate())
    rec.save()
    _event("ONCRMDEALRECURRINGUPDATE", call, ID=rec.pk, RECURRING_DEAL_ID=rec.deal_id)
    return True


@rest_method("crm.deal.recurring.delete", scope="crm")
def recurring_delete(call: Call) -> bool:
    rec = _load(call)
    if not can_edit_deal(call.user, rec.deal):
        raise access_denied()
    # Only the settings go; the template deal stays (crm.deal.delete removes it).
    record_id, template_id = rec.pk, rec.deal_id
    rec.delete()
    _event("ONCRMDEALRECURRINGDELETE", call, ID=record_id, RECURRING_DEAL_ID=template_id)
    return True


@rest_method("crm.deal.recurring.expose", scope="crm")
def recurring_expose(call: Call) -> dict[str, int]:
    """A new, ordinary deal from the template, out of schedule: the template's fields, rows and
    contacts; the first stage of the settings' funnel; BEGINDATE/CLOSEDATE from today by the
    OFFSET_* params. The template's counter and next execution move on."""
    rec = _load(call)
    template = rec.deal
    if not (can_add(call.user) and can_edit_deal(call.user, template)):
        raise access_denied()
    now = timezone.now()
    today = timezone.localdate()
    params = rec.params if isinstance(rec.params, dict) else {}
    begin_kind, begin_offset = period_param(params, "OFFSET_BEGINDATE_TYPE", "OFFSET_BEGINDATE_VALUE", "day", 0)
    close_kind, close_offset = period_param(
        params, "OFFSET_CLOSEDATE_TYPE", "OFFSET_CLOSEDATE_VALUE", "day", DEFAULT_CLOSE_DAYS
    )
    deal = _copy_deal(
        template,
        is_recurring="N",
        is_new="Y",
        closed="N",
        category_id=rec.category_id,
        stage_id=_first_stage(rec.category_id),
        begindate=add_period(today, begin_kind, _bounded(begin_offset)),
        closedate=add_period(today, close_kind, _bounded(close_offset)),
        created_by_id=call.user.pk,
        modify_by_id=call.user.pk,
        moved_by_id=call.user.pk,
        date_create=now,
        date_modify=now,
        moved_time=now,
        last_activity_time=None,
        last_activity_by=None,
    )
    rec.counter_repeat += 1
    rec.last_execution = today
    rec.next_execution = next_execution(rec, today=today)
    rec.save()
    _event("ONCRMDEALADD", call, ID=deal.pk)
    _event("ONCRMDEALRECURRINGEXPOSE", call, ID=rec.pk, RECURRING_DEAL_ID=template.pk, DEAL_ID=deal.pk)
    return {"DEAL_ID": deal.pk}


def _bounded(value: int) -> int:
    return max(-MAX_INTERVAL, min(value, MAX_INTERVAL))
