"""Deal user fields (UF_CRM_*) as Bitrix24 keeps them: names, per-language texts, settings, lists.

What crm.deal.userfield.* need besides the HTTP layer, read from the b24restdocs pages
(crm-deal-userfield-add/update/get/list.md) and, where they are silent, from the rest module's
UserFieldProxy (add/update/get/getList) and main's CUserTypeEntity, which the reference names:

- `field_name(code)`: the `UF_CRM_` prefix rule and the name checks of the add page.
- `label_map(value, default)`: UserFieldProxy::prepareLabels - a string is every language's text,
  a lang_map fills the languages it names and `default` the rest.
- `settings_for_add` / `settings_for_update`: the effective SETTINGS of each type.
- `list_for_add` / `list_for_update`: enumeration values, IDs allocated portal-wide; an item with
  an `ID` changes that value, `DEL: Y` deletes it, any other item is new (uf_enum_element).
- `field_json(field, lang)`: a field as crm.deal.userfield.get/list send it.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.models import DealUserField, Portal

ENTITY_ID = "CRM_DEAL"
PREFIX = "UF_CRM_"
MAX_NAME = 50
# The portal's languages, in the order the crm.deal.userfield.get sample lists them.
LANGUAGES = (
    "ar", "br", "de", "en", "fr", "hi", "id", "in", "it", "ja", "kz", "la", "ms", "pl", "ru", "sc", "tc",
    "th", "tr", "ua", "vn",
)  # fmt: skip
LABEL_KINDS = ("EDIT_FORM_LABEL", "LIST_COLUMN_LABEL", "LIST_FILTER_LABEL", "ERROR_MESSAGE", "HELP_MESSAGE")
# crm.userfield.types (UserFieldProxy::getTypes): what USER_TYPE_ID may be.
TYPES = (
    "string", "integer", "double", "boolean", "enumeration", "datetime", "date", "money", "url", "address",
    "file", "employee", "crm_status", "iblock_section", "iblock_element", "crm",
)  # fmt: skip
NAME_TOO_LONG = "Field name is too long (more than 50 characters)."
NAME_INVALID = "Field name contains invalid characters. Allowed characters are: A-Z, 0-9 and _."


class UserFieldError(Exception):
    """A refusal with the portal's code ("" or ERROR_CORE) and text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def yes(value: Any) -> bool:
    return (isinstance(value, str) and value.strip().upper() == "Y") or value is True


def field_name(code: str) -> str:
    """MANAGER_NOTE -> UF_CRM_MANAGER_NOTE, UF_MANAGER_NOTE -> UF_CRM_MANAGER_NOTE, UF_CRM_X stays."""
    name = code.strip().upper()
    if not name.startswith(PREFIX):
        name = PREFIX + (name[3:] if name.startswith("UF_") else name)
    if len(name) > MAX_NAME:
        raise UserFieldError("ERROR_CORE", NAME_TOO_LONG)
    if not re.fullmatch(r"[A-Z0-9_]+", name):
        raise UserFieldError("ERROR_CORE", NAME_INVALID)
    return name


def label_map(value: Any, default: str) -> dict[str, str]:
    """Every language's text: a non-empty string for all, or a lang_map with `default` for the rest."""
    if isinstance(value, str) and value != "":
        return dict.fromkeys(LANGUAGES, value)
    given = value if isinstance(value, dict) else {}
    return {lang: text if isinstance(text := given.get(lang), str) and text != "" else default for lang in LANGUAGES}


def label(field: DealUserField, kind: str, lang: str = "en") -> str:
    """One text of a field; fields made before per-language texts existed have `label` only."""
    texts = field.labels.get(kind) if isinstance(field.labels, dict) else None
    if isinstance(texts, dict) and lang in texts:
        return str(texts[lang])
    return field.label if kind != "ERROR_MESSAGE" and kind != "HELP_MESSAGE" else ""


def to_int(value: Any, default: int) -> int:
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError, OverflowError):
        return default


