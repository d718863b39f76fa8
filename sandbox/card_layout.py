"""Deal card layouts: the built-in default, validation of a layout sent to the portal, and which
layout a user sees.

A layout is a list of sections `{name, title, type: "section", elements: [{name, optionFlags?,
options?}]}` (bitrix24-protocol.md §8.1, deals-api-spec.md §8 and A.3). Validation follows the
portal's own `Bitrix\\Crm\\Entity\\EntityEditorConfig::check()` and `sanitize()` (the error texts are
the ones that code and the docs' response samples show); on top of it the sandbox bounds the size
of a layout, which the real portal leaves to its request limits.

Pure helpers, except `stored_layout` / `effective_layout`, which read `CardConfig`. Used by the
`crm.*.details.configuration.*` methods and by the portal's deal card page.
"""

from __future__ import annotations

import json
from copy import deepcopy
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.models import CardConfig

MAX_SECTIONS = 100
MAX_ELEMENTS = 200
MAX_TEXT = 255
MAX_OPTIONS_CHARS = 2000


def section(name: str, title: str, *elements: str | tuple[str, str], flags: str | None = "0") -> dict[str, Any]:
    """A layout section in crm.deal.details.configuration's shape. An element is its name, with
    `flags` as its optionFlags (None: no optionFlags key), or a (name, optionFlags) pair."""
    return {
        "name": name,
        "title": title,
        "type": "section",
        "elements": [_element(element, flags) for element in elements],
    }


def _element(element: str | tuple[str, str], flags: str | None) -> dict[str, Any]:
    if isinstance(element, tuple):
        return {"name": element[0], "optionFlags": element[1]}
    return {"name": element} if flags is None else {"name": element, "optionFlags": flags}


# The default layout of a new portal's deal card, as the newer docs' sample shows it (A.3).
_DEFAULT_LAYOUT: list[dict[str, Any]] = [
    section("main", "About the deal", "TITLE", "OPPORTUNITY_WITH_CURRENCY", "STAGE_ID", "CLOSEDATE", "CLIENT"),
    section(
        "additional",
        "Additional",
        "TYPE_ID",
        ("SOURCE_ID", "1"),
        "SOURCE_DESCRIPTION",
        "BEGINDATE",
        "OPENED",
        "ASSIGNED_BY_ID",
        "OBSERVER",
        "COMMENTS",
        "UTM",
    ),
    section("products", "Products", "PRODUCT_ROW_SUMMARY"),
    section("recurring", "Recurring deal", "RECURRING"),
]


class LayoutError(ValueError):
    """A layout the portal refuses; `message` is the exact error_description it answers with."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Element:
    name: str
    option_flags: str | None = None
    options: dict[str, Any] | list[Any] | None = None

    def as_wire(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.option_flags is not None:
            data["optionFlags"] = self.option_flags
        if self.options is not None:
            data["options"] = self.options
        return data


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    elements: tuple[Element, ...]

    def as_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "type": "section",
            "elements": [element.as_wire() for element in self.elements],
        }


def default_layout() -> list[dict[str, Any]]:
    """The built-in layout a funnel shows when nobody stored one (a fresh copy each call)."""
    return deepcopy(_DEFAULT_LAYOUT)


# --- Validation ------------------------------------------------------------------------------------


def prepare_layout(data: Any) -> list[dict[str, Any]]:
    """Check `data` as crm.deal.details.configuration.set does and return what the portal stores.

    Order of checks and texts as `CCrmEntityEditorRestProxy` + `EntityEditorConfig::check()`:
    not an array → "Parameter 'data' must be array."; empty → "There are no data to write."; keys
    not 0..n-1 → "The data must be indexed array."; then section by section. What survives is
    sanitized: unknown keys are dropped, `optionFlags` kept only when numeric (and stored as a
    string, as the portal returns it), `options` only when an array. Element names are not checked
    against the deal's fields: the portal stores any name.
    """
    if not isinstance(data, list | dict):
        raise LayoutError("Parameter 'data' must be array.")
    if isinstance(data, dict) and data:
        data = _unwrap_column_dict(data)
    data = _unwrap_column(data)
    if not data:
        raise LayoutError("There are no data to write.")
    sections = _as_indexed(data)
    if sections is None:
        raise LayoutError("The data must be indexed array.")
    if len(sections) > MAX_SECTIONS:
        raise LayoutError(f"The data must not contain more than {MAX_SECTIONS} sections.")
    prepared = [_check_section(index, raw) for index, raw in enumerate(sections)]
    return [section.as_wire() for section in prepared]


def _unwrap_column_dict(data: dict[str, Any]) -> Any:
    indexed = _as_indexed(data)
    return indexed if indexed is not None else data


def _unwrap_column(data: Any) -> Any:
    # "Compatibility mode" of EntityEditorConfig::normalize(): a layout saved by the UI is wrapped
    # in one column `[{type: "column", elements: [sections]}]`; the REST layer unwraps it.
    if isinstance(data, list) and data and isinstance(data[0], dict) and data[0].get("type") == "column":
        inner = data[0].get("elements")
        return inner if isinstance(inner, list | dict) else []
    return data


def _as_indexed(value: Any) -> list[Any] | None:
    """A PHP array with keys exactly 0..n-1 (in any order) as a list; None when it is not one."""
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        return None
    keys = list(value)
    if not all(isinstance(k, str) and k.isdigit() for k in keys):
        return None
    if sorted(int(k) for k in keys) != list(range(len(keys))):
        return None
    return [value[str(i)] for i in range(len(keys))]


def _php_string(value: Any) -> str | None:
    """How PHP would print a scalar (None when it is unset or not a scalar)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_section(index: int, raw: Any) -> Section:
    section = raw if isinstance(raw, dict) else {}
    kind = section.get("type")
    if isinstance(kind, dict | list):
        kind_text: str | None = "Array"  # PHP prints an array as "Array"
    else:
        kind_text = _php_string(kind)
    if kind_text is not None and kind_text.strip() != "" and kind_text != "section":
        raise LayoutError(f"Section at index {index} have type '{kind_text}'. The expected type is 'section'.")
    name = _php_string(section.get("name"))
    if name is None or name.strip() == "":
        raise LayoutError(f"Section at index {index} does not have name.")
    title = _php_string(section.get("title"))
    if title is None or title.strip() == "":
        raise LayoutError(f"Section at index {index} does not have title.")
    if len(name) > MAX_TEXT:
        raise LayoutError(f"Section at index {index} has a name longer than {MAX_TEXT} characters.")
    if len(title) > MAX_TEXT:
        raise LayoutError(f"Section at index {index} has a title longer than {MAX_TEXT} characters.")
    elements = _section_elements(index, section.get("elements"))
    return Section(name=name, title=title, elements=elements)


