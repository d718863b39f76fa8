"""The contact's field table and how contacts look on the wire (crm.contact.fields, get, list).

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
from typing import Any

from django.utils.dateparse import parse_date

from sandbox.listing import FieldSpec
from sandbox.models import Contact, Multifield
from sandbox.wire import date_str, datetime_str, id_str

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
