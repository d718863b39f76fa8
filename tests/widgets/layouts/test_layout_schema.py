"""The layout schema, the editor's edits and the difference between layouts: pure functions,
tested directly and with generated input (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from widgets.layouts.diff import layout_diff
from widgets.layouts.editor import (
    EditRequest,
    LayoutOpError,
    field_add,
    field_move,
    fields_arrange,
    layout_edit_apply,
    section_add,
)
from widgets.layouts.schema import (
    MAX_JSON_BYTES,
    PSEUDO_FIELDS,
    Element,
    Layout,
    LayoutInvalid,
    Section,
    layout_check,
    layout_default,
    layout_json_load,
    layout_parse,
    layout_problems,
    layout_to_api,
)

KNOWN = frozenset({"TITLE", "STAGE_ID", "CLOSEDATE", "TYPE_ID", "SOURCE_ID", "COMMENTS", "UF_CRM_1", *PSEUDO_FIELDS})


def section(name: str, title: str, *fields: str) -> dict[str, Any]:
    return {"name": name, "title": title, "type": "section", "elements": [{"name": f} for f in fields]}


def problems_of(data: Any) -> list[str]:
    return [p.message for p in layout_problems(layout_parse(data), known_fields=KNOWN)]


# --- shape --------------------------------------------------------------------------------------------


def test_a_layout_read_from_bitrix24_parses_with_its_string_flags_and_options() -> None:
    read = [
        {
            "name": "main",
            "title": "About",
            "type": "section",
            "elements": [
                {"name": "TITLE", "optionFlags": "0"},
                {"name": "CLIENT", "optionFlags": "1", "options": {"defaultCountry": "US"}},
            ],
        }
    ]
    layout = layout_parse(read)
    assert layout.sections[0].elements[1] == Element("CLIENT", 1, '{"defaultCountry":"US"}')
    written = layout_to_api(layout)
    assert written[0]["elements"] == [
        {"name": "TITLE", "optionFlags": 0},
        {"name": "CLIENT", "optionFlags": 1, "options": {"defaultCountry": "US"}},
    ]


def test_an_export_file_and_a_column_wrapped_layout_are_both_understood() -> None:
    data = [section("main", "About", "TITLE")]
    assert layout_parse({"format": "deal-desk.card-layout", "data": data}) == layout_parse(data)
    assert layout_parse([{"type": "column", "elements": data}]) == layout_parse(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"sections": []}, "Expected a list of sections"),
        ("main", "Expected a list of sections"),
        (["main"], "Section 1 is not an object"),
        ([{"name": "main"}], "needs a text name and a text title"),
        ([{"name": 5, "title": "About"}], "needs a text name and a text title"),
        ([section("main", "About"), {**section("more", "More"), "type": "column"}], 'only "section" is possible'),
        ([{**section("main", "About"), "elements": {"0": {"name": "TITLE"}}}], '"elements" must be a list'),
        ([section("main", "About", "")], "has no field name"),
        ([{**section("main", "About"), "elements": [{"name": "TITLE", "optionFlags": "yes"}]}], "0 or 1"),
        ([{**section("main", "About"), "elements": [{"name": "TITLE", "options": "x"}]}], "options must be"),
        ([section(f"s{i}", "T", "TITLE") for i in range(101)], "at most 100"),
        ([section("main", "About", *["TITLE"] * 201)], "at most 200 fit in a section"),
    ],
)
def test_what_cannot_be_a_layout_is_refused_with_a_reason(data: Any, reason: str) -> None:
    with pytest.raises(LayoutInvalid) as refused:
        layout_parse(data)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "There is no JSON"),
        ("[{", "not valid JSON (line 1"),
        ('[{"name": NaN}]', "not JSON a layout could be made of"),
        ("[" * 150_000 + "]" * 150_000, "too large"),
        ("[" * 50_000 + "]" * 50_000, "not JSON a layout could be made of"),
        ("[" + "9" * 5000 + "]", "not JSON a layout could be made of"),
        (" " * (MAX_JSON_BYTES + 1), "too large"),
    ],
)
def test_json_that_would_hurt_is_refused_before_it_is_read(text: str, reason: str) -> None:
    with pytest.raises(LayoutInvalid) as refused:
        layout_json_load(text)
    assert reason in str(refused.value)


def test_bytes_must_be_utf8_and_a_bom_is_fine() -> None:
    with pytest.raises(LayoutInvalid, match="not UTF-8"):
        layout_json_load(b"\xff\xfe[]")
    assert layout_json_load("\ufeff[]".encode()) == []


# --- validation -------------------------------------------------------------------------------------------


def test_the_bitrix24_default_layout_is_valid() -> None:
    layout = layout_default()
    assert [s.name for s in layout.sections] == ["main", "additional", "products", "recurring"]
    assert (
        layout_problems(layout, known_fields=KNOWN | {"BEGINDATE", "OPENED", "ASSIGNED_BY_ID", "SOURCE_DESCRIPTION"})
        == []
    )


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "The card has no sections"),
        ([section("main", "About", "NOPE")], "“NOPE” in “About” is not a deal field on this portal."),
        (
            [section("main", "About", "TITLE"), section("more", "More", "TITLE")],
            "“TITLE” is placed twice: in “About” and “More”.",
        ),
        ([section("main", "About")], "“About” has no fields: add a field or remove the section."),
        ([section("main", "   ", "TITLE")], "Section 1 needs a title."),
        ([section("main", "x" * 256, "TITLE")], "Section 1 has a title longer than 255 characters."),
        ([section("main", "<b>Deal</b>", "TITLE")], "markup is not allowed in titles"),
        ([section("main", "Tab\there", "TITLE")], "control characters"),
        ([section("main area", "About", "TITLE")], "“About” has an invalid internal name."),
        ([section("main", "A", "TITLE"), section("main", "B", "STAGE_ID")], "same internal name"),
    ],
)
def test_what_must_be_fixed_before_saving_is_listed(data: Any, problem: str) -> None:
    assert any(problem in p for p in problems_of(data)), problems_of(data)


def test_a_valid_layout_passes_the_check() -> None:
    data = [section("main", "About the deal", "TITLE", "UF_CRM_1"), section("more", "More", "COMMENTS")]
    assert layout_to_api(layout_check(data, known_fields=KNOWN))[0]["elements"][1] == {
        "name": "UF_CRM_1",
        "optionFlags": 0,
    }


# --- edits -------------------------------------------------------------------------------------------------


def two_sections() -> Layout:
    return layout_parse([section("a", "A", "TITLE", "STAGE_ID"), section("b", "B", "COMMENTS")])


def test_moving_down_past_the_end_of_a_section_enters_the_next_one_at_the_top() -> None:
    moved = field_move(two_sections(), 0, 1, +1)
    assert [[e.name for e in s.elements] for s in moved.sections] == [["TITLE"], ["STAGE_ID", "COMMENTS"]]


def test_moving_the_very_first_field_up_changes_nothing() -> None:
    assert field_move(two_sections(), 0, 0, -1) == two_sections()


def test_a_field_already_on_the_card_cannot_be_added_again() -> None:
    with pytest.raises(LayoutOpError):
        field_add(two_sections(), 1, "TITLE")


def test_new_sections_get_unique_names_and_stop_at_one_hundred() -> None:
    layout = section_add(section_add(two_sections(), "Delivery"), "Billing")
    assert [s.name for s in layout.sections][-2:] == ["section_3", "section_4"]
    full = Layout(tuple(Section(f"s{i}", "T") for i in range(100)))
    with pytest.raises(LayoutOpError, match="at most 100"):
        section_add(full, "One more")


def test_stale_or_forged_positions_are_refused() -> None:
    for op in ("field_up:9:0", "field_remove:0:9", "section_remove:5", "field_add:NOPE"):
        with pytest.raises(LayoutOpError):
            layout_edit_apply(two_sections(), EditRequest(op=op), known=KNOWN, label=str)


def test_an_edit_says_what_it_did() -> None:
    layout, message = layout_edit_apply(
        two_sections(), EditRequest(op="field_add:CLOSEDATE", target_section=1), known=KNOWN, label=str.title
    )
    assert message == "“Closedate” added to “B”."
    assert layout.sections[1].elements[-1].name == "CLOSEDATE"


def test_a_new_section_needs_an_acceptable_title() -> None:
    for title in ("", "  ", "<i>x</i>", "y" * 300):
        with pytest.raises(LayoutOpError, match="The new section"):
            layout_edit_apply(two_sections(), EditRequest(op="section_add", new_title=title), known=KNOWN, label=str)


def test_typed_titles_apply_only_when_they_line_up_with_the_sections() -> None:
    layout, _ = layout_edit_apply(
        two_sections(), EditRequest(op="apply", titles=["One", "Two"]), known=KNOWN, label=str
    )
    assert [s.title for s in layout.sections] == ["One", "Two"]
    same, _ = layout_edit_apply(two_sections(), EditRequest(op="apply", titles=["Only one"]), known=KNOWN, label=str)
    assert same == two_sections()


# --- differences --------------------------------------------------------------------------------------------


def test_the_difference_names_what_was_added_removed_renamed_and_moved() -> None:
    old = layout_parse([section("a", "About", "TITLE", "STAGE_ID", "CLOSEDATE"), section("b", "More", "COMMENTS")])
    new = layout_parse(
        [
            section("b", "More info", "COMMENTS", "STAGE_ID"),
            section("a", "About", "CLOSEDATE", "TITLE", "UF_CRM_1"),
            section("c", "Delivery", "SOURCE_ID"),
        ]
    )
    texts = [c.text for c in layout_diff(old, new, label=str.title)]
    assert "Section “Delivery” added" in texts
    assert "Section “More” renamed to “More info”" in texts
    assert "Section “More info” moved to position 1" in texts or "Section “About” moved to position 2" in texts
    assert "Field “Uf_Crm_1” added to “About”" in texts
    assert "Field “Source_Id” added to “Delivery”" in texts
    assert "Field “Stage_Id” moved from “About” to “More info”" in texts
    assert any(
        t.startswith("Field “Closedate” moved to position 1") or "“Title” moved to position 2" in t for t in texts
    )


def test_removals_and_always_show_changes_are_listed() -> None:
    old = layout_parse([section("a", "About", "TITLE", "STAGE_ID"), section("b", "More", "COMMENTS")])
    new = layout_parse([{**section("a", "About", "TITLE"), "elements": [{"name": "TITLE", "optionFlags": "1"}]}])
    texts = [c.text for c in layout_diff(old, new, label=str)]
    assert texts == [
        "Section “More” removed with its 1 field",
        "Field “STAGE_ID” removed from “About”",
        "Field “COMMENTS” removed from “More”",
        "Field “TITLE” is now always shown",
    ]


# --- generated input ----------------------------------------------------------------------------------------

FIELDS = sorted(KNOWN)
titles = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<>"), min_size=1, max_size=40)
layouts = st.lists(
    st.tuples(titles.filter(str.strip), st.lists(st.sampled_from(FIELDS), min_size=1, max_size=6, unique=True)),
    min_size=1,
    max_size=6,
).map(
    lambda sections: Layout(
        tuple(Section(f"s{i}", t.strip(), tuple(Element(f) for f in fs)) for i, (t, fs) in enumerate(sections))
    )
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=40,
)


@given(layouts)
def test_a_layout_survives_the_round_trip_through_the_api_shape(layout: Layout) -> None:
    assert layout_parse(json.loads(json.dumps(layout_to_api(layout)))) == layout


@given(json_values)
@settings(max_examples=300)
def test_any_json_is_either_a_layout_or_refused_with_reasons(value: Any) -> None:
    try:
        layout = layout_parse(value)
    except LayoutInvalid as refused:
        assert refused.problems and all(p.message for p in refused.problems)
    else:
        layout_problems(layout, known_fields=KNOWN)


@given(layouts, st.lists(st.tuples(st.sampled_from(["field_up", "field_down"]), st.integers(0, 6), st.integers(0, 6))))
def test_moving_fields_around_never_loses_or_doubles_one(layout: Layout, moves: list[tuple[str, int, int]]) -> None:
    fields = sorted(layout.field_names())
    for op, s, j in moves:
        try:
            layout, _ = layout_edit_apply(layout, EditRequest(op=f"{op}:{s}:{j}"), known=KNOWN, label=str)
        except LayoutOpError:
            continue
    assert sorted(layout.field_names()) == fields


@given(layouts, st.randoms())
def test_any_rearrangement_of_the_same_fields_is_accepted(layout: Layout, random: Any) -> None:
    positions = [(i, j) for i, s in enumerate(layout.sections) for j in range(len(s.elements))]
    random.shuffle(positions)
    cuts = sorted(random.randint(0, len(positions)) for _ in range(len(layout.sections) - 1))
    order = [positions[a:b] for a, b in zip([0, *cuts], [*cuts, len(positions)], strict=True)]
    arranged = fields_arrange(layout, order)
    assert sorted(arranged.field_names()) == sorted(layout.field_names())


@given(layouts)
def test_a_layout_compared_with_itself_has_no_differences(layout: Layout) -> None:
    assert layout_diff(layout, layout, label=str) == []
