"""The layout editor over HTTP, through the sandbox portal: edits, save, reset, everyone's layout,
personal layouts, copy, export and import, history, differences and rollback."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from tests.widgets.layout_support import (  # noqa: F401 - fixtures
    AdminPage,
    admin_fixture,
    clean_cache,
    editor_fields,
    editor_layout,
    installed_fixture,
    last_call_id,
    portal_calls,
    stored_layout,
)

UF_CONTRACT = "UF_CRM_1700000000001"


def names(layout: list[dict[str, Any]], section: int) -> list[str]:
    return [e["name"] for e in layout[section]["elements"]]


def press(admin: AdminPage, page_html: str, op: str, *, htmx: bool = True, **extra: str) -> requests.Response:
    """Press one editor button, posting the editor's state exactly as the browser does."""
    fields = [(k, v) for k, v in editor_fields(page_html) if k not in extra]
    response = admin.post("layout_edit", [*fields, *extra.items(), ("op", op)], htmx=htmx)
    assert response.status_code == 200, response.text[:1000]
    return response


def save(admin: AdminPage, page_html: str, action: str = "save", **extra: str) -> requests.Response:
    fields = [(k, v) for k, v in editor_fields(page_html) if k not in extra]
    response = admin.post("layout_save", [*fields, *extra.items(), ("action", action)])
    assert response.status_code == 200, response.text[:1000]
    return response


def card_sections(sandbox: Any, deal_id: int) -> list[str]:
    """Section titles of the sandbox deal card, as the portal renders it for the administrator."""
    page = requests.get(f"{sandbox.url}crm/deal/details/{deal_id}/", timeout=30)
    return re.findall(r'<section class="panel section" data-section="[^"]*">\s*<h2>([^<]*)</h2>', page.text)


# --- editing: nothing reaches Bitrix24 -------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "full page"])
def test_moving_a_field_up_changes_only_the_editor_and_sends_nothing(admin: AdminPage, htmx: bool) -> None:
    before = last_call_id()
    response = press(admin, admin.response.text, "field_up:0:1", htmx=htmx)
    assert names(editor_layout(response.text), 0)[:2] == ["OPPORTUNITY_WITH_CURRENCY", "TITLE"]
    assert ("<html" in response.text) is not htmx
    assert "Unsaved changes" in response.text
    assert portal_calls(before) == []
    assert names(stored_layout(0) or [], 0)[0] == "TITLE"


def test_a_field_moved_past_the_top_of_its_section_goes_to_the_end_of_the_one_above(admin: AdminPage) -> None:
    response = press(admin, admin.response.text, "field_up:1:0")
    layout = editor_layout(response.text)
    assert names(layout, 0)[-1] == "TYPE_ID"
    assert "TYPE_ID" not in names(layout, 1)


def test_sections_are_added_renamed_moved_and_removed(admin: AdminPage) -> None:
    added = press(admin, admin.response.text, "section_add", new_title="Delivery")
    layout = editor_layout(added.text)
    assert [s["title"] for s in layout][-1] == "Delivery"
    assert "has no fields" in added.text  # an empty section is flagged at once
    titles = [v for k, v in editor_fields(added.text) if k == "title"]
    titles[1] = "More about the deal"
    fields = [(k, v) for k, v in editor_fields(added.text) if k != "title"] + [("title", t) for t in titles]
    renamed = admin.post("layout_edit", [*fields, ("op", "section_up:3")])
    layout = editor_layout(renamed.text)
    assert [s["title"] for s in layout] == ["About the deal", "More about the deal", "Delivery", "Products"]
    removed = press(admin, renamed.text, "section_remove:2")
    assert [s["title"] for s in editor_layout(removed.text)] == ["About the deal", "More about the deal", "Products"]


def test_a_field_from_the_palette_goes_to_the_chosen_section_and_leaves_the_palette(admin: AdminPage) -> None:
    assert 'id="p-PROBABILITY"' in admin.response.text
    response = press(admin, admin.response.text, "field_add:PROBABILITY", target_section="1")
    assert names(editor_layout(response.text), 1)[-1] == "PROBABILITY"
    assert 'id="p-PROBABILITY"' not in response.text
    assert 'data-focus="f-PROBABILITY-up"' in response.text


