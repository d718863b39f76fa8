"""Contacts: crm.contact.fields / list / get / add / update / delete (legacy CRM methods).

Sources: bitrix24-protocol.md §7.4 and the pages under
https://apidocs.bitrix24.com/api-reference/crm/contacts/. The field table and the wire form live in
sandbox/contact_fields.py; this module reads parameters and writes contacts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Case, Exists, OuterRef, QuerySet, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_date

from sandbox.contact_fields import (
    EMAIL_LABELS,
    EMAIL_RE,
    ENTITY,
    EXTRAS,
    FIELDS,
    FILTERS,
    ID_MAX,
    MULTIFIELDS,
    SCALARS,
    TEXT_COLUMNS,
    channels_of,
    contact_json,
)
from sandbox.listing import apply_filter, apply_order, paginate, split_key
from sandbox.methods.deal_contacts import as_php_array, ensure_primary, php_int
from sandbox.models import Contact, DealContact, Multifield, Status
from sandbox.permissions import can_add, can_edit_contacts, can_read_crm
from sandbox.rest.errors import RestError, legacy
from sandbox.rest.registry import Call, ListResult, rest_method
from sandbox.wire import yn

# --- Reading --------------------------------------------------------------------------------------


def contact_id_param(call: Call) -> int:
    contact_id = php_int(call.param("id"))  # an array is 1, as the portal's (int) cast
    if contact_id <= 0:
        raise legacy("ID is not defined or invalid.")
    return min(contact_id, ID_MAX + 1)  # past any stored id: "Not found", never a DB overflow


def _annotate(qs: QuerySet[Contact]) -> QuerySet[Contact]:
    def has(type_id: str) -> Case:
        channel = Multifield.objects.filter(entity_id=ENTITY, element_id=OuterRef("pk"), type_id=type_id)
        return Case(When(Exists(channel), then=Value("Y")), default=Value("N"))

    return qs.annotate(has_phone=has("PHONE"), has_email=has("EMAIL"))


def _multifield_filter(qs: QuerySet[Contact], op: str, type_id: str, value: Any) -> QuerySet[Contact]:
    """PHONE / EMAIL / WEB / IM as CCrmEntityHelper::PrepareMultiFieldFilter reads them for REST
    (bitrix24-lists.md "Multifields"): only the bare key counts, and its value (the first element
    of a list), trimmed and without `%`, matches stored values that *start with* it. A prefixed key
    (`%PHONE`, `!EMAIL`) and an empty value are dropped, so they filter nothing."""
    if op != "":
        return qs
    if isinstance(value, list):
        value = value[0] if value else ""
    elif isinstance(value, dict):
        value = value.get("0", value.get(0)) if value else ""
    text = _php_text(value).strip()
    if text == "":
        return qs
    prefix = text.replace("%", "")
    ids = Multifield.objects.filter(entity_id=ENTITY, type_id=type_id, value__istartswith=prefix).values("element_id")
    return qs.filter(pk__in=ids)


def _php_text(value: Any) -> str:
    """strval(): null and false are "", true "1", an array "Array"."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, list | dict):
        return "Array"
    return str(value)


def _select(raw: Any) -> tuple[list[str], list[str]]:
    """(scalar keys, multifield keys): `*` has no UF and no multifields; those are named explicitly."""
    if raw in (None, "", []) or not isinstance(raw, list | dict):
        return list(SCALARS), []
    names = [str(v).upper() for v in (raw.values() if isinstance(raw, dict) else raw)]
    scalars: list[str] = []
    for name in names:
        for chosen in SCALARS if name == "*" else [name] if name in SCALARS else []:
            if chosen not in scalars:
                scalars.append(chosen)
    if "ID" not in scalars:
        scalars.insert(0, "ID")
    return scalars, [m for m in MULTIFIELDS if m in names]


def _require_read(call: Call) -> None:
    if not can_read_crm(call.user):
        raise legacy("Access denied.")


@rest_method("crm.contact.fields", scope="crm")
def contact_fields(call: Call) -> dict[str, Any]:
    return {field.name: field.descriptor() for field in FIELDS}


