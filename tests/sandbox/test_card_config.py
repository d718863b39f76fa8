"""Deal card configuration: crm.deal.details.configuration.* and crm.item.details.configuration.*."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.card_layout import (
    MAX_ELEMENTS,
    MAX_SECTIONS,
    LayoutError,
    default_layout,
    effective_layout,
    prepare_layout,
)
from sandbox.models import CardConfig
from sandbox.seed.layouts import CARD_LAYOUTS
from tests.conftest import SandboxPortal

ADMIN, MANAGER, REP, OTHER_REP, READONLY = 1, 2, 3, 4, 5

LAYOUT: list[dict[str, Any]] = [
    {
        "name": "main",
        "title": "About the deal",
        "type": "section",
        "elements": [
            {"name": "TITLE", "optionFlags": 1},
            {"name": "OPPORTUNITY_WITH_CURRENCY", "optionFlags": 0, "options": {"isPayButtonVisible": "false"}},
            {"name": "CLIENT", "options": {"defaultCountry": "GB"}},
        ],
    },
    {"name": "products", "title": "Products", "type": "section", "elements": [{"name": "PRODUCT_ROW_SUMMARY"}]},
]
STORED = [
    {
        "name": "main",
        "title": "About the deal",
        "type": "section",
        "elements": [
            {"name": "TITLE", "optionFlags": "1"},
            {"name": "OPPORTUNITY_WITH_CURRENCY", "optionFlags": "0", "options": {"isPayButtonVisible": "false"}},
            {"name": "CLIENT", "options": {"defaultCountry": "GB"}},
        ],
    },
    {"name": "products", "title": "Products", "type": "section", "elements": [{"name": "PRODUCT_ROW_SUMMARY"}]},
]


def error_of(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def legacy_error(text: str) -> tuple[int, str, str]:
    return 400, "", text


# --- get -------------------------------------------------------------------------------------------


def test_get_common_layout_of_the_default_funnel_returns_the_seeded_sections(sandbox: SandboxPortal) -> None:
    result = sandbox.result("crm.deal.details.configuration.get", {"scope": "C"}, user=REP)
    assert [section["name"] for section in result] == [section["name"] for section in CARD_LAYOUTS[0]]
    client = next(e for e in result[0]["elements"] if e["name"] == "CLIENT")
    assert client["optionFlags"] == "1"


def test_get_common_layout_of_another_funnel_uses_extras_deal_category_id(sandbox: SandboxPortal) -> None:
    result = sandbox.result("crm.deal.details.configuration.get", {"scope": "C", "extras": {"dealCategoryId": 1}})
    assert result == CARD_LAYOUTS[1]


def test_get_answers_null_when_nothing_is_stored(sandbox: SandboxPortal) -> None:
    # Funnel 2 has no layout at all; nobody has a personal one; scope defaults to P.
    assert sandbox.result("crm.deal.details.configuration.get", {"scope": "C", "extras": {"dealCategoryId": 2}}) is None
    assert sandbox.result("crm.deal.details.configuration.get", {}, user=REP) is None


def test_a_rep_may_not_read_someone_elses_personal_layout_but_the_admin_may(sandbox: SandboxPortal) -> None:
    sandbox.result("crm.deal.details.configuration.set", {"data": LAYOUT}, user=OTHER_REP)
    denied = sandbox.call("crm.deal.details.configuration.get", {"scope": "P", "userId": OTHER_REP}, user=REP)
    assert error_of(denied) == legacy_error("Access denied.")
    assert sandbox.result("crm.deal.details.configuration.get", {"userId": OTHER_REP}, user=ADMIN) == STORED


def test_a_read_only_user_reads_the_common_layout(sandbox: SandboxPortal) -> None:
    assert sandbox.result("crm.deal.details.configuration.get", {"scope": "C"}, user=READONLY) is not None


# --- set -------------------------------------------------------------------------------------------


def test_a_rep_sets_their_own_personal_layout_and_reads_option_flags_back_as_strings(sandbox: SandboxPortal) -> None:
    assert sandbox.result("crm.deal.details.configuration.set", {"scope": "P", "data": LAYOUT}, user=REP) is True
    assert sandbox.result("crm.deal.details.configuration.get", {"scope": "P"}, user=REP) == STORED
    row = CardConfig.objects.get(scope="P", user_id=REP)
    assert (row.category_id, row.data) == (0, STORED)


def test_set_defaults_to_the_personal_scope_of_the_caller(sandbox: SandboxPortal) -> None:
    sandbox.result("crm.deal.details.configuration.set", {"data": LAYOUT}, user=MANAGER)
    assert CardConfig.objects.filter(scope="P", user_id=MANAGER, category_id=0).exists()
    assert sandbox.result("crm.deal.details.configuration.get", {"scope": "C"})[0]["title"] == "About the deal"


def test_set_accepts_option_flags_as_strings_from_a_form_body(sandbox: SandboxPortal) -> None:
    token = sandbox.token(REP)
    body = (
        f"auth={token}&data[0][name]=main&data[0][title]=Main&data[0][type]=section"
        "&data[0][elements][0][name]=TITLE&data[0][elements][0][optionFlags]=1"
    )
    response = sandbox.session.post(
        sandbox.rest_url("crm.deal.details.configuration.set"),
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.json()["result"] is True
    stored = sandbox.result("crm.deal.details.configuration.get", {}, user=REP)
    assert stored[0]["elements"] == [{"name": "TITLE", "optionFlags": "1"}]


def test_set_replaces_a_stored_layout(sandbox: SandboxPortal) -> None:
    sandbox.result("crm.deal.details.configuration.set", {"data": LAYOUT}, user=REP)
    sandbox.result("crm.deal.details.configuration.set", {"data": LAYOUT[1:]}, user=REP)
    assert sandbox.result("crm.deal.details.configuration.get", {}, user=REP) == STORED[1:]
    assert CardConfig.objects.filter(scope="P", user_id=REP).count() == 1


def test_only_the_admin_sets_the_common_layout(sandbox: SandboxPortal) -> None:
    denied = sandbox.call("crm.deal.details.configuration.set", {"scope": "C", "data": LAYOUT}, user=MANAGER)
    assert error_of(denied) == legacy_error("Access denied.")
    params = {"scope": "C", "data": LAYOUT, "extras": {"dealCategoryId": 2}}
    assert sandbox.result("crm.deal.details.configuration.set", params, user=ADMIN) is True
    assert sandbox.result("crm.deal.details.configuration.get", {"scope": "C", "extras": {"dealCategoryId": 2}}) == (
        STORED
    )


def test_a_rep_may_not_write_someone_elses_personal_layout_but_the_admin_may(sandbox: SandboxPortal) -> None:
    denied = sandbox.call("crm.deal.details.configuration.set", {"userId": OTHER_REP, "data": LAYOUT}, user=REP)
    assert error_of(denied) == legacy_error("Access denied.")
    assert sandbox.result("crm.deal.details.configuration.set", {"userId": OTHER_REP, "data": LAYOUT}, user=ADMIN)
    assert CardConfig.objects.filter(scope="P", user_id=OTHER_REP).exists()


def test_rights_are_checked_before_the_data(sandbox: SandboxPortal) -> None:
    response = sandbox.call("crm.deal.details.configuration.set", {"scope": "C", "data": "nope"}, user=REP)
    assert error_of(response) == legacy_error("Access denied.")


def test_a_lower_case_scope_means_personal_as_on_the_portal(sandbox: SandboxPortal) -> None:
    sandbox.result("crm.deal.details.configuration.set", {"scope": "c", "data": LAYOUT}, user=REP)
    assert CardConfig.objects.filter(scope="P", user_id=REP).exists()


def test_unknown_keys_are_dropped_and_unknown_field_names_are_kept(sandbox: SandboxPortal) -> None:
    data = [
        {
            "name": "x",
            "title": "X",
            "color": "red",
            "elements": [{"name": "NO_SUCH_FIELD", "optionFlags": "abc", "options": "flat", "extra": 1}],
        }
    ]
    sandbox.result("crm.deal.details.configuration.set", {"data": data}, user=REP)
    assert sandbox.result("crm.deal.details.configuration.get", {}, user=REP) == [
        {"name": "x", "title": "X", "type": "section", "elements": [{"name": "NO_SUCH_FIELD"}]}
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "Parameter 'data' must be array."),
        ("text", "Parameter 'data' must be array."),
        ([], "There are no data to write."),
        ({"a": {"name": "x", "title": "X"}}, "The data must be indexed array."),
        (
            [{"name": "x", "title": "X", "type": "tab"}],
            "Section at index 0 have type 'tab'. The expected type is 'section'.",
        ),
        ([{"title": "X"}], "Section at index 0 does not have name."),
        ([{"name": "x", "title": "X"}, {"name": "  ", "title": "Y"}], "Section at index 1 does not have name."),
        ([{"name": "x"}], "Section at index 0 does not have title."),
        (
            [{"name": "x", "title": "X", "elements": [{"name": "A"}, {}]}],
            "Element at index 1 in section at index 0 does not have name.",
        ),
        (["just a string"], "Section at index 0 does not have name."),
        (
            [{"name": "x", "title": "X", "elements": ["TITLE"]}],
            "Element at index 0 in section at index 0 does not have name.",
        ),
        ([{"name": {"a": 1}, "title": "X"}], "Section at index 0 does not have name."),
        (
            [{"name": "x", "title": "X", "type": ["section"]}],
            "Section at index 0 have type 'Array'. The expected type is 'section'.",
        ),
    ],
)
def test_set_refuses_malformed_layouts_with_the_portals_texts(sandbox: SandboxPortal, data: Any, message: str) -> None:
    params = {} if data is None else {"data": data}
    response = sandbox.call("crm.deal.details.configuration.set", params, user=REP)
    assert error_of(response) == legacy_error(message)
    assert not CardConfig.objects.filter(user_id=REP).exists()


def test_a_section_without_a_type_is_a_section(sandbox: SandboxPortal) -> None:
    sandbox.result("crm.deal.details.configuration.set", {"data": [{"name": "x", "title": "X"}]}, user=REP)
    assert sandbox.result("crm.deal.details.configuration.get", {}, user=REP) == [
        {"name": "x", "title": "X", "type": "section", "elements": []}
    ]


def test_hostile_layouts_get_a_legacy_error_and_never_a_500(sandbox: SandboxPortal) -> None:
    too_many_sections = [{"name": f"s{i}", "title": "S"} for i in range(MAX_SECTIONS + 1)]
    too_many_elements = [{"name": "s", "title": "S", "elements": [{"name": "TITLE"}] * (MAX_ELEMENTS + 1)}]
    huge_title = [{"name": "s", "title": "T" * 10_000}]
    huge_options = [{"name": "s", "title": "S", "elements": [{"name": "A", "options": {"k": "v" * 5000}}]}]
    cases = [
        (too_many_sections, f"The data must not contain more than {MAX_SECTIONS} sections."),
        (too_many_elements, f"Section at index 0 must not contain more than {MAX_ELEMENTS} elements."),
        (huge_title, "Section at index 0 has a title longer than 255 characters."),
        (huge_options, "Element at index 0 in section at index 0 has options longer than 2000 characters."),
    ]
    for data, message in cases:
        response = sandbox.call("crm.deal.details.configuration.set", {"data": data}, user=REP)
        assert error_of(response) == legacy_error(message)


def test_a_funnel_that_does_not_exist_is_accepted(sandbox: SandboxPortal) -> None:
    """crm lib/entity/entityeditorconfig.php EntityEditorConfig (bitrix24-cardconfig.md "Parameters"):
    the core never checks that the funnel exists. Expected: set answers true and the layout reads
    back from funnel 99; reset answers true and get is null again; other funnels are untouched."""
    params = {"scope": "C", "extras": {"dealCategoryId": 99}}
    assert sandbox.result("crm.deal.details.configuration.set", {**params, "data": LAYOUT}) is True
    assert sandbox.result("crm.deal.details.configuration.get", params, user=READONLY) == STORED
    assert sandbox.result("crm.deal.details.configuration.forceCommonScopeForAll", params) is True
    assert sandbox.result("crm.deal.details.configuration.reset", params) is True
    assert sandbox.result("crm.deal.details.configuration.get", params) is None
    assert sandbox.result("crm.deal.details.configuration.get", {"scope": "C"}) == CARD_LAYOUTS[0]


def test_user_id_is_read_only_in_its_own_spellings(sandbox: SandboxPortal) -> None:
    """crm classes/general/restservice.php CCrmEntityEditorRestProxy::processMethodRequest with
    CCrmRestHelper::resolveParamName: userId, userid, USERID and UserId name the user; USER_ID and
    user_id are unknown, so the caller. Expected: the admin reads the rep's layout through the four
    spellings and their own (null) through the other two; a set with USER_ID writes the admin's own."""
    sandbox.result("crm.deal.details.configuration.set", {"data": LAYOUT}, user=OTHER_REP)
    for spelling in ("userId", "userid", "USERID", "UserId"):
        assert sandbox.result("crm.deal.details.configuration.get", {spelling: OTHER_REP}) == STORED, spelling
    for spelling in ("USER_ID", "user_id"):
        assert sandbox.result("crm.deal.details.configuration.get", {spelling: OTHER_REP}) is None, spelling
        denied = sandbox.call("crm.deal.details.configuration.get", {spelling: OTHER_REP, "userId": ADMIN}, user=REP)
        assert error_of(denied) == legacy_error("Access denied.")
    assert sandbox.result("crm.deal.details.configuration.set", {"USER_ID": OTHER_REP, "data": LAYOUT[1:]}) is True
    assert sandbox.result("crm.deal.details.configuration.get", {}) == STORED[1:]
    assert sandbox.result("crm.deal.details.configuration.get", {"userId": OTHER_REP}) == STORED


