"""What changed between two card layouts, as sentences a manager reads (not a JSON diff).

Sections are matched by their internal name (a renamed section keeps it), fields by field name.
A reorder reports only the items that really moved: the longest run kept in the same relative
order stays silent, everything else "moved".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from widgets.layouts.schema import Layout, Section


@dataclass(frozen=True)
class Change:
    kind: str  # added | removed | renamed | moved | flag
    text: str


def _kept_in_order(old: Sequence[str], new: Sequence[str]) -> set[str]:
    """The longest common subsequence of two sequences of distinct names."""
    rows, cols = len(old), len(new)
    table = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            if old[i] == new[j]:
                table[i][j] = table[i + 1][j + 1] + 1
            else:
                table[i][j] = max(table[i + 1][j], table[i][j + 1])
    kept: set[str] = set()
    i = j = 0
    while i < rows and j < cols:
        if old[i] == new[j]:
            kept.add(old[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return kept


def _quoted(text: str) -> str:
    return f"“{text}”"


def layout_diff(old: Layout, new: Layout, *, label: Callable[[str], str]) -> list[Change]:
    changes = _section_changes(old, new)
    changes += _field_changes(old, new, label)
    return changes


def _section_changes(old: Layout, new: Layout) -> list[Change]:
    before = {s.name: s for s in old.sections}
    after = {s.name: s for s in new.sections}
    changes: list[Change] = []
    for section in new.sections:
        if section.name not in before:
            changes.append(Change("added", _("Section %(section)s added") % {"section": _quoted(section.title)}))
    for section in old.sections:
        if section.name not in after:
            changes.append(Change("removed", _section_removed(section)))
        elif after[section.name].title != section.title:
            names = {"old": _quoted(section.title), "new": _quoted(after[section.name].title)}
            changes.append(Change("renamed", _("Section %(old)s renamed to %(new)s") % names))
    old_order = [s.name for s in old.sections if s.name in after]
    new_order = [s.name for s in new.sections if s.name in before]
    kept = _kept_in_order(old_order, new_order)
    for position, name in enumerate(new_order, start=1):
        if name not in kept:
            where = {"section": _quoted(after[name].title), "n": position}
            changes.append(Change("moved", _("Section %(section)s moved to position %(n)s") % where))
    return changes


def _section_removed(section: Section) -> str:
    count, shown = len(section.elements), {"section": _quoted(section.title), "count": len(section.elements)}
    if not count:
        return _("Section %(section)s removed") % shown
    return (
        ngettext(
            "Section %(section)s removed with its %(count)s field",
            "Section %(section)s removed with its %(count)s fields",
            count,
        )
        % shown
    )


def _places(layout: Layout) -> dict[str, tuple[Section, int]]:
    places: dict[str, tuple[Section, int]] = {}
    for section in layout.sections:
        for index, element in enumerate(section.elements):
            places.setdefault(element.name, (section, index))
    return places


def _field_changes(old: Layout, new: Layout, label: Callable[[str], str]) -> list[Change]:
    before, after = _places(old), _places(new)
    changes: list[Change] = []
    for name, (section, _index) in after.items():
        if name not in before:
            shown = {"field": _quoted(label(name)), "section": _quoted(section.title)}
            changes.append(Change("added", _("Field %(field)s added to %(section)s") % shown))
    for name, (section, _index) in before.items():
        if name not in after:
            shown = {"field": _quoted(label(name)), "section": _quoted(section.title)}
            changes.append(Change("removed", _("Field %(field)s removed from %(section)s") % shown))
    for name, (section, _index) in after.items():
        if name in before and before[name][0].name != section.name:
            shown = {
                "field": _quoted(label(name)),
                "old": _quoted(before[name][0].title),
                "new": _quoted(section.title),
            }
            changes.append(Change("moved", _("Field %(field)s moved from %(old)s to %(new)s") % shown))
    changes += _reorders(old, new, before, after, label)
    changes += _flag_changes(old, new, label)
    return changes


def _reorders(
    old: Layout,
    new: Layout,
    before: dict[str, tuple[Section, int]],
    after: dict[str, tuple[Section, int]],
    label: Callable[[str], str],
) -> list[Change]:
    changes: list[Change] = []
    old_sections = {s.name: s for s in old.sections}
    for section in new.sections:
        previous = old_sections.get(section.name)
        if previous is None:
            continue
        # Only fields that were in this very section before and still are.
        stayed = [e.name for e in section.elements if e.name in before and before[e.name][0].name == previous.name]
        old_order = [e.name for e in previous.elements if e.name in stayed]
        kept = _kept_in_order(old_order, stayed)
        for name in stayed:
            if name not in kept:
                position = after[name][1] + 1
                shown = {"field": _quoted(label(name)), "n": position, "section": _quoted(section.title)}
                changes.append(Change("moved", _("Field %(field)s moved to position %(n)s in %(section)s") % shown))
    return changes


def _flag_changes(old: Layout, new: Layout, label: Callable[[str], str]) -> list[Change]:
    flags = {e.name: e.option_flags for s in old.sections for e in s.elements}
    changes: list[Change] = []
    for section in new.sections:
        for element in section.elements:
            was = flags.get(element.name)
            if was is not None and was != element.option_flags:
                shown = {"field": _quoted(label(element.name))}
                text = _("Field %(field)s is now always shown") if element.option_flags else None
                text = text or _("Field %(field)s is no longer always shown")
                changes.append(Change("flag", text % shown))
    return changes