def test_a_removed_field_returns_to_the_palette(admin: AdminPage) -> None:
    response = press(admin, admin.response.text, "field_remove:0:6")
    assert UF_CONTRACT not in names(editor_layout(response.text), 0)
    assert f'id="p-{UF_CONTRACT}"' in response.text
    assert "Contract number" in response.text  # the user field by its label, not its code


def test_drag_and_drop_posts_the_new_order_which_may_cross_sections(admin: AdminPage) -> None:
    layout = editor_layout(admin.response.text)
    order = [[f"{s}:{j}" for j in range(len(section["elements"]))] for s, section in enumerate(layout)]
    order[1].insert(0, order[0].pop(0))  # TITLE to the top of the second section
    response = press(admin, admin.response.text, "reorder", order=json.dumps(order))
    moved = editor_layout(response.text)
    assert names(moved, 1)[0] == "TITLE" and "TITLE" not in names(moved, 0)


def test_a_drag_that_loses_or_doubles_a_field_is_refused(admin: AdminPage) -> None:
    layout = editor_layout(admin.response.text)
    order = [[f"{s}:{j}" for j in range(len(section["elements"]))] for s, section in enumerate(layout)]
    order[0][1] = "0:0"
    response = press(admin, admin.response.text, "reorder", order=json.dumps(order))
    assert "The fields changed while you were dragging" in response.text
    assert editor_layout(response.text) == layout


def test_always_show_is_switched_per_field(admin: AdminPage) -> None:
    response = press(admin, admin.response.text, "field_always:0:0")
    assert editor_layout(response.text)[0]["elements"][0]["optionFlags"] == 1


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "full page"])
def test_the_preview_shows_the_card_sections_with_field_labels(admin: AdminPage, htmx: bool) -> None:
    response = press(admin, admin.response.text, "preview", htmx=htmx)
    assert 'aria-label="Preview of the deal card"' in response.text
    sections = re.findall(r'data-preview-section="([^"]+)"', response.text)
    assert sections == ["main", "additional", "products"]
    assert "<dt>Contract number</dt>" in response.text


# --- saving ------------------------------------------------------------------------------------------


def test_saving_sends_the_layout_in_one_batch_and_the_sandbox_card_shows_it(admin: AdminPage) -> None:
    sandbox = admin.sandbox
    from sandbox.models import Deal

    deal = Deal.objects.filter(category_id=0).order_by("id").first()
    assert deal is not None
    assert card_sections(sandbox, deal.pk) == ["About the deal", "More", "Products"]
    titles = ["Deal", "Details", "Products"]
    fields = [(k, v) for k, v in editor_fields(admin.response.text) if k != "title"] + [("title", t) for t in titles]
    before = last_call_id()
    response = admin.post("layout_save", [*fields, ("action", "save")])
    assert response.status_code == 200
    assert "Saved as version 2" in response.text
    calls = portal_calls(before)
    assert [(c.method, c.batch_methods) for c in calls] == [
        ("batch", ["crm.deal.details.configuration.get", "crm.deal.details.configuration.set"])
    ]
    stored = stored_layout(0) or []
    assert [s["title"] for s in stored] == titles
    assert stored[0]["elements"][5] == {"name": "CLIENT", "optionFlags": "1"}
    assert card_sections(sandbox, deal.pk) == titles


def test_every_save_is_a_version_and_the_layout_found_first_is_kept(admin: AdminPage) -> None:
    from widgets.models import LayoutVersion

    moved = press(admin, admin.response.text, "field_down:0:0")
    save(admin, moved.text)
    versions = list(LayoutVersion.objects.order_by("number"))
    assert [(v.number, v.note, v.category_id, v.scope, v.user_id) for v in versions] == [
        (1, "as found in Bitrix24", 0, "C", 0),
        (2, "saved", 0, "C", 0),
    ]
    assert versions[1].author_id == 1 and versions[1].author_name == "Anna Adams"
    assert versions[0].author_id == 0 and versions[0].author_name == ""
    assert names(versions[1].layout or [], 0)[:2] == ["OPPORTUNITY_WITH_CURRENCY", "TITLE"]
    assert names(versions[0].layout or [], 0)[:2] == ["TITLE", "OPPORTUNITY_WITH_CURRENCY"]