def test_extras_deal_category_id_in_snake_case_is_ignored(sandbox: SandboxPortal) -> None:
    """crm lib/entity/entityeditorconfig.php: the funnel is extras[dealCategoryId] or
    extras[DEAL_CATEGORY_ID]; any other spelling is the default funnel. Expected: deal_category_id=1
    reads funnel 0's common layout, DEAL_CATEGORY_ID=1 funnel 1's."""
    snake = sandbox.result("crm.deal.details.configuration.get", {"scope": "C", "extras": {"deal_category_id": 1}})
    assert snake == CARD_LAYOUTS[0]
    upper = sandbox.result("crm.deal.details.configuration.get", {"scope": "C", "extras": {"DEAL_CATEGORY_ID": 1}})
    assert upper == CARD_LAYOUTS[1]


# --- reset and forceCommonScopeForAll ---------------------------------------------------------------


def test_reset_removes_the_personal_layout_and_returns_true(sandbox: SandboxPortal) -> None:
    sandbox.result("crm.deal.details.configuration.set", {"data": LAYOUT}, user=REP)
    assert sandbox.result("crm.deal.details.configuration.reset", {"scope": "P", "userId": REP}, user=REP) is True
    assert sandbox.result("crm.deal.details.configuration.get", {}, user=REP) is None
    assert sandbox.result("crm.deal.details.configuration.reset", {}, user=REP) is True  # nothing left: still true