def _default_datetime(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        value = {"VALUE": value, "TYPE": "NONE"}
    kind = str(value.get("TYPE") or "NONE").upper()
    return {"VALUE": str(value.get("VALUE") or ""), "TYPE": kind}


def settings_for_add(type_id: str, raw: Any) -> dict[str, Any]:
    """The stored SETTINGS of a new field: the type's defaults with what the add page lets one set."""
    given = raw if isinstance(raw, dict) else {}
    if type_id == "string":
        rows = to_int(given.get("ROWS"), 0)
        default = given.get("DEFAULT_VALUE", "")
        return {"SIZE": 20, "ROWS": rows if rows > 0 else 1, "REGEXP": "", "MIN_LENGTH": 0, "MAX_LENGTH": 0,
                "DEFAULT_VALUE": default if isinstance(default, str) else str(default)}  # fmt: skip
    if type_id == "integer":
        value = given.get("DEFAULT_VALUE")
        default_int = None if value in (None, "") else to_int(value, 0)
        return {"SIZE": 20, "MIN_VALUE": 0, "MAX_VALUE": 0, "DEFAULT_VALUE": default_int}
    if type_id == "double":
        precision = to_int(given.get("PRECISION"), 2)
        value = given.get("DEFAULT_VALUE")
        default = None if value in (None, "") else _number(value)
        return {"PRECISION": precision if precision >= 0 else 2, "SIZE": 20, "MIN_VALUE": 0, "MAX_VALUE": 0,
                "DEFAULT_VALUE": default}  # fmt: skip
    if type_id == "boolean":
        display = str(given.get("DISPLAY") or "").upper()
        return {"DEFAULT_VALUE": 1 if to_int(given.get("DEFAULT_VALUE"), 0) > 0 else 0,
                "DISPLAY": display or "CHECKBOX", "LABEL": ["", ""]}  # fmt: skip
    if type_id in ("date", "datetime"):
        return {"DEFAULT_VALUE": _default_datetime(given.get("DEFAULT_VALUE", {}))}
    if type_id == "enumeration":
        height = to_int(given.get("LIST_HEIGHT"), 0)
        return {"DISPLAY": str(given.get("DISPLAY") or "LIST").upper(), "LIST_HEIGHT": height if height > 0 else 1,
                "CAPTION_NO_VALUE": "", "SHOW_NO_VALUE": "Y"}  # fmt: skip
    if type_id == "money":
        return {"DEFAULT_VALUE": str(given.get("DEFAULT_VALUE") or "")}
    if type_id == "crm_status":
        return {"ENTITY_TYPE": str(given.get("ENTITY_TYPE") or "")}
    if type_id == "crm":
        return {key: "Y" if yes(given.get(key)) else "N" for key in ("LEAD", "CONTACT", "COMPANY", "DEAL")}
    return {}


def settings_for_update(type_id: str, stored: dict[str, Any], raw: Any) -> dict[str, Any]:
    """Only the settings sent change ("The field only overwrites the passed values")."""
    given = raw if isinstance(raw, dict) else {}
    result = dict(stored)
    fresh = settings_for_add(type_id, given)
    for key in given:
        if key in fresh:
            result[key] = fresh[key]
    if type_id == "string" and "ROWS" in given:
        result["ROWS"] = min(max(to_int(given["ROWS"], 1), 1), 50)  # UserFieldProxy::update clamps to 1..50
    return result


def _number(value: Any) -> int | float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else number


# --- Enumeration values --------------------------------------------------------------------------


def _next_enum_id() -> int:
    """Enumeration value IDs are unique across the portal; the Portal row lock serialises writers."""
    Portal.objects.select_for_update().first()
    highest = 0
    for items in DealUserField.objects.values_list("items", flat=True):
        for item in items if isinstance(items, list) else []:
            highest = max(highest, to_int(item.get("ID") if isinstance(item, dict) else None, 0))
    return highest + 1


def _item_text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    return value.strip(" \t\n\r") if isinstance(value, str) else "" if value is None else str(value)


def _sort(item: dict[str, Any], default: int) -> int:
    sort = to_int(item.get("SORT"), 0)
    return sort if sort > 0 else default


def _check_xml_ids(items: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for item in items:
        xml_id = item.get("XML_ID") or ""
        if xml_id and xml_id in seen:
            raise UserFieldError("ERROR_CORE", f"List item with value XML_ID={xml_id} already exists.")
        seen.add(xml_id)


def _apply_default(items: list[dict[str, Any]], default_key: int | None, multiple: bool) -> None:
    """A single field has one default: the first item sent with DEF = Y."""
    if not multiple and default_key is not None:
        for item in items:
            item["DEF"] = "Y" if int(item["ID"]) == default_key else "N"


def list_for_add(raw: Any, *, multiple: bool) -> list[dict[str, Any]]:
    """LIST of crm.deal.userfield.add: items without a VALUE are ignored."""
    items: list[dict[str, Any]] = []
    default_key: int | None = None
    next_id = _next_enum_id()
    for source in raw if isinstance(raw, list) else list(raw.values()) if isinstance(raw, dict) else []:
        if not isinstance(source, dict) or _item_text(source, "VALUE") == "":
            continue
        is_default = yes(source.get("DEF"))
        item = {
            "ID": str(next_id), "SORT": str(_sort(source, 0)), "VALUE": _item_text(source, "VALUE"),
            "DEF": "Y" if is_default and multiple else "N", "XML_ID": _item_text(source, "XML_ID") or None,
        }  # fmt: skip
        if is_default and default_key is None:
            default_key = next_id
        items.append(item)
        next_id += 1
    _apply_default(items, default_key, multiple)
    _check_xml_ids(items)
    return items


def list_for_update(stored: list[dict[str, Any]], raw: Any, *, multiple: bool) -> list[dict[str, Any]]:
    """LIST of crm.deal.userfield.update: `ID` changes that value, `DEL: Y` with an ID deletes it,
    other items are added; values not mentioned are kept (CUserFieldEnum::SetEnumValues)."""
    items = [dict(item) for item in stored]
    by_id = {str(item["ID"]): item for item in items}
    default_key: int | None = None
    next_id = _next_enum_id()
    for source in raw if isinstance(raw, list) else list(raw.values()) if isinstance(raw, dict) else []:
        if not isinstance(source, dict):
            continue
        key = str(to_int(source.get("ID"), 0))
        target = by_id.get(key)
        if target is not None and yes(source.get("DEL")):
            items.remove(target)
            del by_id[key]
            continue
        value = _item_text(source, "VALUE")
        if target is None:
            if value == "":
                continue
            target = {"ID": str(next_id), "SORT": "0", "VALUE": value, "DEF": "N", "XML_ID": None}
            items.append(target)
            by_id[target["ID"]] = target
            next_id += 1
        elif value:
            target["VALUE"] = value
        if to_int(source.get("SORT"), 0) > 0:
            target["SORT"] = str(to_int(source["SORT"], 0))
        if _item_text(source, "XML_ID"):
            target["XML_ID"] = _item_text(source, "XML_ID")
        if "DEF" in source:
            if multiple:
                target["DEF"] = "Y" if yes(source["DEF"]) else "N"
            elif yes(source["DEF"]) and default_key is None:
                default_key = int(target["ID"])
    _apply_default(items, default_key, multiple)
    _check_xml_ids(items)
    items.sort(key=lambda item: (to_int(item.get("SORT"), 0), to_int(item.get("ID"), 0)))
    return items


# --- How a field is sent -------------------------------------------------------------------------


def field_json(field: DealUserField, *, lang: str | None = None) -> dict[str, Any]:
    """crm.deal.userfield.get (texts as lang maps) or .list (texts only with filter.LANG, as strings)."""
    result: dict[str, Any] = {
        "ID": str(field.pk),
        "ENTITY_ID": ENTITY_ID,
        "FIELD_NAME": field.field_name,
        "USER_TYPE_ID": field.user_type_id,
        "XML_ID": field.xml_id,
        "SORT": str(field.sort),
        "MULTIPLE": field.multiple,
        "MANDATORY": field.mandatory,
        "SHOW_FILTER": field.show_filter,
        "SHOW_IN_LIST": field.show_in_list,
        "EDIT_IN_LIST": field.edit_in_list,
        "IS_SEARCHABLE": field.is_searchable,
        "SETTINGS": field.settings or settings_for_add(field.user_type_id, {}),
    }
    for kind in LABEL_KINDS:
        if lang is None:
            result[kind] = {code: label(field, kind, code) for code in LANGUAGES}
        elif lang in LANGUAGES:
            result[kind] = label(field, kind, lang) or None
    if field.user_type_id == "enumeration":
        result["LIST"] = [enum_json(item) for item in sorted_items(field)]
    return result


def sorted_items(field: DealUserField) -> list[dict[str, Any]]:
    """Enumeration values in the portal's order: by SORT, then ID (CUserFieldEnum::GetList)."""
    items = [item for item in field.items if isinstance(item, dict)] if isinstance(field.items, list) else []
    return sorted(items, key=lambda item: (to_int(item.get("SORT"), 0), to_int(item.get("ID"), 0)))


def enum_json(item: dict[str, Any]) -> dict[str, Any]:
    return {"ID": str(item.get("ID", "")), "SORT": str(item.get("SORT", "0")), "VALUE": str(item.get("VALUE", "")),
            "DEF": str(item.get("DEF", "N")), "XML_ID": item.get("XML_ID")}  # fmt: skip