@rest_method("crm.contact.get", scope="crm")
def contact_get(call: Call) -> dict[str, Any]:
    contact_id = contact_id_param(call)
    _require_read(call)
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise legacy("Not found")
    return contact_json(contact, channels_of([contact.pk])[contact.pk])


@rest_method("crm.contact.list", scope="crm")
def contact_list(call: Call) -> ListResult:
    _require_read(call)
    raw_filter, raw_order = call.param("filter"), call.param("order")
    if raw_filter not in (None, "", []) and not isinstance(raw_filter, dict):
        raise legacy("Parameter 'filter' must be array.")
    qs = _annotate(Contact.objects.all())
    plain: dict[str, Any] = {}
    for raw_key, value in (raw_filter or {}).items():
        op, name = split_key(str(raw_key))
        if name.upper() in MULTIFIELDS:
            qs = _multifield_filter(qs, op, name.upper(), value)
        else:
            plain[raw_key] = value
    qs = apply_order(apply_filter(qs, plain, FILTERS), raw_order, FILTERS)
    page = paginate(qs, call.param("start"))
    scalars, multis = _select(call.param("select"))
    channels = channels_of([c.pk for c in page.rows])  # HAS_PHONE / HAS_EMAIL need them too
    rows = []
    for contact in page.rows:
        full = contact_json(contact, channels.get(contact.pk, []))
        # Multifields come after the other fields, as in the list sample.
        rows.append({name: full[name] for name in [*scalars, *multis] if name in full})
    return ListResult(rows, page.total, page.next)


# --- Writing --------------------------------------------------------------------------------------


def _first_status(entity_id: str) -> str:
    status = Status.objects.filter(entity_id=entity_id).order_by("sort", "id").first()
    return status.status_id if status else ""


def _apply_fields(contact: Contact, fields: dict[str, Any]) -> None:
    """Writable standard fields; unknown and read-only keys are ignored, as the docs say."""
    for name, column in TEXT_COLUMNS.items():
        value = fields.get(name)
        if value is not None and not isinstance(value, list | dict):
            limit = getattr(Contact._meta.get_field(column), "max_length", None)
            setattr(contact, column, str(value)[:limit] if limit else str(value))
    for name, column in (("COMPANY_ID", "company_id"), ("ASSIGNED_BY_ID", "assigned_by_id")):
        value = fields.get(name)
        if value is None:
            continue
        number = php_int(value)
        if 0 < number <= ID_MAX:
            setattr(contact, column, number)
        elif column == "company_id" and value in ("", 0, "0"):
            contact.company_id = None
    if fields.get("OPENED") is not None:
        contact.opened = yn(fields.get("OPENED"), contact.opened)
    for name in EXTRAS:
        value = fields.get(name)
        if value is None or isinstance(value, list | dict):
            continue
        contact.uf[name] = _birthdate_input(value) if name == "BIRTHDATE" else str(value)
    if "EXPORT" in contact.uf:
        contact.uf["EXPORT"] = yn(contact.uf["EXPORT"], "Y")


def _birthdate_input(value: Any) -> str:
    """Samples send "11.11.2001"; ISO dates and datetimes work too. Anything else clears it."""
    text = str(value).strip()
    match = re.match(r"^(\d{2})\.(\d{2})\.(\d{4})$", text)
    if match:
        text = f"{match.group(3)}-{match.group(2)}-{match.group(1)}"
    try:
        parsed: date | None = parse_date(text[:10])
    except ValueError:
        parsed = None
    return parsed.isoformat() if parsed else ""


@dataclass(frozen=True)
class ChannelInput:
    type_id: str
    id: int | None
    value: str
    value_type: str
    delete: bool


