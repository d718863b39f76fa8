"""Bad input on the layout page: malformed or hostile imports, tampered editor forms, markup.
Always a clear message, never a 500, and nothing sent to Bitrix24."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.widgets.layout_support import (  # noqa: F401 - fixtures
    AdminPage,
    admin_fixture,
    clean_cache,
    editor_fields,
    installed_fixture,
    last_call_id,
    portal_calls,
    stored_layout,
)

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def section(name: str, title: str, *fields: str) -> dict[str, Any]:
    return {"name": name, "title": title, "type": "section", "elements": [{"name": f} for f in fields]}


HOSTILE_IMPORTS = {
    "not json": ("{'python': 'dict'}", "This is not valid JSON"),
    "NaN": ('[{"name": NaN}]', "This is not JSON a layout could be made of."),
    "deep nesting": ("[" * 60_000 + "]" * 60_000, "This is not JSON a layout could be made of."),
    "huge": (json.dumps([section("main", "x" * 300_000, "TITLE")]), "too large"),
    "an object": ('{"sections": []}', 'Expected a list of sections (or an object with a "data" list).'),
    "hundreds of sections": (json.dumps([section(f"s{i}", "T", "TITLE") for i in range(300)]), "at most 100"),
    "too many fields": (json.dumps([section("main", "T", *[f"F{i}" for i in range(201)])]), "at most 200"),
    "an unknown field": (json.dumps([section("main", "About", "TITLE", "DROP_TABLE")]), "“DROP_TABLE” in “About”"),
    "a field twice": (
        json.dumps([section("main", "About", "TITLE"), section("more", "More", "TITLE")]),
        "“TITLE” is placed twice",
    ),
    "an empty section": (json.dumps([section("main", "About", "TITLE"), section("more", "More")]), "has no fields"),
    "markup in a title": (
        json.dumps([section("main", "<script>alert(1)</script>", "TITLE")]),
        "markup is not allowed in titles",
    ),
    "an over-long title": (json.dumps([section("main", "t" * 256, "TITLE")]), "longer than 255 characters"),
    "wrong types": (json.dumps([{"name": 1, "title": ["x"], "elements": "TITLE"}]), "needs a text name"),
    "flags that are not flags": (
        json.dumps([{**section("main", "About"), "elements": [{"name": "TITLE", "optionFlags": "always"}]}]),
        "optionFlags must be 0 or 1",
    ),
    "nothing": ("   ", "Paste a layout or choose a JSON file."),
}


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "full page"])
@pytest.mark.parametrize("case", sorted(HOSTILE_IMPORTS))
def test_a_bad_import_gets_a_clear_reason_and_nothing_is_sent(admin: AdminPage, case: str, htmx: bool) -> None:
    text, reason = HOSTILE_IMPORTS[case]
    before = last_call_id()
    response = admin.post("layout_import", {"category": "0", "text": text}, htmx=htmx)
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 200:
        assert reason in response.text.replace("&quot;", '"').replace("&#x27;", "'")
        assert "nothing was sent to bitrix24" in response.text.lower()
    assert "<script>alert(1)</script>" not in response.text
    assert portal_calls(before) == []
    assert [s["title"] for s in stored_layout(0) or []] == ["About the deal", "More", "Products"]


def test_an_oversized_file_is_refused(admin: AdminPage) -> None:
    big = b"[" + b" " * (300 * 1024) + b"]"
    response = admin.post("layout_import", {"category": "0"}, files={"file": ("big.json", big)})
    assert response.status_code == 200
    assert "The file is too large: at most 256 KB." in response.text


def test_a_binary_file_is_refused(admin: AdminPage) -> None:
    response = admin.post("layout_import", {"category": "0"}, files={"file": ("x.json", b"\xff\xfe\x00garbage")})
    assert "The file is not UTF-8 text." in response.text


def test_a_tampered_editor_state_starts_again_from_bitrix24(admin: AdminPage) -> None:
    fields = [(k, "{not json" if k == "layout" else v) for k, v in editor_fields(admin.response.text)]
    before = last_call_id()
    response = admin.post("layout_edit", [*fields, ("op", "field_up:0:1")])
    assert response.status_code == 200
    assert "The editor could not read the layout it was sent" in response.text
    assert ">Retry</a>" in response.text and response.headers["HX-Retarget"] == "#workspace"
    assert portal_calls(before) == []


@pytest.mark.parametrize("op", ["field_up:9:9", "section_remove:42", "drop_table", "field_add:../../etc", "save"])
def test_a_stale_or_forged_button_is_a_message_not_an_error(admin: AdminPage, op: str) -> None:
    response = admin.post("layout_edit", [*editor_fields(admin.response.text), ("op", op)])
    assert response.status_code == 200
    assert 'role="alert"' in response.text
    assert 'id="editor"' in response.text


def test_markup_typed_into_a_title_is_shown_as_text_and_blocks_saving(admin: AdminPage) -> None:
    titles = ["<img src=x onerror=alert(1)>", "More", "Products"]
    fields = [(k, v) for k, v in editor_fields(admin.response.text) if k != "title"]
    fields += [("title", t) for t in titles]
    before = last_call_id()
    response = admin.post("layout_save", [*fields, ("action", "save")])
    assert response.status_code == 200
    assert "<img src=x" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text
    assert "markup is not allowed in titles" in response.text
    assert portal_calls(before) == []


def test_hundreds_of_sections_cannot_be_added_through_the_editor(admin: AdminPage) -> None:
    many = [section(f"s{i}", f"Section {i}", f) for i, f in enumerate(["TITLE"] * 1)]
    many += [section(f"t{i}", f"Empty {i}") for i in range(99)]
    fields = [(k, json.dumps(many) if k == "layout" else v) for k, v in editor_fields(admin.response.text)]
    fields = [(k, v) for k, v in fields if k != "title"]
    response = admin.post("layout_edit", [*fields, ("op", "section_add"), ("new_title", "One more")])
    assert response.status_code == 200
    assert "A card can have at most 100 sections." in response.text


# --- generated input: whatever arrives, never a 500 and never a write ----------------------------------

anything = st.text(max_size=300)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
).map(json.dumps)
ops = st.one_of(
    st.sampled_from(["apply", "preview", "edit", "reorder", "section_add"]),
    st.builds(
        "{}:{}:{}".format,
        st.sampled_from(["field_up", "field_down", "field_remove", "field_always"]),
        st.integers(-2, 1000),
        st.integers(-2, 1000),
    ),
    st.builds("section_remove:{}".format, st.integers(-2, 1000)),
    st.builds("field_add:{}".format, st.text(max_size=30)),
    anything,
)


@FUZZ
@given(text=st.one_of(anything, json_like))
def test_no_import_text_yields_a_500_or_a_call(admin: AdminPage, text: str) -> None:
    before = last_call_id()
    response = admin.post("layout_import", {"category": "0", "text": text})
    assert response.status_code in (200, 400)
    assert portal_calls(before) == []


@FUZZ
@given(
    layout=st.one_of(json_like, anything),
    op=ops,
    title=anything,
    order=st.one_of(json_like, anything),
    category=st.one_of(st.just("0"), anything),
    target=anything,
)
def test_no_editor_post_yields_a_500_or_a_call(
    admin: AdminPage, layout: str, op: str, title: str, order: str, category: str, target: str
) -> None:
    data = {
        "category": category,
        "layout": layout,
        "op": op,
        "title": title,
        "order": order,
        "target_section": target,
        "new_title": title,
    }
    before = last_call_id()
    response = admin.post("layout_edit", data)
    assert response.status_code in (200, 400)
    assert [c for c in portal_calls(before) if c.method != "user.admin"] == []