def test_reset_of_the_common_layout_needs_the_admin(sandbox: SandboxPortal) -> None:
    denied = sandbox.call("crm.deal.details.configuration.reset", {"scope": "C"}, user=REP)
    assert error_of(denied) == legacy_error("Access denied.")
    assert sandbox.result("crm.deal.details.configuration.reset", {"scope": "C"}, user=ADMIN) is True
    assert sandbox.result("crm.deal.details.configuration.get", {"scope": "C"}) is None
    assert sandbox.result("crm.deal.details.configuration.get", {"scope": "C", "extras": {"dealCategoryId": 1}})


def test_force_common_scope_deletes_the_personal_layouts_of_that_funnel_only(sandbox: SandboxPortal) -> None:
    sandbox.result("crm.deal.details.configuration.set", {"data": LAYOUT}, user=REP)
    sandbox.result("crm.deal.details.configuration.set", {"data": LAYOUT}, user=OTHER_REP)
    sandbox.result("crm.deal.details.configuration.set", {"data": LAYOUT, "extras": {"dealCategoryId": 1}}, user=REP)
    assert sandbox.result("crm.deal.details.configuration.forceCommonScopeForAll", {}, user=ADMIN) is True
    assert sandbox.result("crm.deal.details.configuration.get", {}, user=REP) is None
    assert sandbox.result("crm.deal.details.configuration.get", {}, user=OTHER_REP) is None
    assert sandbox.result("crm.deal.details.configuration.get", {"extras": {"dealCategoryId": 1}}, user=REP)
    assert sandbox.result("crm.deal.details.configuration.get", {"scope": "C"}) is not None


