"""Contacts: crm.contact.fields / list / get / add / update / delete (legacy CRM methods).

Sources: bitrix24-protocol.md §7.4 and the pages under
https://apidocs.bitrix24.com/api-reference/crm/contacts/ (fields, get and list samples give the key
order and wire types). Ids, dates and flags are strings as in deals; phones, e-mails, sites and
messengers are crm_multifield lists [{"ID","VALUE_TYPE","VALUE","TYPE_ID"}] kept in Multifield.
Documented standard fields the Contact model has no column for (BIRTHDATE, SOURCE_DESCRIPTION,
EXPORT, UTM_*, ORIGIN*, ADDRESS*) are kept in Contact.uf under their own names: the sandbox has no
contact user fields, so that column is otherwise unused.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Case, Exists, OuterRef, QuerySet, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_date

from sandbox.listing import FieldSpec, apply_filter, apply_order, paginate, split_key
from sandbox.methods.deal_contacts import as_php_array, ensure_primary, php_int
from sandbox.models import Contact, DealContact, Multifield, Status
from sandbox.permissions import can_add, can_edit_contacts, can_read_crm
from sandbox.rest.errors import RestError, legacy
from sandbox.rest.registry import Call, ListResult, rest_method
from sandbox.wire import date_str, datetime_str, id_str, yn

ENTITY = "CONTACT"
MULTIFIELDS = ("PHONE", "EMAIL", "WEB", "IM", "LINK")
ID_MAX = 2**31 - 1
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_LABELS = {"WORK": "Work", "HOME": "Personal", "MAILING": "Newsletter", "OTHER": "Other"}
ADDRESS = ("ADDRESS", "ADDRESS_2", "ADDRESS_CITY", "ADDRESS_POSTAL_CODE", "ADDRESS_REGION", "ADDRESS_PROVINCE")
UTM = ("UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM")
EXTRAS = ("SOURCE_DESCRIPTION", "BIRTHDATE", "EXPORT", "ORIGINATOR_ID", "ORIGIN_ID", "ORIGIN_VERSION",
          *ADDRESS, "ADDRESS_COUNTRY", "ADDRESS_COUNTRY_CODE", "ADDRESS_LOC_ADDR_ID", *UTM)  # fmt: skip
TEXT_COLUMNS = {
    "NAME": "name",
    "SECOND_NAME": "second_name",
    "LAST_NAME": "last_name",
    "POST": "post",
    "HONORIFIC": "honorific",
    "TYPE_ID": "type_id",
    "SOURCE_ID": "source_id",
    "COMMENTS": "comments",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    title: str
    read_only: bool = False
    required: bool = False
    multiple: bool = False
    deprecated: bool = False
    status_type: str | None = None
    parent_type: int | None = None

    def descriptor(self) -> dict[str, Any]:
        # Key order of the crm.contact.fields sample.
        data: dict[str, Any] = {
            "type": self.type,
            "isRequired": self.required,
            "isReadOnly": self.read_only,
            "isImmutable": False,
            "isMultiple": self.multiple,
            "isDynamic": False,
        }
        if self.deprecated:
            data["isDeprecated"] = True
        if self.status_type:
            data["statusType"] = self.status_type
        data["title"] = self.title
        if self.parent_type is not None:
            data["settings"] = {"parentEntityTypeId": self.parent_type}
        return data


def _s(name: str, title: str) -> Field:
    return Field(name, "string", title)


# In the order of the crm.contact.fields sample; NAME/SECOND_NAME/LAST_NAME are marked required there.
FIELDS: tuple[Field, ...] = (
    Field("ID", "integer", "ID", read_only=True),
    Field("HONORIFIC", "crm_status", "Salutation", status_type="HONORIFIC"),
    Field("NAME", "string", "First Name", required=True),
    Field("SECOND_NAME", "string", "Middle Name", required=True),
    Field("LAST_NAME", "string", "Last Name", required=True),
    Field("PHOTO", "file", "Photo"),
    Field("BIRTHDATE", "date", "Birthdate"),
    Field("TYPE_ID", "crm_status", "Contact Type", status_type="CONTACT_TYPE"),
    Field("SOURCE_ID", "crm_status", "Source", status_type="SOURCE"),
    _s("SOURCE_DESCRIPTION", "Additional Source Info"),
    _s("POST", "Position"),
    _s("ADDRESS", "Address"),
    _s("ADDRESS_2", "Address (line 2)"),
    _s("ADDRESS_CITY", "City"),
    _s("ADDRESS_POSTAL_CODE", "Postal Code"),
    _s("ADDRESS_REGION", "Region"),
    _s("ADDRESS_PROVINCE", "State"),
    _s("ADDRESS_COUNTRY", "Country"),
    _s("ADDRESS_COUNTRY_CODE", "Country Code"),
    Field("ADDRESS_LOC_ADDR_ID", "integer", "Location Address ID"),
    _s("COMMENTS", "Comment"),
    Field("OPENED", "char", "Available to all"),
    Field("EXPORT", "char", "Participates in contact export"),
    Field("HAS_PHONE", "char", "Phone set", read_only=True),
    Field("HAS_EMAIL", "char", "E-mail set", read_only=True),
    Field("HAS_IMOL", "char", "Open channel set", read_only=True),
    Field("ASSIGNED_BY_ID", "user", "Responsible"),
    Field("CREATED_BY_ID", "user", "Created by", read_only=True),
    Field("MODIFY_BY_ID", "user", "Modified by", read_only=True),
    Field("DATE_CREATE", "datetime", "Creation Date", read_only=True),
    Field("DATE_MODIFY", "datetime", "Modification Date", read_only=True),
    Field("COMPANY_ID", "crm_company", "Company", deprecated=True),
    Field("COMPANY_IDS", "crm_company", "COMPANY_IDS", multiple=True),
    Field("LEAD_ID", "crm_lead", "Lead", read_only=True, parent_type=1),
    _s("ORIGINATOR_ID", "External Source"),
    _s("ORIGIN_ID", "Identifier in External Source"),
    _s("ORIGIN_VERSION", "Original Version"),
    _s("UTM_SOURCE", "Advertising System"),
    _s("UTM_MEDIUM", "Traffic Type"),
    _s("UTM_CAMPAIGN", "Campaign Identifier"),
    _s("UTM_CONTENT", "Campaign Content"),
    _s("UTM_TERM", "Campaign Search Condition"),
    Field("LAST_ACTIVITY_TIME", "datetime", "Last Activity", read_only=True),
    Field("LAST_ACTIVITY_BY", "user", "Last Activity Author", read_only=True),
    Field("PHONE", "crm_multifield", "Phone", multiple=True),
    Field("EMAIL", "crm_multifield", "E-mail", multiple=True),
    Field("WEB", "crm_multifield", "Website", multiple=True),
    Field("IM", "crm_multifield", "Messenger", multiple=True),
    Field("LINK", "crm_multifield", "LINK", multiple=True),
)

# Filter / order: ORM path and kind for listing.py. HAS_* are annotations (see _annotate).
FILTERS: dict[str, FieldSpec] = {
    "ID": FieldSpec("pk", "int"),
    **{name: FieldSpec(column, "ref" if name in ("HONORIFIC", "TYPE_ID", "SOURCE_ID") else "str")
       for name, column in TEXT_COLUMNS.items()},
    "COMPANY_ID": FieldSpec("company_id", "int"),
    "ASSIGNED_BY_ID": FieldSpec("assigned_by_id", "int"),
    "CREATED_BY_ID": FieldSpec("created_by_id", "int"),
    "MODIFY_BY_ID": FieldSpec("modify_by_id", "int"),
    "LAST_ACTIVITY_BY": FieldSpec("created_by_id", "int"),
    "OPENED": FieldSpec("opened", "yn"),
    "DATE_CREATE": FieldSpec("date_create", "datetime"),
    "DATE_MODIFY": FieldSpec("date_modify", "datetime"),
    "LAST_ACTIVITY_TIME": FieldSpec("date_create", "datetime"),
    "HAS_PHONE": FieldSpec("has_phone", "yn"),
    "HAS_EMAIL": FieldSpec("has_email", "yn"),
    **{name: FieldSpec(f"uf__{name}", "str") for name in EXTRAS},
}  # fmt: skip


# --- Wire form ------------------------------------------------------------------------------------


def channel_json(channel: Multifield) -> dict[str, Any]:
    return {"ID": str(channel.pk), "VALUE_TYPE": channel.value_type, "VALUE": channel.value, "TYPE_ID": channel.type_id}


def channels_of(contact_ids: list[int]) -> dict[int, list[Multifield]]:
    found: dict[int, list[Multifield]] = defaultdict(list)
    for channel in Multifield.objects.filter(entity_id=ENTITY, element_id__in=contact_ids).order_by("id"):
        found[channel.element_id].append(channel)
    return found


def _text(value: str) -> str | None:
    return value or None  # an empty column is an unset field: null, as deals send them


def _extra(contact: Contact, name: str) -> Any:
    value = contact.uf.get(name)
    return None if value in (None, "") else value


def _birthdate(contact: Contact) -> str:
    parsed = parse_date(str(contact.uf.get("BIRTHDATE") or ""))
    return date_str(parsed) or ""  # an unset birthdate comes back as "", not null


def contact_json(contact: Contact, channels: list[Multifield]) -> dict[str, Any]:
    """All fields in the key order of the crm.contact.get sample."""
    types = {c.type_id for c in channels}
    data: dict[str, Any] = {
        "ID": id_str(contact.pk),
        "POST": _text(contact.post),
        "COMMENTS": _text(contact.comments),
        "HONORIFIC": _text(contact.honorific),
        "NAME": _text(contact.name),
        "SECOND_NAME": _text(contact.second_name),
        "LAST_NAME": _text(contact.last_name),
        "PHOTO": None,
        "LEAD_ID": None,
        "TYPE_ID": _text(contact.type_id),
        "SOURCE_ID": _text(contact.source_id),
        "SOURCE_DESCRIPTION": _extra(contact, "SOURCE_DESCRIPTION"),
        "COMPANY_ID": id_str(contact.company_id),
        "BIRTHDATE": _birthdate(contact),
        "EXPORT": _extra(contact, "EXPORT") or "Y",
        "HAS_PHONE": "Y" if "PHONE" in types else "N",
        "HAS_EMAIL": "Y" if "EMAIL" in types else "N",
        "HAS_IMOL": "N",
        "DATE_CREATE": datetime_str(contact.date_create),
        "DATE_MODIFY": datetime_str(contact.date_modify),
        "ASSIGNED_BY_ID": id_str(contact.assigned_by_id),
        "CREATED_BY_ID": id_str(contact.created_by_id),
        "MODIFY_BY_ID": id_str(contact.modify_by_id),
        "OPENED": contact.opened,
        "ORIGINATOR_ID": _extra(contact, "ORIGINATOR_ID"),
        "ORIGIN_ID": _extra(contact, "ORIGIN_ID"),
        "ORIGIN_VERSION": _extra(contact, "ORIGIN_VERSION"),
        "FACE_ID": None,
        # No timeline in the sandbox: creation is the last activity.
        "LAST_ACTIVITY_TIME": datetime_str(contact.date_create),
        **{name: _extra(contact, name) for name in (*ADDRESS, "ADDRESS_COUNTRY", "ADDRESS_LOC_ADDR_ID", *UTM)},
        "LAST_ACTIVITY_BY": id_str(contact.created_by_id),
    }
    # Multifields appear only when the contact has values of that type (crm.contact.get note).
    for type_id in MULTIFIELDS:
        values = [channel_json(c) for c in channels if c.type_id == type_id]
        if values:
            data[type_id] = values
    return data


SCALARS = [name for name in contact_json(Contact(pk=0, uf={}), []) if name not in MULTIFIELDS]


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
