"""Edits a person makes in the layout editor, as pure functions from one Layout to the next.

The editor is stateless on the server: the browser posts the whole working layout with each
button, these functions apply the one change, and the page shows the result. Indices come from a
form and may be stale or forged, so every one is checked (LayoutOpError, shown as a message).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from django.utils.translation import gettext as _

from widgets.layouts.schema import MAX_FIELDS_PER_SECTION, MAX_SECTIONS, Element, Layout, Section, title_problem


class LayoutOpError(ValueError):
    """An edit that does not apply to this layout (a stale or forged button)."""


def _section_at(layout: Layout, index: int) -> Section:
    if not 0 <= index < len(layout.sections):
        raise LayoutOpError(_("That section is no longer on the card."))
    return layout.sections[index]


def _with_section(layout: Layout, index: int, section: Section) -> Layout:
    sections = list(layout.sections)
    sections[index] = section
    return Layout(tuple(sections))


def sections_retitle(layout: Layout, titles: Sequence[str]) -> Layout:
    """Titles typed into the editor, one per section in order; ignored when they do not line up."""
    if len(titles) != len(layout.sections):
        return layout
    return Layout(tuple(replace(s, title=t.strip()) for s, t in zip(layout.sections, titles, strict=True)))


def section_add(layout: Layout, title: str) -> Layout:
    if len(layout.sections) >= MAX_SECTIONS:
        raise LayoutOpError(_("A card can have at most %(n)s sections.") % {"n": MAX_SECTIONS})
    taken = {s.name for s in layout.sections}
    number = len(layout.sections) + 1
    while f"section_{number}" in taken:
        number += 1
    return Layout((*layout.sections, Section(f"section_{number}", title.strip())))


def section_remove(layout: Layout, index: int) -> Layout:
    _section_at(layout, index)
    return Layout(layout.sections[:index] + layout.sections[index + 1 :])


def section_move(layout: Layout, index: int, delta: int) -> Layout:
    _section_at(layout, index)
    target = index + delta
    if not 0 <= target < len(layout.sections):
        return layout
    sections = list(layout.sections)
    sections[index], sections[target] = sections[target], sections[index]
    return Layout(tuple(sections))


def field_add(layout: Layout, section: int, name: str) -> Layout:
    target = _section_at(layout, section)
    if name in layout.field_names():
        raise LayoutOpError(_("That field is already on the card."))
    if len(target.elements) >= MAX_FIELDS_PER_SECTION:
        raise LayoutOpError(_("A section can hold at most %(n)s fields.") % {"n": MAX_FIELDS_PER_SECTION})
    return _with_section(layout, section, replace(target, elements=(*target.elements, Element(name))))


def field_remove(layout: Layout, section: int, index: int) -> Layout:
    target = _section_at(layout, section)
    if not 0 <= index < len(target.elements):
        raise LayoutOpError(_("That field is no longer in this section."))
    elements = target.elements[:index] + target.elements[index + 1 :]
    return _with_section(layout, section, replace(target, elements=elements))


def field_move(layout: Layout, section: int, index: int, delta: int) -> Layout:
    """Up/down by one; past the top or bottom of a section the field moves into the neighbour."""
    source = _section_at(layout, section)
    if not 0 <= index < len(source.elements):
        raise LayoutOpError(_("That field is no longer in this section."))
    element = source.elements[index]
    target = index + delta
    if 0 <= target < len(source.elements):
        swapped = list(source.elements)
        swapped[index], swapped[target] = swapped[target], swapped[index]
        return _with_section(layout, section, replace(source, elements=tuple(swapped)))
    neighbour = section + (1 if delta > 0 else -1)
    if not 0 <= neighbour < len(layout.sections):
        return layout
    moved = field_remove(layout, section, index)
    other = moved.sections[neighbour]
    elements = (element, *other.elements) if delta > 0 else (*other.elements, element)
    return _with_section(moved, neighbour, replace(other, elements=elements))


def fields_arrange(layout: Layout, order: Sequence[Sequence[tuple[int, int]]]) -> Layout:
    """Drag and drop: for every section, the (section, index) positions its fields come from, in the
    new order. Only a rearrangement of the fields already there is accepted: nothing added, nothing
    lost, nothing doubled."""
    if len(order) != len(layout.sections):
        raise LayoutOpError(_("The sections changed while you were dragging; try again."))
    wanted = sorted(p for positions in order for p in positions)
    existing = [(i, j) for i, s in enumerate(layout.sections) for j in range(len(s.elements))]
    if wanted != existing:
        raise LayoutOpError(_("The fields changed while you were dragging; try again."))
    sections = tuple(
        replace(s, elements=tuple(layout.sections[i].elements[j] for i, j in positions))
        for s, positions in zip(layout.sections, order, strict=True)
    )
    return Layout(sections)


def field_toggle_always(layout: Layout, section: int, index: int) -> Layout:
    target = _section_at(layout, section)
    if not 0 <= index < len(target.elements):
        raise LayoutOpError(_("That field is no longer in this section."))
    element = target.elements[index]
    elements = list(target.elements)
    elements[index] = replace(element, option_flags=0 if element.option_flags else 1)
    return _with_section(layout, section, replace(target, elements=tuple(elements)))


@dataclass(frozen=True)
class EditRequest:
    """One button of the editor: `op` like "field_up:1:3", and what the form carried with it."""

    op: str
    titles: Sequence[str] = ()
    new_title: str = ""
    target_section: int | None = None
    order: Sequence[Sequence[tuple[int, int]]] | None = None


def _numbers(op: str) -> list[int]:
    return [int(part) for part in op.split(":")[1:]]


def layout_edit_apply(
    layout: Layout, edit: EditRequest, *, known: Collection[str], label: Callable[[str], str]
) -> tuple[Layout, str]:
    """The layout after one edit, and a short sentence saying what happened (for aria-live)."""
    layout = sections_retitle(layout, edit.titles)
    kind = edit.op.split(":", 1)[0]
    if kind == "section_add":
        reason = title_problem(edit.new_title, _("The new section"))
        if reason:
            raise LayoutOpError(reason)
        return section_add(layout, edit.new_title), _("Section “%(title)s” added.") % {"title": edit.new_title.strip()}
    if kind in ("section_up", "section_down", "section_remove"):
        return _section_edit(layout, edit, kind)
    if kind in ("field_up", "field_down", "field_remove", "field_always"):
        return _field_edit(layout, edit, kind, label)
    if kind == "field_add":
        return _field_add(layout, edit, known, label)
    if kind == "reorder" and edit.order is not None:
        return fields_arrange(layout, edit.order), _("Fields rearranged.")
    return layout, ""


def _section_edit(layout: Layout, edit: EditRequest, kind: str) -> tuple[Layout, str]:
    (index,) = _numbers(edit.op)
    title = _section_at(layout, index).title or _("Section %(n)s") % {"n": index + 1}
    if kind == "section_remove":
        return section_remove(layout, index), _("Section “%(title)s” removed.") % {"title": title}
    delta = -1 if kind == "section_up" else 1
    moved = _("Section “%(title)s” moved up.") if delta < 0 else _("Section “%(title)s” moved down.")
    return section_move(layout, index, delta), moved % {"title": title}


def _field_edit(layout: Layout, edit: EditRequest, kind: str, label: Callable[[str], str]) -> tuple[Layout, str]:
    section, index = _numbers(edit.op)
    source = _section_at(layout, section)
    if not 0 <= index < len(source.elements):
        raise LayoutOpError(_("That field is no longer in this section."))
    shown = label(source.elements[index].name)
    if kind == "field_remove":
        return field_remove(layout, section, index), _("“%(field)s” removed; it is back in the field list.") % {
            "field": shown
        }
    if kind == "field_always":
        return field_toggle_always(layout, section, index), _("“%(field)s”: always-show switched.") % {"field": shown}
    delta = -1 if kind == "field_up" else 1
    moved = _("“%(field)s” moved up.") if delta < 0 else _("“%(field)s” moved down.")
    return field_move(layout, section, index, delta), moved % {"field": shown}


def _field_add(
    layout: Layout, edit: EditRequest, known: Collection[str], label: Callable[[str], str]
) -> tuple[Layout, str]:
    name = edit.op.split(":", 1)[1]
    if name not in known:
        raise LayoutOpError(_("That is not a deal field on this portal."))
    if not layout.sections:
        raise LayoutOpError(_("Add a section first, then put fields into it."))
    section = edit.target_section if edit.target_section is not None else len(layout.sections) - 1
    title = _section_at(layout, section).title
    return field_add(layout, section, name), _("“%(field)s” added to “%(section)s”.") % {
        "field": label(name),
        "section": title,
    }