def test_force_common_scope_needs_the_admin(sandbox: SandboxPortal) -> None:
    response = sandbox.call("crm.deal.details.configuration.forceCommonScopeForAll", {}, user=MANAGER)
    assert error_of(response) == legacy_error("Access denied.")


# --- crm.item.details.configuration.* ---------------------------------------------------------------


def test_item_variant_with_entity_type_2_is_the_deal_card(sandbox: SandboxPortal) -> None:
    params = {"entityTypeId": 2, "data": LAYOUT, "extras": {"dealCategoryId": 1}}
    assert sandbox.result("crm.item.details.configuration.set", params, user=REP) is True
    got = sandbox.result(
        "crm.item.details.configuration.get", {"entityTypeId": 2, "extras": {"dealCategoryId": 1}}, user=REP
    )
    assert got == STORED
    deal_view = sandbox.result("crm.deal.details.configuration.get", {"extras": {"dealCategoryId": 1}}, user=REP)
    assert deal_view == STORED
    assert sandbox.result(
        "crm.item.details.configuration.reset", {"entityTypeId": 2, "extras": {"dealCategoryId": 1}}, user=REP
    )
    assert sandbox.result("crm.item.details.configuration.forceCommonScopeForAll", {"entityTypeId": 2}, user=ADMIN)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Parameter 'entityTypeId' is not defined"),
        ({"entityTypeId": "abc"}, "Parameter 'entityTypeId' is not defined"),
        ({"entityTypeId": 999}, "Parameter 'entityTypeId' is not defined"),
        ({"entityTypeId": 1}, "The entity type 'LEAD' is not supported in current context."),
        ({"entityTypeId": 3}, "The entity type 'CONTACT' is not supported in current context."),
        ({"entityTypeId": 1032}, "The entity type 'DYNAMIC_1032' is not supported in current context."),
    ],
)
def test_item_variant_refuses_other_entity_types(sandbox: SandboxPortal, params: dict[str, Any], message: str) -> None:
    for method in ("get", "set", "reset", "forceCommonScopeForAll"):
        response = sandbox.call(f"crm.item.details.configuration.{method}", {**params, "data": LAYOUT})
        assert error_of(response) == legacy_error(message)