def _section_elements(section_index: int, raw: Any) -> tuple[Element, ...]:
    if not isinstance(raw, list | dict):
        return ()
    count = len(raw)
    if count > MAX_ELEMENTS:
        raise LayoutError(f"Section at index {section_index} must not contain more than {MAX_ELEMENTS} elements.")
    # PHP walks $elements[0..count-1]; a missing index is an element without a name.
    items = raw if isinstance(raw, list) else [raw.get(str(j)) for j in range(count)]
    return tuple(_check_element(section_index, j, item) for j, item in enumerate(items))


def _check_element(section_index: int, index: int, raw: Any) -> Element:
    element = raw if isinstance(raw, dict) else {}
    name = _php_string(element.get("name"))
    if name is None or name.strip() == "":
        raise LayoutError(f"Element at index {index} in section at index {section_index} does not have name.")
    if len(name) > MAX_TEXT:
        raise LayoutError(
            f"Element at index {index} in section at index {section_index} has a name longer than "
            f"{MAX_TEXT} characters."
        )
    options = element.get("options")
    if not isinstance(options, dict | list):
        options = None
    elif len(json.dumps(options, ensure_ascii=False)) > MAX_OPTIONS_CHARS:
        raise LayoutError(
            f"Element at index {index} in section at index {section_index} has options longer than "
            f"{MAX_OPTIONS_CHARS} characters."
        )
    return Element(name=name, option_flags=_option_flags(element.get("optionFlags")), options=options)


def _option_flags(value: Any) -> str | None:
    """optionFlags is written as an int (1/0) and read back as a string ("1"/"0"); non-numbers drop."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        return text if number.is_finite() else None
    return None


# --- Reading ---------------------------------------------------------------------------------------


def wire_layout(data: Any) -> list[dict[str, Any]] | None:
    """A stored layout as the get methods send it: optionFlags always a string."""
    if not isinstance(data, list):
        return None
    result: list[dict[str, Any]] = []
    for section in data:
        if not isinstance(section, dict):
            continue
        copy = deepcopy(section)
        elements = copy.get("elements")
        if isinstance(elements, list):
            for element in elements:
                if isinstance(element, dict) and isinstance(element.get("optionFlags"), int | float):
                    element["optionFlags"] = _option_flags(element["optionFlags"])
        result.append(copy)
    return result


def stored_layout(*, category_id: int, scope: str, user_id: int | None) -> list[dict[str, Any]] | None:
    """The layout stored for exactly this funnel and scope (and user, for P), or None."""
    owner = user_id if scope == CardConfig.Scope.PERSONAL else None
    config = CardConfig.objects.filter(category_id=category_id, scope=scope, user_id=owner).first()
    return None if config is None else wire_layout(config.data)


def effective_layout(*, category_id: int, user_id: int) -> list[dict[str, Any]]:
    """What `user_id` sees on a deal card of funnel `category_id`: their own layout if stored, else
    the common one, else the built-in default."""
    personal = stored_layout(category_id=category_id, scope=CardConfig.Scope.PERSONAL, user_id=user_id)
    if personal:
        return personal
    common = stored_layout(category_id=category_id, scope=CardConfig.Scope.COMMON, user_id=None)
    if common:
        return common
    return default_layout()