def test_a_layout_changed_outside_deal_desk_is_recorded_before_the_next_save(admin: AdminPage) -> None:
    from sandbox.models import CardConfig
    from widgets.models import LayoutVersion

    save(admin, admin.response.text)
    CardConfig.objects.filter(category_id=0, scope="C").update(
        data=[{"name": "main", "title": "Changed in Bitrix24", "type": "section", "elements": [{"name": "TITLE"}]}]
    )
    save(admin, admin.response.text)
    notes = list(LayoutVersion.objects.order_by("number").values_list("note", flat=True))
    assert notes == ["as found in Bitrix24", "saved", "changed outside Deal Desk", "saved"]


def test_a_layout_with_problems_is_not_sent(admin: AdminPage) -> None:
    added = press(admin, admin.response.text, "section_add", new_title="Empty")
    before = last_call_id()
    response = save(admin, added.text)
    assert "Nothing was sent to Bitrix24" in response.text
    assert "has no fields" in response.text
    assert portal_calls(before) == []
    assert [s["title"] for s in stored_layout(0) or []] == ["About the deal", "More", "Products"]


def test_reset_removes_the_stored_layout_and_is_a_version(admin: AdminPage) -> None:
    from widgets.models import LayoutVersion

    response = save(admin, admin.response.text, action="reset")
    assert "back to the Bitrix24 default" in response.text
    assert stored_layout(0) is None
    last = LayoutVersion.objects.order_by("-number").first()
    assert last is not None and last.layout is None and last.note == "reset to the Bitrix24 default"
    assert [s["name"] for s in editor_layout(response.text)] == ["main", "additional", "products", "recurring"]


def test_saving_for_all_users_removes_personal_layouts(admin: AdminPage) -> None:
    from sandbox.models import CardConfig

    CardConfig.objects.create(category_id=0, scope="P", user_id=3, data=[{"name": "mine", "title": "Mine"}])
    response = save(admin, admin.response.text, action="everyone")
    assert "Everyone now sees this layout" in response.text
    assert not CardConfig.objects.filter(category_id=0, scope="P").exists()
    assert stored_layout(0) is not None


def test_a_funnel_without_a_layout_says_so_and_saving_stores_one(admin: AdminPage) -> None:
    page = admin.get("layout_page", {"category": 2})
    assert "No layout saved for this funnel yet: Bitrix24 shows its default." in page.text
    assert stored_layout(2) is None
    save(admin, page.text)
    assert [s["name"] for s in stored_layout(2) or []] == ["main", "additional", "products", "recurring"]


# --- personal layouts --------------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "full page"])
def test_people_are_found_by_name(admin: AdminPage, htmx: bool) -> None:
    response = admin.get("layout_users", {"q": "sofia", "category": 1}, htmx=htmx)
    assert response.status_code == 200
    assert "Sofia Ortiz" in response.text and "Account executive" in response.text
    assert "scope=P&amp;user=3" in response.text
    assert ("<html" in response.text) is not htmx


def test_one_persons_layout_is_edited_and_saved_for_them_only(admin: AdminPage) -> None:
    admin.get("layout_users", {"q": "sofia"})  # their name is learnt from the search
    page = admin.get("layout_page", {"category": 1, "scope": "P", "user": 3})
    assert "Sofia Ortiz has no personal layout for Enterprise" in page.text
    assert "personal layout of Sofia Ortiz" in page.text
    moved = press(admin, page.text, "field_down:0:0")
    save(admin, moved.text)
    personal = stored_layout(1, scope="P", user_id=3) or []
    assert names(personal, 0)[:2] == ["STAGE_ID", "TITLE"]
    assert names(stored_layout(1) or [], 0)[:2] == ["TITLE", "STAGE_ID"]
    again = admin.get("layout_page", {"category": 1, "scope": "P", "user": 3})
    assert "has no personal layout" not in again.text