# --- Which layout a user sees (the portal's own deal card) -----------------------------------------


def test_effective_layout_prefers_personal_then_common_then_the_default(sandbox: SandboxPortal) -> None:
    assert effective_layout(category_id=0, user_id=REP) == CARD_LAYOUTS[0]
    assert effective_layout(category_id=2, user_id=REP) == default_layout()
    sandbox.result("crm.deal.details.configuration.set", {"data": LAYOUT}, user=REP)
    assert effective_layout(category_id=0, user_id=REP) == STORED
    assert effective_layout(category_id=0, user_id=OTHER_REP) == CARD_LAYOUTS[0]


def test_default_layout_is_a_fresh_valid_copy() -> None:
    layout = default_layout()
    layout[0]["title"] = "changed"
    assert default_layout()[0]["title"] == "About the deal"
    assert prepare_layout(default_layout()) == default_layout()


# --- Pure validation ---------------------------------------------------------------------------------


def test_prepare_layout_unwraps_the_ui_column_format() -> None:
    column = [{"name": "default_column", "type": "column", "elements": LAYOUT}]
    assert prepare_layout(column) == STORED


def test_prepare_layout_accepts_a_php_indexed_object_in_any_key_order() -> None:
    assert prepare_layout({"1": LAYOUT[1], "0": LAYOUT[0]}) == STORED


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=30,
)
section_like = st.fixed_dictionaries(
    {},
    optional={
        "name": json_values,
        "title": json_values,
        "type": st.sampled_from(["section", "", "column", "tab"]) | json_values,
        "elements": st.lists(
            st.fixed_dictionaries(
                {}, optional={"name": json_values, "optionFlags": json_values, "options": json_values}
            )
            | json_values,
            max_size=4,
        )
        | json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(section_like | json_values, max_size=5) | json_values)
def test_prepare_layout_either_refuses_with_a_layout_error_or_returns_clean_sections(data: Any) -> None:
    try:
        result = prepare_layout(data)
    except LayoutError as exc:
        assert exc.message
        return
    assert result
    for section in result:
        assert set(section) == {"name", "title", "type", "elements"}
        assert section["type"] == "section" and section["name"].strip() and section["title"].strip()
        for element in section["elements"]:
            assert set(element) <= {"name", "optionFlags", "options"}
            assert isinstance(element.get("optionFlags", ""), str)
