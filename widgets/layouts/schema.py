"""The deal card layout as a typed schema: parse, validate, edit and send (house style rule 20).

A layout is what crm.deal.details.configuration.get/set carry: a list of sections
`{name, title, type: "section", elements: [{name, optionFlags?, options?}]}` (bitrix24-protocol.md
§8.1, deals-api-spec.md §8). Nothing here talks to Bitrix24 or Django: the views parse what the
browser sent, validate it against the portal's deal fields and only then send it.

Two steps, on purpose:
- `layout_parse` checks the *shape* (the JSON could be anything: an import, a tampered form) and
  refuses what cannot be a layout at all, including the size limits;
- `layout_problems` lists what a person must fix before saving (unknown or repeated fields, empty
  sections, bad titles). A layout with problems can still be shown and edited, so a layout stored
  on the portal by someone else (the portal stores any field name) opens in the editor.

Markup in titles is *rejected*, not escaped: Bitrix24 shows section titles in its own UI, and
"<b>Deal</b>" stored there would read as literal tags to every sales rep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, pgettext

MAX_JSON_BYTES = 256 * 1024
MAX_SECTIONS = 100
MAX_FIELDS_PER_SECTION = 200
MAX_TITLE = 255
MAX_SECTION_NAME = 64
MAX_OPTIONS_CHARS = 2000
MAX_REPORTED = 20  # problems listed at once; more only bury the first ones

# Card pseudo-fields: not in crm.deal.fields but valid element names (protocol §8.1). Their labels
# are kept in English (the catalogue is cached for every reader) and translated when shown.
PSEUDO_FIELDS: dict[str, str] = {
    "OPPORTUNITY_WITH_CURRENCY": gettext_noop("Amount and currency"),
    "CLIENT": gettext_noop("Client"),
    "PRODUCT_ROW_SUMMARY": gettext_noop("Products"),
    "RECURRING": gettext_noop("Recurring deal"),
    "UTM": gettext_noop("UTM parameters"),
    "OBSERVER": gettext_noop("Observers"),
}
_SECTION_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_MARKUP = re.compile(r"[<>]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Problem:
    message: str
    section: int | None = None
    element: int | None = None


class LayoutInvalid(ValueError):
    """Not a layout at all (parse) or not one to send (check); `problems` say why, for people."""

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        self.problems = [Problem(problems)] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(p.message for p in self.problems))


@dataclass(frozen=True)
class Element:
    name: str
    option_flags: int = 0  # 1 = always show the field, even when empty
    options: str = ""  # field-specific options as compact JSON, kept as read ("" = none)


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    elements: tuple[Element, ...] = ()


@dataclass(frozen=True)
class Layout:
    sections: tuple[Section, ...]

    def field_names(self) -> list[str]:
        return [e.name for s in self.sections for e in s.elements]


# --- the built-in layout --------------------------------------------------------------------------

# What a Bitrix24 deal card shows when nothing is stored (the docs' get sample, deals-api-spec A.3).
_DEFAULT: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("main", "About the deal", ("TITLE", "OPPORTUNITY_WITH_CURRENCY", "STAGE_ID", "CLOSEDATE", "CLIENT")),
    (
        "additional",
        "Additional",
        (
            "TYPE_ID",
            "SOURCE_ID",
            "SOURCE_DESCRIPTION",
            "BEGINDATE",
            "OPENED",
            "ASSIGNED_BY_ID",
            "OBSERVER",
            "COMMENTS",
            "UTM",
        ),
    ),
    ("products", "Products", ("PRODUCT_ROW_SUMMARY",)),
    ("recurring", "Recurring deal", ("RECURRING",)),
)


def layout_default() -> Layout:
    return Layout(
        tuple(
            # In the reader's language, as Bitrix24 shows its own default to them.
            Section(
                name, pgettext("card section", title), tuple(Element(f, 1 if f == "SOURCE_ID" else 0) for f in fields)
            )
            for name, title, fields in _DEFAULT
        )
    )


# --- JSON in and out ------------------------------------------------------------------------------


def layout_too_large() -> str:
    return _("The layout is too large: at most %(n)s KB of JSON.") % {"n": MAX_JSON_BYTES // 1024}


def _no_constants(token: str) -> Any:
    raise ValueError(f"{token} is not allowed")


def layout_json_load(text: str | bytes) -> Any:
    """JSON from a person (an import) or a form: size first, then a parser that cannot blow up."""
    size = len(text.encode("utf-8", "replace") if isinstance(text, str) else text)
    if size > MAX_JSON_BYTES:
        raise LayoutInvalid(layout_too_large())
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise LayoutInvalid(_("The file is not UTF-8 text.")) from exc
    if not text.strip():
        raise LayoutInvalid(_("There is no JSON to read: paste a layout or choose a file."))
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        where = {"line": exc.lineno, "column": exc.colno}
        raise LayoutInvalid(_("This is not valid JSON (line %(line)s, column %(column)s).") % where) from exc
    except (ValueError, RecursionError) as exc:  # NaN, 5000-digit numbers, 100 000 nested brackets
        raise LayoutInvalid(_("This is not JSON a layout could be made of.")) from exc


def layout_to_api(layout: Layout) -> list[dict[str, Any]]:
    """`data` for crm.deal.details.configuration.set: optionFlags as an int on write (§8.1)."""
    sections = []
    for section in layout.sections:
        elements = []
        for element in section.elements:
            item: dict[str, Any] = {"name": element.name, "optionFlags": element.option_flags}
            if element.options:
                item["options"] = json.loads(element.options)
            elements.append(item)
        sections.append({"name": section.name, "title": section.title, "type": "section", "elements": elements})
    return sections


# --- parsing: is this a layout at all? -------------------------------------------------------------


def _unwrap(data: Any) -> Any:
    if isinstance(data, dict) and "data" in data:
        data = data["data"]  # our export file, or a whole set call's params
    # A layout saved by the portal's own UI may come wrapped in one column (EntityEditorConfig).
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict) and data[0].get("type") == "column":
        data = data[0].get("elements")
    return data


def layout_parse(data: Any) -> Layout:
    """Build a Layout from decoded JSON; LayoutInvalid lists every shape problem found."""
    data = _unwrap(data)
    if not isinstance(data, list):
        raise LayoutInvalid(_('Expected a list of sections (or an object with a "data" list).'))
    if len(data) > MAX_SECTIONS:
        raise LayoutInvalid(
            _("The layout has %(count)s sections; a card can have at most %(n)s.")
            % {"count": len(data), "n": MAX_SECTIONS}
        )
    problems: list[Problem] = []
    sections = [_parse_section(i, raw, problems) for i, raw in enumerate(data)]
    if problems:
        raise LayoutInvalid(problems[:MAX_REPORTED])
    return Layout(tuple(s for s in sections if s is not None))


def _parse_section(index: int, raw: Any, problems: list[Problem]) -> Section | None:
    where = {"where": _("Section %(n)s") % {"n": index + 1}}
    if not isinstance(raw, dict):
        problems.append(Problem(_("%(where)s is not an object with a name, a title and elements.") % where, index))
        return None
    name, title, kind = raw.get("name"), raw.get("title"), raw.get("type", "section")
    if not isinstance(name, str) or not isinstance(title, str):
        problems.append(Problem(_("%(where)s needs a text name and a text title.") % where, index))
        return None
    if kind not in ("section", None, ""):
        message = _('%(where)s has type %(type)s; only "section" is possible.') % {
            **where,
            "type": repr(str(kind)[:40]),
        }
        problems.append(Problem(message, index))
        return None
    elements = raw.get("elements", [])
    if elements is None:
        elements = []
    if not isinstance(elements, list):
        problems.append(Problem(_('%(where)s: "elements" must be a list of fields.') % where, index))
        return None
    if len(elements) > MAX_FIELDS_PER_SECTION:
        counts = {**where, "count": len(elements), "n": MAX_FIELDS_PER_SECTION}
        problems.append(Problem(_("%(where)s has %(count)s fields; at most %(n)s fit in a section.") % counts, index))
        return None
    parsed = [_parse_element(index, j, item, problems) for j, item in enumerate(elements)]
    return Section(name=name, title=title, elements=tuple(e for e in parsed if e is not None))


def _parse_element(section: int, index: int, raw: Any, problems: list[Problem]) -> Element | None:
    where = {"where": _("Field %(field)s of section %(section)s") % {"field": index + 1, "section": section + 1}}
    name = raw.get("name") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or not isinstance(name, str) or not name.strip():
        problems.append(Problem(_("%(where)s has no field name.") % where, section, index))
        return None
    flags = raw.get("optionFlags", 0)
    if flags in (None, ""):
        flags = 0
    # optionFlags is an int on write and a string on read (§8.1); only 0 and 1 mean anything.
    if isinstance(flags, bool) or str(flags) not in ("0", "1"):
        problems.append(Problem(_("%(where)s: optionFlags must be 0 or 1.") % where, section, index))
        return None
    options = raw.get("options")
    text = ""
    if options not in (None, [], {}):
        if not isinstance(options, dict):
            problems.append(Problem(_("%(where)s: options must be an object.") % where, section, index))
            return None
        text = json.dumps(options, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        if len(text) > MAX_OPTIONS_CHARS:
            message = _("%(where)s: options are longer than %(n)s characters.") % {**where, "n": MAX_OPTIONS_CHARS}
            problems.append(Problem(message, section, index))
            return None
    return Element(name=name.strip(), option_flags=int(str(flags)), options=text)


# --- validation: may this be sent? -----------------------------------------------------------------


def title_problem(title: str, section: str = "") -> str | None:
    """Why a section title cannot be used, as a sentence about `section` (its shown name), or None.

    Whole sentences, not fragments: a translation needs the sentence to order its words."""
    shown = {"section": section, "n": MAX_TITLE}
    if not title.strip():
        return _("%(section)s needs a title.") % shown
    if len(title) > MAX_TITLE:
        return _("%(section)s has a title longer than %(n)s characters.") % shown
    if _MARKUP.search(title):
        return _("%(section)s has < or > in its title; markup is not allowed in titles.") % shown
    if _CONTROL.search(title):
        return _("%(section)s has control characters in its title.") % shown
    return None


def layout_problems(layout: Layout, *, known_fields: Collection[str]) -> list[Problem]:
    problems: list[Problem] = []
    if not layout.sections:
        problems.append(Problem(_("The card has no sections: add at least one section with a field.")))
    if len(layout.sections) > MAX_SECTIONS:
        problems.append(Problem(_("A card can have at most %(n)s sections.") % {"n": MAX_SECTIONS}))
    seen_sections: set[str] = set()
    placed: dict[str, str] = {}
    for i, section in enumerate(layout.sections):
        shown = _shown_title(section, i)
        reason = title_problem(section.title, shown)
        if reason:
            problems.append(Problem(reason, i))
        problems += _section_problems(section, i, shown, seen_sections)
        seen_sections.add(section.name)
        for j, element in enumerate(section.elements):
            if element.name not in known_fields:
                message = _("“%(field)s” in %(section)s is not a deal field on this portal.")
                problems.append(Problem(message % {"field": element.name[:80], "section": shown}, i, j))
            elif element.name in placed:
                message = _("“%(field)s” is placed twice: in %(first)s and %(section)s.")
                where = {"field": element.name, "first": placed[element.name], "section": shown}
                problems.append(Problem(message % where, i, j))
            placed.setdefault(element.name, shown)
    return [replace(p, message=p.message[:1].upper() + p.message[1:]) for p in problems[:MAX_REPORTED]]


def _section_problems(section: Section, i: int, shown: str, seen: set[str]) -> list[Problem]:
    """What is wrong with a section itself: its internal name and how many fields it holds."""
    problems: list[Problem] = []
    if not _SECTION_NAME.match(section.name) or len(section.name) > MAX_SECTION_NAME:
        problems.append(Problem(_("%(section)s has an invalid internal name.") % {"section": shown}, i))
    elif section.name in seen:
        problems.append(
            Problem(_("%(section)s has the same internal name as another section.") % {"section": shown}, i)
        )
    if not section.elements:
        problems.append(
            Problem(_("%(section)s has no fields: add a field or remove the section.") % {"section": shown}, i)
        )
    if len(section.elements) > MAX_FIELDS_PER_SECTION:
        counts = {"section": shown, "n": MAX_FIELDS_PER_SECTION}
        problems.append(Problem(_("%(section)s has more than %(n)s fields.") % counts, i))
    return problems


def _shown_title(section: Section, index: int) -> str:
    title = section.title.strip()
    if not title or title_problem(title):
        return _("section %(n)s") % {"n": index + 1}
    return f"“{title[:60]}”"


def layout_check(data: Any, *, known_fields: Collection[str]) -> Layout:
    """Parse and validate in one go (imports); LayoutInvalid unless the layout may be sent."""
    layout = layout_parse(data)
    problems = layout_problems(layout, known_fields=known_fields)
    if problems:
        raise LayoutInvalid(problems)
    return layout