# --- copy ----------------------------------------------------------------------------------------------


def test_copying_to_other_funnels_is_one_batch_and_a_version_in_each(admin: AdminPage) -> None:
    from widgets.models import LayoutVersion

    fields = editor_fields(admin.response.text)
    before = last_call_id()
    response = admin.post("layout_copy", [*fields, ("funnels", "1"), ("funnels", "2")])
    assert response.status_code == 200
    assert "Copied to Enterprise, Partners" in response.text
    calls = portal_calls(before)
    assert len(calls) == 1 and calls[0].method == "batch" and calls[0].batch_size == 4
    source = [(s["title"], names([s], 0)) for s in stored_layout(0) or []]
    assert source == [(s["title"], names([s], 0)) for s in stored_layout(1) or []]
    assert stored_layout(1) == stored_layout(2)
    copies = LayoutVersion.objects.filter(category_id__in=[1, 2], note="copied from “General”")
    assert sorted(copies.values_list("category_id", flat=True)) == [1, 2]
    found = LayoutVersion.objects.get(category_id=2, note="as found in Bitrix24")
    assert found.layout is None  # funnel 2 had nothing stored: a rollback would reset it


def test_copy_needs_a_funnel_ticked(admin: AdminPage) -> None:
    before = last_call_id()
    response = admin.post("layout_copy", editor_fields(admin.response.text))
    assert "Tick at least one funnel" in response.text
    assert portal_calls(before) == []


# --- export and import -----------------------------------------------------------------------------------


def test_export_downloads_the_saved_layout_as_json(admin: AdminPage) -> None:
    response = admin.post("layout_export", {"category": 1, "widget_token": admin.token}, htmx=False)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Content-Disposition"] == 'attachment; filename="card-layout-enterprise-saved.json"'
    payload = response.json()
    assert payload["format"] == "deal-desk.card-layout" and payload["funnel"] == {"id": 1, "name": "Enterprise"}
    assert names(payload["data"], 0) == names(stored_layout(1) or [], 0)


def test_an_exported_layout_imports_into_the_editor_unsent_and_saves_as_imported(admin: AdminPage) -> None:
    from widgets.models import LayoutVersion

    exported = admin.get("layout_export", {"category": 1}).text
    fields = [("category", "2")]
    before = last_call_id()
    response = admin.post("layout_import", [*fields, ("text", exported)])
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#workspace"
    assert "Imported 3 sections" in response.text
    assert portal_calls(before) == []
    assert stored_layout(2) is None
    save(admin, response.text)
    assert names(stored_layout(2) or [], 0) == names(stored_layout(1) or [], 0)
    assert LayoutVersion.objects.filter(category_id=2).latest("number").note == "imported"


def test_a_file_can_be_imported(admin: AdminPage) -> None:
    exported = admin.get("layout_export", {"category": 1}).content
    response = admin.post("layout_import", {"category": "0"}, files={"file": ("layout.json", exported)})
    assert "Imported 3 sections" in response.text


# --- history, differences, rollback -------------------------------------------------------------------


def two_saves(admin: AdminPage) -> requests.Response:
    moved = press(admin, admin.response.text, "field_down:0:0")
    first = save(admin, moved.text)
    removed = press(admin, first.text, "field_remove:1:0")
    return save(admin, removed.text)


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "full page"])
def test_the_difference_between_two_versions_reads_as_sentences(admin: AdminPage, htmx: bool) -> None:
    from widgets.models import LayoutVersion

    two_saves(admin)
    first, last = LayoutVersion.objects.get(number=1), LayoutVersion.objects.get(number=3)
    response = admin.get("layout_diff", {"a": first.pk, "b": last.pk}, htmx=htmx)
    assert response.status_code == 200
    assert "From version 1 to version 3" in response.text
    assert "Field “Type” removed from “More”" in response.text
    assert "Field “Title” moved to position 2 in “About the deal”" in response.text
    assert ("<html" in response.text) is not htmx