def _channel_inputs(fields: dict[str, Any]) -> list[ChannelInput]:
    """PHONE: [{"VALUE": "...", "VALUE_TYPE": "WORK"}, {"ID": 5, "DELETE": "Y"}] and the like."""
    inputs: list[ChannelInput] = []
    for type_id in MULTIFIELDS:
        entries = as_php_array(fields.get(type_id))
        for entry in (entries or {}).values():
            item = as_php_array(entry)
            if item is None:
                continue
            raw_value = item.get("VALUE")
            value = "" if raw_value is None or isinstance(raw_value, list | dict) else str(raw_value).strip()
            channel_id = php_int(item.get("ID"))
            value_type = str(item.get("VALUE_TYPE") or "WORK").strip().upper()[:20] or "WORK"
            delete = str(item.get("DELETE") or "").upper() == "Y" or not value
            inputs.append(
                ChannelInput(type_id, channel_id if channel_id > 0 else None, value[:250], value_type, delete)
            )
    for channel in inputs:
        if channel.type_id == "EMAIL" and not channel.delete and not EMAIL_RE.match(channel.value):
            label = f"{EMAIL_LABELS.get(channel.value_type, channel.value_type.title())} e-mail"
            raise RestError("ERROR_CORE", f"The field {label} contains an invalid address", 400)
    return inputs


def _save_channels(contact: Contact, inputs: list[ChannelInput]) -> None:
    """New values are added; an ID updates that value, or deletes it with DELETE=Y or no VALUE."""
    own = {c.pk: c for c in Multifield.objects.filter(entity_id=ENTITY, element_id=contact.pk)}
    for item in inputs:
        existing = own.get(item.id) if item.id is not None else None
        if item.id is not None and (existing is None or existing.type_id != item.type_id):
            continue  # someone else's value, or another type: ignored
        if existing is not None and item.delete:
            existing.delete()
        elif existing is not None:
            existing.value, existing.value_type = item.value, item.value_type
            existing.save(update_fields=["value", "value_type"])
        elif not item.delete:
            Multifield.objects.create(entity_id=ENTITY, element_id=contact.pk, type_id=item.type_id,
                                      value_type=item.value_type, value=item.value)  # fmt: skip


def _fields_and_params(call: Call) -> dict[str, Any]:
    fields = call.param("fields")
    if not isinstance(fields, dict):
        raise legacy("Parameter 'fields' must be array.")
    params = call.param("params")
    if params not in (None, "", []) and not isinstance(params, dict):
        raise legacy("Parameter 'params' must be array.")
    return fields


@rest_method("crm.contact.add", scope="crm")
def contact_add(call: Call) -> int:
    fields = _fields_and_params(call)
    if not can_add(call.user):
        raise legacy("Access denied.")
    inputs = _channel_inputs(fields)
    now = timezone.now()
    contact = Contact(
        type_id=_first_status("CONTACT_TYPE") or "CLIENT",
        source_id=_first_status("SOURCE"),
        honorific=_first_status("HONORIFIC"),
        assigned_by_id=call.user.pk,
        created_by_id=call.user.pk,
        modify_by_id=call.user.pk,
        date_create=now,
        date_modify=now,
        uf={},
    )
    _apply_fields(contact, fields)
    contact.save()
    _save_channels(contact, inputs)
    return contact.pk  # a JSON number, like crm.deal.add


@rest_method("crm.contact.update", scope="crm")
def contact_update(call: Call) -> bool:
    contact_id = contact_id_param(call)
    fields = _fields_and_params(call)
    if not can_edit_contacts(call.user):
        raise legacy("Access denied.")
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise legacy("Contact is not found")  # the text of the crm.contact.update error sample
    inputs = _channel_inputs(fields)
    _apply_fields(contact, fields)
    contact.modify_by_id = call.user.pk
    contact.date_modify = timezone.now()
    contact.save()
    _save_channels(contact, inputs)
    return True


@rest_method("crm.contact.delete", scope="crm")
def contact_delete(call: Call) -> bool:
    contact_id = contact_id_param(call)
    if not can_edit_contacts(call.user):
        raise legacy("Access denied.")
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise RestError("ERROR_CORE", "Element not found", 400)  # crm.contact.delete error table
    deal_ids = list(DealContact.objects.filter(contact=contact).values_list("deal_id", flat=True))
    Multifield.objects.filter(entity_id=ENTITY, element_id=contact.pk).delete()
    contact.delete()  # its deal bindings go with it
    for deal_id in deal_ids:
        ensure_primary(deal_id)
    return True
