"""crm.deal.userfield.add / update / get / list / delete and their events.

Parameters, answers and error texts from b24restdocs (api-reference/crm/deals/user-defined-fields/);
the order of the checks and what the pages leave out from the rest module's UserFieldProxy and
CCrmRestProxyBase's USERFIELD branch: `fields` may be omitted on add (the whole request is the
fields then), errors are the legacy 400 with an empty code unless the page names one.
Creating, changing and deleting a field needs the administrator; reading needs CRM read access.
Events (onCrmDealUserField*) carry `{"FIELDS": {"ID", "ENTITY_ID", "FIELD_NAME"}}`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from sandbox import userfields as uf
from sandbox.events import queue_event
from sandbox.models import Deal, DealUserField, User
from sandbox.permissions import can_manage_settings, can_read_crm
from sandbox.rest.errors import RestError, legacy
from sandbox.rest.registry import Call, ListResult, rest_method
from sandbox.wire import parse_entity_id

ACCESS_DENIED = "Access denied."
INT_MAX = 2**31 - 1
ID_ERROR = "ID is not defined or invalid."
_WRITABLE = ("XML_ID", "SORT", "MANDATORY", "SHOW_FILTER", "SHOW_IN_LIST", "EDIT_IN_LIST", "IS_SEARCHABLE")
_LIST_FILTER = {
    "ID": "pk", "FIELD_NAME": "field_name", "USER_TYPE_ID": "user_type_id", "XML_ID": "xml_id", "SORT": "sort",
    "MULTIPLE": "multiple", "MANDATORY": "mandatory", "SHOW_FILTER": "show_filter", "SHOW_IN_LIST": "show_in_list",
    "EDIT_IN_LIST": "edit_in_list", "IS_SEARCHABLE": "is_searchable",
}  # fmt: skip
_LIST_ORDER = {
    "ID": "pk", "FIELD_NAME": "field_name", "USER_TYPE_ID": "user_type_id", "XML_ID": "xml_id", "SORT": "sort",
}  # fmt: skip


def _event(name: str, field: DealUserField, field_id: int, user: User) -> None:
    data = {"FIELDS": {"ID": str(field_id), "ENTITY_ID": uf.ENTITY_ID, "FIELD_NAME": field.field_name}}
    queue_event(name, data, user=user)


def _core(error: uf.UserFieldError) -> RestError:
    return RestError(error.code, error.message, 400)


def _array(call: Call, name: str) -> dict[str, Any] | None:
    value = call.param(name)
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}  # a PHP list: numeric keys
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else None


def _field_id(call: Call) -> int:
    number = parse_entity_id(call.param("id"))
    if number is None or number <= 0:
        raise legacy(ID_ERROR)
    return number


def _find(field_id: int) -> DealUserField:
    field = DealUserField.objects.filter(pk=field_id).first()
    if field is None:
        raise RestError("ERROR_NOT_FOUND", f"The entity with ID '{field_id}' is not found.", 400)
    return field


def _sort(value: Any) -> int:
    """A usable SORT, or 0: it must be above zero and fit the column."""
    sort = uf.to_int(value, 0)
    return min(sort, INT_MAX) if sort > 0 else 0


def _flag(value: Any) -> str:
    return "Y" if uf.yes(value) else "N"


def _show_filter(value: Any) -> str:
    # "Y" means "by mask" (E), as UserFieldProxy stores it; anything else is "do not show".
    return "E" if uf.yes(value) else "N"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    return "" if value is None or isinstance(value, dict | list) else str(value)


# --- crm.deal.userfield.add ---------------------------------------------------------------------


@rest_method("crm.deal.userfield.add", scope="crm")
def userfield_add(call: Call) -> int:
    """ "The prefix UF_CRM_ is always added to the code" (crm-deal-userfield-add.md); the answer is the new ID."""
    if not can_manage_settings(call.user):
        raise legacy(ACCESS_DENIED)
    fields = _array(call, "fields")
    if fields is None:
        fields = dict(call.params)
    type_id, code = _text(fields.get("USER_TYPE_ID")), _text(fields.get("FIELD_NAME"))
    required = (("USER_TYPE_ID", type_id), ("FIELD_NAME", code))
    missing = [f"The '{name}' field is not found." for name, value in required if not value]
    if missing:
        raise legacy("\n".join(missing))
    try:
        name = uf.field_name(code)
        if type_id not in uf.TYPES:
            raise uf.UserFieldError("ERROR_CORE", "Incorrect custom type specified.")
        if DealUserField.objects.filter(field_name=name).exists():
            raise uf.UserFieldError("ERROR_CORE", f'Field "{name}" already exists for object "{uf.ENTITY_ID}".')
        multiple = uf.yes(fields.get("MULTIPLE")) and type_id != "boolean"  # "boolean cannot be multiple"
        items = uf.list_for_add(fields.get("LIST"), multiple=multiple) if type_id == "enumeration" else []
    except uf.UserFieldError as exc:
        raise _core(exc) from exc
    default_label = (_text(fields.get("LABEL")) or name)[:200]
    sort = _sort(fields.get("SORT"))
    field = DealUserField.objects.create(
        field_name=name,
        user_type_id=type_id,
        label=default_label,
        multiple="Y" if multiple else "N",
        mandatory=_flag(fields.get("MANDATORY")),
        sort=sort or 100,
        items=items,
        xml_id=_text(fields.get("XML_ID"))[:255] or None,
        show_filter=_show_filter(fields.get("SHOW_FILTER")),
        show_in_list="N" if _text(fields.get("SHOW_IN_LIST")).upper() == "N" else "Y",
        edit_in_list="N" if _text(fields.get("EDIT_IN_LIST")).upper() == "N" else "Y",
        is_searchable=_flag(fields.get("IS_SEARCHABLE")),
        settings=uf.settings_for_add(type_id, fields.get("SETTINGS")),
        labels={kind: uf.label_map(fields.get(kind), default_label) for kind in uf.LABEL_KINDS},
    )
    _event("ONCRMDEALUSERFIELDADD", field, field.pk, call.user)
    return int(field.pk)


# --- crm.deal.userfield.get / list --------------------------------------------------------------


@rest_method("crm.deal.userfield.get", scope="crm")
def userfield_get(call: Call) -> dict[str, Any]:
    field_id = _field_id(call)
    if not can_read_crm(call.user):
        raise legacy(ACCESS_DENIED)
    return uf.field_json(_find(field_id))


@rest_method("crm.deal.userfield.list", scope="crm")
def userfield_list(call: Call) -> ListResult:
    """All matching fields, unpaged; labels only with filter.LANG, as strings (crm-deal-userfield-list.md)."""
    order, filter_ = _array(call, "order"), _array(call, "filter")
    if call.param("order") is not None and order is None:
        raise legacy("Parameter 'order' must be array.")
    if call.param("filter") is not None and filter_ is None:
        raise legacy("Parameter 'filter' must be array.")
    if not can_read_crm(call.user):
        raise legacy(ACCESS_DENIED)
    qs = _filtered(DealUserField.objects.all(), filter_ or {})
    qs = qs.order_by(*_ordering(order or {}))
    lang = _text((filter_ or {}).get("LANG")).lower() or None
    rows = [uf.field_json(field, lang=lang or "") for field in qs]
    return ListResult(rows, len(rows))


def _filtered(qs: QuerySet[DealUserField], raw: dict[str, Any]) -> QuerySet[DealUserField]:
    for key, value in raw.items():
        column = _LIST_FILTER.get(key.upper())
        if column is None or isinstance(value, dict):
            continue
        values = value if isinstance(value, list) else [value]
        texts = [str(v) for v in values]
        if column in ("pk", "sort"):
            qs = qs.filter(**{f"{column}__in": [uf.to_int(t, -1) for t in texts]})
        else:
            qs = qs.filter(**{f"{column}__in": texts})
    return qs


def _ordering(raw: dict[str, Any]) -> list[str]:
    ordering = [
        ("-" if str(direction).strip().upper() == "DESC" else "") + _LIST_ORDER[key.upper()]
        for key, direction in raw.items()
        if key.upper() in _LIST_ORDER
    ]
    return ordering or ["sort", "pk"]


# --- crm.deal.userfield.update ------------------------------------------------------------------


@rest_method("crm.deal.userfield.update", scope="crm")
def userfield_update(call: Call) -> bool:
    """Only what is sent changes; texts sent replace every language ('' where none is given)."""
    fields = _array(call, "fields")
    if fields is None:
        raise legacy("Parameter 'fields' must be array.")
    field_id = _field_id(call)
    if not can_manage_settings(call.user):
        raise legacy(ACCESS_DENIED)
    field = _find(field_id)
    for key in _WRITABLE:
        if key in fields:
            _apply_scalar(field, key, fields[key])
    labels = dict(field.labels) if isinstance(field.labels, dict) else {}
    for kind in uf.LABEL_KINDS:
        if fields.get(kind) is not None:
            labels[kind] = uf.label_map(fields[kind], "")
    field.labels = labels
    field.settings = uf.settings_for_update(field.user_type_id, field.settings, fields.get("SETTINGS"))
    enum_changed = False
    if field.user_type_id == "enumeration" and "LIST" in fields:
        try:
            items = uf.list_for_update(list(field.items), fields["LIST"], multiple=field.multiple == "Y")
        except uf.UserFieldError as exc:
            raise _core(exc) from exc
        enum_changed = items != field.items
        field.items = items
    field.save()
    _event("ONCRMDEALUSERFIELDUPDATE", field, field.pk, call.user)
    if enum_changed:
        _event("ONCRMDEALUSERFIELDSETENUMVALUES", field, field.pk, call.user)
    return True


def _apply_scalar(field: DealUserField, key: str, value: Any) -> None:
    if key == "XML_ID":
        field.xml_id = _text(value)[:255] or None
    elif key == "SORT":
        field.sort = _sort(value) or field.sort
    elif key == "SHOW_FILTER":
        field.show_filter = _show_filter(value)
    elif key in ("SHOW_IN_LIST", "EDIT_IN_LIST"):
        setattr(field, key.lower(), "N" if _text(value).upper() == "N" else "Y")
    else:
        setattr(field, key.lower(), _flag(value))


# --- crm.deal.userfield.delete ------------------------------------------------------------------


@rest_method("crm.deal.userfield.delete", scope="crm")
def userfield_delete(call: Call) -> bool:
    """The field goes and so do its values in every deal (CUserTypeEntity::Delete drops the column)."""
    field_id = _field_id(call)
    if not can_manage_settings(call.user):
        raise legacy(ACCESS_DENIED)
    field = _find(field_id)
    for deal in Deal.objects.filter(uf__has_key=field.field_name):
        deal.uf.pop(field.field_name, None)
        deal.save(update_fields=["uf"])
    field.delete()
    _event("ONCRMDEALUSERFIELDDELETE", field, field_id, call.user)
    return True