def test_rolling_back_sends_the_old_layout_and_is_itself_a_version(admin: AdminPage) -> None:
    from sandbox.models import Deal
    from widgets.models import LayoutVersion

    original = stored_layout(0)
    two_saves(admin)
    assert stored_layout(0) != original
    first = LayoutVersion.objects.get(number=1)
    response = admin.post("layout_rollback", {"version": first.pk})
    assert response.status_code == 200
    assert "Rolled back: version 4 restores version 1" in response.text
    assert [names(s, 0) for s in [stored_layout(0) or []]] == [names(original or [], 0)]
    assert LayoutVersion.objects.get(number=4).note == "rolled back to version 1"
    deal = Deal.objects.filter(category_id=0).order_by("id").first()
    assert deal is not None and card_sections(admin.sandbox, deal.pk) == ["About the deal", "More", "Products"]


def test_rolling_back_to_a_reset_resets_again(admin: AdminPage) -> None:
    from widgets.models import LayoutVersion

    save(admin, admin.response.text, action="reset")
    reset = LayoutVersion.objects.get(note="reset to the Bitrix24 default")
    save(admin, admin.response.text)
    assert stored_layout(0) is not None
    admin.post("layout_rollback", {"version": reset.pk})
    assert stored_layout(0) is None


def test_a_version_exports_as_json(admin: AdminPage) -> None:
    from widgets.models import LayoutVersion

    save(admin, admin.response.text)
    version = LayoutVersion.objects.get(number=2)
    response = admin.get("layout_export", {"version": version.pk})
    assert response.headers["Content-Disposition"].endswith('-v2.json"')
    assert response.json()["data"] == version.layout


def test_history_lists_who_changed_what_and_when(admin: AdminPage) -> None:
    response = two_saves(admin)
    table = response.text[response.text.index('class="la-versions"') :]
    assert table.count("Anna Adams") == 2  # the layout found first was made in Bitrix24
    assert ">Bitrix24</span>" in table
    assert "As found in Bitrix24" in table and "Roll back" in table


def test_removing_a_personal_layout_shows_the_common_one_again(admin: AdminPage) -> None:
    from sandbox.models import CardConfig

    CardConfig.objects.create(category_id=1, scope="P", user_id=3, data=[section_data("mine", "Mine", "TITLE")])
    page = admin.get("layout_page", {"category": 1, "scope": "P", "user": 3})
    assert [s["title"] for s in editor_layout(page.text)] == ["Mine"]
    response = save(admin, page.text, action="reset")
    assert "The personal layout is removed" in response.text
    assert stored_layout(1, scope="P", user_id=3) is None
    assert [s["title"] for s in editor_layout(response.text)] == ["About the deal", "More", "Products"]


def section_data(name: str, title: str, *fields: str) -> dict[str, Any]:
    return {"name": name, "title": title, "type": "section", "elements": [{"name": f} for f in fields]}


@pytest.mark.parametrize(
    ("name", "extra", "expected"),
    [
        ("layout_save", [("action", "save")], "Saved as version 2."),
        ("layout_copy", [("funnels", "2")], "Copied to Partners."),
        ("layout_import", None, "Imported 1 section."),
        ("layout_rollback", None, "Rolled back: version"),
        ("layout_access", None, "Saved: the list of people allowed on this page."),
    ],
)
def test_every_action_also_works_as_a_plain_form_post(
    admin: AdminPage, name: str, extra: list[tuple[str, str]] | None, expected: str
) -> None:
    """Without JavaScript the forms post normally and the whole page comes back."""
    from widgets.models import LayoutVersion

    if name == "layout_import":
        data: Any = {"category": "0", "text": json.dumps([section_data("main", "About", "TITLE")])}
    elif name == "layout_rollback":
        save(admin, admin.response.text)
        data = {"version": LayoutVersion.objects.get(number=1).pk}
    elif name == "layout_access":
        data = {"add": "4", "category": "0"}
    else:
        data = [*editor_fields(admin.response.text), *(extra or [])]
    response = admin.post(name, data, htmx=False)
    assert response.status_code == 200
    assert response.text.lstrip().startswith("<!DOCTYPE html>")
    assert expected in response.text
