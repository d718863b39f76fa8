"""crm.deal.userfield.* over real HTTP, against b24restdocs api-reference/crm/deals/user-defined-fields/."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.models import Deal, DealUserField
from tests.conftest import SandboxPortal

EVENTS = (
    "ONCRMDEALUSERFIELDADD",
    "ONCRMDEALUSERFIELDUPDATE",
    "ONCRMDEALUSERFIELDDELETE",
    "ONCRMDEALUSERFIELDSETENUMVALUES",
)
LANGS = (
    "ar", "br", "de", "en", "fr", "hi", "id", "in", "it", "ja", "kz", "la", "ms", "pl", "ru", "sc", "tc",
    "th", "tr", "ua", "vn",
)  # fmt: skip
READ_ONLY_USER = 5
REP = 3


def error(response: requests.Response) -> tuple[int, Any, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def add(sandbox: SandboxPortal, fields: dict[str, Any]) -> int:
    result = sandbox.result("crm.deal.userfield.add", {"fields": fields})
    assert isinstance(result, int)
    return result


@pytest.fixture
def events(sandbox: SandboxPortal, settings: Any) -> Any:
    """The app bound to the four user-field events; returns (event, data) of every delivery."""
    settings.SANDBOX_EVENTS_SYNC = True
    return sandbox.bind_events(*EVENTS)


# --- add -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name"),
    [("MANAGER_NOTE", "UF_CRM_MANAGER_NOTE"), ("UF_MANAGER_NOTE", "UF_CRM_MANAGER_NOTE"),
     ("UF_CRM_MANAGER_NOTE", "UF_CRM_MANAGER_NOTE"), ("manager_note", "UF_CRM_MANAGER_NOTE")],
)  # fmt: skip
def test_add_builds_the_field_name_with_the_uf_crm_prefix(sandbox: SandboxPortal, code: str, name: str) -> None:
    """Docs: "`MANAGER_NOTE` becomes `UF_CRM_MANAGER_NOTE`; `UF_MANAGER_NOTE` becomes `UF_CRM_MANAGER_NOTE` ...
    `UF_CRM_MANAGER_NOTE` remains unchanged ... Lowercase letters are converted to uppercase"."""
    field_id = add(sandbox, {"FIELD_NAME": code, "USER_TYPE_ID": "string"})
    assert sandbox.result("crm.deal.userfield.get", {"id": field_id})["FIELD_NAME"] == name


def test_add_answers_the_new_id_and_get_returns_the_documented_shape(sandbox: SandboxPortal) -> None:
    """The add sample's request (LABEL, a string for one text, lang_maps for others, SETTINGS) read back
    as the get sample shows it: strings for ID/SORT, every language in each text."""
    field_id = add(
        sandbox,
        {
            "LABEL": "Field 'Hello, world!'", "USER_TYPE_ID": "string", "FIELD_NAME": "HELLO_WORLD",
            "MULTIPLE": "Y", "MANDATORY": "Y", "SHOW_FILTER": "Y",
            "SETTINGS": {"DEFAULT_VALUE": "Hello, world! Default value", "ROWS": 3}, "SORT": 1000,
            "EDIT_IN_LIST": "Y", "LIST_FILTER_LABEL": "Hello, world! Filter",
            "LIST_COLUMN_LABEL": {"en": "Hello, World! Column", "de": "Hallo, Welt! Spalte"},
            "EDIT_FORM_LABEL": {"en": "Hello, World! Edit"},
        },
    )  # fmt: skip
    field = sandbox.result("crm.deal.userfield.get", {"id": field_id})
    assert list(field)[:13] == [
        "ID", "ENTITY_ID", "FIELD_NAME", "USER_TYPE_ID", "XML_ID", "SORT", "MULTIPLE", "MANDATORY", "SHOW_FILTER",
        "SHOW_IN_LIST", "EDIT_IN_LIST", "IS_SEARCHABLE", "SETTINGS",
    ]  # fmt: skip
    assert field["ID"] == str(field_id)
    assert (field["ENTITY_ID"], field["FIELD_NAME"], field["USER_TYPE_ID"]) == (
        "CRM_DEAL",
        "UF_CRM_HELLO_WORLD",
        "string",
    )
    assert (field["XML_ID"], field["SORT"], field["MULTIPLE"], field["MANDATORY"]) == (None, "1000", "Y", "Y")
    # SHOW_FILTER "Y" is stored as E ("mask"); SHOW_IN_LIST and EDIT_IN_LIST default to Y.
    assert (field["SHOW_FILTER"], field["SHOW_IN_LIST"], field["EDIT_IN_LIST"], field["IS_SEARCHABLE"]) == (
        "E", "Y", "Y", "N",
    )  # fmt: skip
    assert field["SETTINGS"] == {
        "SIZE": 20, "ROWS": 3, "REGEXP": "", "MIN_LENGTH": 0, "MAX_LENGTH": 0,
        "DEFAULT_VALUE": "Hello, world! Default value",
    }  # fmt: skip
    assert list(field["EDIT_FORM_LABEL"]) == list(LANGS)
    # "When a string is provided, it will be set for all language identifiers."
    assert set(field["LIST_FILTER_LABEL"].values()) == {"Hello, world! Filter"}
    # "When a lang_map ... is provided, the value from LABEL will be set for all languages that were not provided."
    assert field["LIST_COLUMN_LABEL"]["de"] == "Hallo, Welt! Spalte"
    assert field["LIST_COLUMN_LABEL"]["fr"] == "Field 'Hello, world!'"
    assert field["EDIT_FORM_LABEL"]["en"] == "Hello, World! Edit"
    # "By default, the value passed in LABEL is set" - also for ERROR_MESSAGE and HELP_MESSAGE.
    assert set(field["HELP_MESSAGE"].values()) == {"Field 'Hello, world!'"}


def test_add_without_fields_key_reads_the_request_itself(sandbox: SandboxPortal) -> None:
    """UserFieldProxy: `fields` missing means the whole request is the field (restservice.php)."""
    field_id = sandbox.result("crm.deal.userfield.add", {"FIELD_NAME": "FLAT", "USER_TYPE_ID": "integer"})
    assert sandbox.result("crm.deal.userfield.get", {"id": field_id})["FIELD_NAME"] == "UF_CRM_FLAT"


def test_an_enumeration_gets_list_values_with_ids_and_one_default(sandbox: SandboxPortal) -> None:
    """LIST "elements with an empty or missing VALUE will be ignored"; "For non-multiple, the first passed
    list item ... DEF = Y" is the default."""
    field_id = add(
        sandbox,
        {
            "LABEL": "Custom field (list)", "USER_TYPE_ID": "enumeration", "FIELD_NAME": "ENUMERATION_EXAMPLE",
            "LIST": [
                {"VALUE": "List item #1", "DEF": "Y", "XML_ID": "XML_ID_1", "SORT": 100},
                {"VALUE": "List item #2", "DEF": "Y", "XML_ID": "XML_ID_2", "SORT": 200},
                {"VALUE": "", "SORT": 250},
                {"VALUE": "List item #3", "XML_ID": "XML_ID_3", "SORT": 300},
            ],
            "SETTINGS": {"DISPLAY": "UI", "LIST_HEIGHT": 2}, "SORT": 2000,
        },
    )  # fmt: skip
    field = sandbox.result("crm.deal.userfield.get", {"id": field_id})
    values = field["LIST"]
    assert [(v["VALUE"], v["SORT"], v["DEF"], v["XML_ID"]) for v in values] == [
        ("List item #1", "100", "Y", "XML_ID_1"),
        ("List item #2", "200", "N", "XML_ID_2"),
        ("List item #3", "300", "N", "XML_ID_3"),
    ]
    ids = [int(v["ID"]) for v in values]
    assert ids == sorted(ids) and len(set(ids)) == 3 and min(ids) > 3  # the seed's values are 1..3
    assert field["SETTINGS"] == {"DISPLAY": "UI", "LIST_HEIGHT": 2, "CAPTION_NO_VALUE": "", "SHOW_NO_VALUE": "Y"}
    described = sandbox.result("crm.deal.fields")["UF_CRM_ENUMERATION_EXAMPLE"]
    assert described["items"] == [{"ID": v["ID"], "VALUE": v["VALUE"]} for v in values]


def test_a_boolean_field_is_never_multiple(sandbox: SandboxPortal) -> None:
    """Docs: "Fields of type boolean cannot be multiple."."""
    field_id = add(sandbox, {"FIELD_NAME": "FLAG", "USER_TYPE_ID": "boolean", "MULTIPLE": "Y"})
    field = sandbox.result("crm.deal.userfield.get", {"id": field_id})
    assert field["MULTIPLE"] == "N"
    assert field["SETTINGS"]["DISPLAY"] == "CHECKBOX"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"USER_TYPE_ID": "string"}, ("", "The 'FIELD_NAME' field is not found.")),
        ({"FIELD_NAME": "X"}, ("", "The 'USER_TYPE_ID' field is not found.")),
        ({"FIELD_NAME": "", "USER_TYPE_ID": ""},
         ("", "The 'USER_TYPE_ID' field is not found.\nThe 'FIELD_NAME' field is not found.")),
        ({"FIELD_NAME": "X" * 44, "USER_TYPE_ID": "string"},
         ("ERROR_CORE", "Field name is too long (more than 50 characters).")),
        ({"FIELD_NAME": "NOTE-1", "USER_TYPE_ID": "string"},
         ("ERROR_CORE", "Field name contains invalid characters. Allowed characters are: A-Z, 0-9 and _.")),
        ({"FIELD_NAME": "X", "USER_TYPE_ID": "colour"}, ("ERROR_CORE", "Incorrect custom type specified.")),
        ({"FIELD_NAME": "X", "USER_TYPE_ID": "enumeration",
          "LIST": [{"VALUE": "a", "XML_ID": "xml_id"}, {"VALUE": "b", "XML_ID": "xml_id"}]},
         ("ERROR_CORE", "List item with value XML_ID=xml_id already exists.")),
    ],
)  # fmt: skip
def test_add_errors_are_the_documented_ones_and_save_nothing(
    sandbox: SandboxPortal, fields: dict[str, Any], expected: tuple[str, str]
) -> None:
    before = DealUserField.objects.count()
    assert error(sandbox.call("crm.deal.userfield.add", {"fields": fields})) == (400, *expected)
    assert DealUserField.objects.count() == before


def test_a_43_character_code_is_the_longest_allowed(sandbox: SandboxPortal) -> None:
    """Docs: "up to 43 characters for the code"."""
    field_id = add(sandbox, {"FIELD_NAME": "X" * 43, "USER_TYPE_ID": "string"})
    assert sandbox.result("crm.deal.userfield.get", {"id": field_id})["FIELD_NAME"] == "UF_CRM_" + "X" * 43


def test_a_duplicate_name_is_refused(sandbox: SandboxPortal) -> None:
    add(sandbox, {"FIELD_NAME": "TWICE", "USER_TYPE_ID": "string"})
    status, code, _text = error(
        sandbox.call("crm.deal.userfield.add", {"fields": {"FIELD_NAME": "TWICE", "USER_TYPE_ID": "string"}})
    )
    assert (status, code) == (400, "ERROR_CORE")
    assert DealUserField.objects.filter(field_name="UF_CRM_TWICE").count() == 1


@pytest.mark.parametrize("user", [REP, READ_ONLY_USER])
def test_only_an_administrator_changes_fields_but_anyone_reading_deals_reads_them(
    sandbox: SandboxPortal, user: int
) -> None:
    """Docs: "creating, modifying, and deleting a field is available to a CRM administrator ..., while any user
    with the "read" access permission for deals can retrieve a field and a list of fields"."""
    denied = (400, "", "Access denied.")
    assert (
        error(
            sandbox.call("crm.deal.userfield.add", {"fields": {"FIELD_NAME": "Z", "USER_TYPE_ID": "string"}}, user=user)
        )
        == denied
    )
    assert error(sandbox.call("crm.deal.userfield.update", {"id": 1, "fields": {"SORT": 5}}, user=user)) == denied
    assert error(sandbox.call("crm.deal.userfield.delete", {"id": 1}, user=user)) == denied
    assert sandbox.result("crm.deal.userfield.get", {"id": 1}, user=user)["FIELD_NAME"] == "UF_CRM_1700000000001"
    assert len(sandbox.result("crm.deal.userfield.list", {}, user=user)) == 2
    assert DealUserField.objects.get(pk=1).sort == 100


# --- get / list ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["crm.deal.userfield.get", "crm.deal.userfield.delete"])
def test_id_errors(sandbox: SandboxPortal, method: str) -> None:
    """Docs: "ID is not defined or invalid" for id <= 0 or missing; ERROR_NOT_FOUND "The entity with ID
    'id' is not found"."""
    for params in ({}, {"id": 0}, {"id": "abc"}, {"id": -4}):
        assert error(sandbox.call(method, params)) == (400, "", "ID is not defined or invalid.")
    assert error(sandbox.call(method, {"id": 999})) == (
        400,
        "ERROR_NOT_FOUND",
        "The entity with ID '999' is not found.",
    )


def test_list_orders_by_sort_then_id_and_gives_labels_only_for_a_language(sandbox: SandboxPortal) -> None:
    """Default order {"SORT": "ASC", "ID": "ASC"}; the labels "are returned either as string when passing
    filter.LANG, or are not returned at all"; `total` is the count."""
    add(sandbox, {"FIELD_NAME": "FIRST", "USER_TYPE_ID": "string", "SORT": 10, "LABEL": "First"})
    body = sandbox.call("crm.deal.userfield.list", {}).json()
    names = [f["FIELD_NAME"] for f in body["result"]]
    assert names == ["UF_CRM_FIRST", "UF_CRM_1700000000001", "UF_CRM_1700000000002"]
    assert body["total"] == 3
    assert "EDIT_FORM_LABEL" not in body["result"][0]
    enum = body["result"][2]
    assert [(v["ID"], v["VALUE"]) for v in enum["LIST"]] == [("1", "EXW"), ("2", "FOB"), ("3", "DAP")]
    with_lang = sandbox.result("crm.deal.userfield.list", {"filter": {"LANG": "en", "USER_TYPE_ID": "string"}})
    assert [(f["FIELD_NAME"], f["EDIT_FORM_LABEL"]) for f in with_lang] == [
        ("UF_CRM_FIRST", "First"), ("UF_CRM_1700000000001", "Contract number"),
    ]  # fmt: skip
    by_id = sandbox.result("crm.deal.userfield.list", {"order": {"ID": "DESC"}})
    assert by_id[0]["FIELD_NAME"] == "UF_CRM_FIRST"


def test_list_refuses_a_filter_or_order_that_is_not_an_array(sandbox: SandboxPortal) -> None:
    assert error(sandbox.call("crm.deal.userfield.list", {"order": "SORT"})) == (
        400, "", "Parameter 'order' must be array.",
    )  # fmt: skip
    assert error(sandbox.call("crm.deal.userfield.list", {"filter": "x"})) == (
        400, "", "Parameter 'filter' must be array.",
    )  # fmt: skip


# --- update --------------------------------------------------------------------------------------


def test_update_changes_only_what_is_sent_and_texts_replace_all_languages(sandbox: SandboxPortal) -> None:
    """Docs: "Only those fields that need to be changed should be passed"; a text sent "completely overwrites
    the previous value" and "For languages where no value is explicitly specified, '' will be recorded";
    SETTINGS "only overwrites the passed values"."""
    field_id = add(sandbox, {"FIELD_NAME": "NOTE", "USER_TYPE_ID": "string", "LABEL": "Note", "SORT": 300})
    assert sandbox.result(
        "crm.deal.userfield.update",
        {"id": field_id, "fields": {"MANDATORY": "Y", "SETTINGS": {"ROWS": 10}, "EDIT_FORM_LABEL": {"en": "Memo"},
                                    "MULTIPLE": "Y", "FIELD_NAME": "OTHER", "USER_TYPE_ID": "integer"}},
    ) is True  # fmt: skip
    field = sandbox.result("crm.deal.userfield.get", {"id": field_id})
    assert (field["MANDATORY"], field["SORT"], field["MULTIPLE"]) == ("Y", "300", "N")
    assert (field["FIELD_NAME"], field["USER_TYPE_ID"]) == ("UF_CRM_NOTE", "string")
    assert field["SETTINGS"]["ROWS"] == 10 and field["SETTINGS"]["DEFAULT_VALUE"] == ""
    assert field["EDIT_FORM_LABEL"]["en"] == "Memo" and field["EDIT_FORM_LABEL"]["de"] == ""
    assert set(field["LIST_COLUMN_LABEL"].values()) == {"Note"}
    assert sandbox.result("crm.deal.fields")["UF_CRM_NOTE"]["formLabel"] == "Memo"
    assert sandbox.result("crm.deal.fields")["UF_CRM_NOTE"]["isRequired"] is True


def test_update_errors(sandbox: SandboxPortal) -> None:
    assert error(sandbox.call("crm.deal.userfield.update", {"id": 1, "fields": "x"})) == (
        400, "", "Parameter 'fields' must be array.",
    )  # fmt: skip
    assert error(sandbox.call("crm.deal.userfield.update", {"id": 0, "fields": {"SORT": 1}})) == (
        400, "", "ID is not defined or invalid.",
    )  # fmt: skip
    assert error(sandbox.call("crm.deal.userfield.update", {"id": 77, "fields": {"SORT": 1}})) == (
        400, "ERROR_NOT_FOUND", "The entity with ID '77' is not found.",
    )  # fmt: skip


def test_update_changes_list_values_by_id_deletes_with_del_and_adds_the_rest(
    sandbox: SandboxPortal, events: Any
) -> None:
    """uf_enum_element: "When passing this parameter [ID], the corresponding list item will be changed;
    otherwise, a new list item will be added"; DEL "Makes sense only when passing ID". The change of the
    set fires onCrmDealUserFieldSetEnumValues after onCrmDealUserFieldUpdate."""
    list_ = [{"VALUE": "A", "SORT": 10}, {"VALUE": "B", "SORT": 20}, {"VALUE": "C", "SORT": 30}]
    field_id = add(sandbox, {"FIELD_NAME": "LETTERS", "USER_TYPE_ID": "enumeration", "LIST": list_})
    a, b, c = (v["ID"] for v in sandbox.result("crm.deal.userfield.get", {"id": field_id})["LIST"])
    changes = [{"ID": a, "DEL": "Y"}, {"ID": b, "VALUE": "B2", "SORT": 50}, {"VALUE": "D", "SORT": 40}, {"DEL": "Y"}]
    sandbox.result("crm.deal.userfield.update", {"id": field_id, "fields": {"LIST": changes}})
    values = sandbox.result("crm.deal.userfield.get", {"id": field_id})["LIST"]
    assert [(v["VALUE"], v["SORT"]) for v in values] == [("C", "30"), ("D", "40"), ("B2", "50")]
    assert values[0]["ID"] == c and values[2]["ID"] == b and int(values[1]["ID"]) > int(c)
    fields = {"ID": str(field_id), "ENTITY_ID": "CRM_DEAL", "FIELD_NAME": "UF_CRM_LETTERS"}
    assert events() == [
        ("ONCRMDEALUSERFIELDADD", {"FIELDS": fields}),
        ("ONCRMDEALUSERFIELDUPDATE", {"FIELDS": fields}),
        ("ONCRMDEALUSERFIELDSETENUMVALUES", {"FIELDS": fields}),
    ]


# --- delete and events ---------------------------------------------------------------------------


def test_delete_removes_the_field_and_its_values_and_fires_the_event(sandbox: SandboxPortal, events: Any) -> None:
    field_id = add(sandbox, {"FIELD_NAME": "GONE", "USER_TYPE_ID": "string"})
    deal_id = sandbox.result("crm.deal.add", {"fields": {"TITLE": "t", "UF_CRM_GONE": "value"}})
    assert Deal.objects.get(pk=deal_id).uf["UF_CRM_GONE"] == "value"
    assert sandbox.result("crm.deal.userfield.delete", {"id": field_id}) is True
    assert "UF_CRM_GONE" not in Deal.objects.get(pk=deal_id).uf
    assert "UF_CRM_GONE" not in sandbox.result("crm.deal.get", {"id": deal_id})
    assert "UF_CRM_GONE" not in sandbox.result("crm.deal.fields")
    fields = {"ID": str(field_id), "ENTITY_ID": "CRM_DEAL", "FIELD_NAME": "UF_CRM_GONE"}
    assert ("ONCRMDEALUSERFIELDDELETE", {"FIELDS": fields}) in events()
    assert error(sandbox.call("crm.deal.userfield.get", {"id": field_id}))[1] == "ERROR_NOT_FOUND"


def test_the_four_events_can_be_bound(sandbox: SandboxPortal) -> None:
    """The overview's events are in the crm scope's event list, so event.bind accepts them."""
    sandbox.install_app()
    for name in ("onCrmDealUserFieldAdd", "onCrmDealUserFieldUpdate", "onCrmDealUserFieldDelete",
                 "onCrmDealUserFieldSetEnumValues"):  # fmt: skip
        assert sandbox.result("event.bind", {"event": name, "handler": "https://example.com/h"}) is True


# --- values in deals -----------------------------------------------------------------------------


def test_new_fields_are_described_read_and_written_through_the_deal_methods(sandbox: SandboxPortal) -> None:
    """Docs: "in the response of the methods crm.deal.get and crm.deal.list, the value arrives in the
    UF_CRM_MANAGER_NOTE field; in the methods crm.deal.add and crm.deal.update, the value is passed in
    fields under the same name; crm.deal.fields returns custom fields together with system ones"."""
    add(sandbox, {"FIELD_NAME": "MANAGER_NOTE", "USER_TYPE_ID": "string", "LABEL": "Manager note"})
    add(sandbox, {"FIELD_NAME": "SEATS", "USER_TYPE_ID": "integer"})
    add(sandbox, {"FIELD_NAME": "RATE", "USER_TYPE_ID": "double"})
    add(sandbox, {"FIELD_NAME": "VIP", "USER_TYPE_ID": "boolean"})
    add(sandbox, {"FIELD_NAME": "MEETING", "USER_TYPE_ID": "datetime"})
    add(sandbox, {"FIELD_NAME": "BUDGET", "USER_TYPE_ID": "money"})
    add(sandbox, {"FIELD_NAME": "TAGS", "USER_TYPE_ID": "string", "MULTIPLE": "Y"})
    level = add(sandbox, {"FIELD_NAME": "LEVEL", "USER_TYPE_ID": "enumeration", "LIST": [{"VALUE": "Gold"}]})
    gold = sandbox.result("crm.deal.userfield.get", {"id": level})["LIST"][0]["ID"]
    described = sandbox.result("crm.deal.fields")
    assert described["UF_CRM_MANAGER_NOTE"]["listLabel"] == "Manager note"
    assert described["UF_CRM_TAGS"]["isMultiple"] is True
    assert {described[f"UF_CRM_{n}"]["type"] for n in ("SEATS", "RATE", "VIP", "MEETING", "BUDGET", "LEVEL")} == {
        "integer", "double", "boolean", "datetime", "money", "enumeration",
    }  # fmt: skip
    deal_id = sandbox.result(
        "crm.deal.add",
        {"fields": {"TITLE": "UF deal", "UF_CRM_MANAGER_NOTE": "call back", "UF_CRM_SEATS": "12", "UF_CRM_RATE": 2.5,
                    "UF_CRM_VIP": "Y", "UF_CRM_MEETING": "2026-03-01T10:30:00+00:00", "UF_CRM_BUDGET": "1500.5|EUR",
                    "UF_CRM_TAGS": ["a", "b"], "UF_CRM_LEVEL": gold}},
    )  # fmt: skip
    deal = sandbox.result("crm.deal.get", {"id": deal_id})
    assert deal["UF_CRM_MANAGER_NOTE"] == "call back"
    assert (deal["UF_CRM_SEATS"], deal["UF_CRM_RATE"], deal["UF_CRM_VIP"]) == ("12", "2.5", "1")
    assert deal["UF_CRM_MEETING"].startswith("2026-03-01T")
    assert (deal["UF_CRM_BUDGET"], deal["UF_CRM_TAGS"], deal["UF_CRM_LEVEL"]) == ("1500.5|EUR", ["a", "b"], gold)
    sandbox.result("crm.deal.update", {"id": deal_id, "fields": {"UF_CRM_SEATS": "not a number", "UF_CRM_VIP": "N"}})
    row = sandbox.result("crm.deal.list", {"filter": {"ID": deal_id}, "select": ["UF_*"]})[0]
    assert (row["UF_CRM_SEATS"], row["UF_CRM_VIP"]) == ("12", "0")  # an unusable value is ignored
    assert "UF_CRM_TAGS" not in row  # "'UF_*' — to select all custom fields (excluding multiple fields)"


def test_list_values_come_back_in_sort_order_in_get_and_in_deal_fields(sandbox: SandboxPortal) -> None:
    """The list sample's LIST runs by SORT (10, 20, 30, ...), whatever order the values were sent in."""
    values = [{"VALUE": "late", "SORT": 300}, {"VALUE": "early", "SORT": 100}, {"VALUE": "middle", "SORT": 200}]
    field_id = add(sandbox, {"FIELD_NAME": "ORDERED", "USER_TYPE_ID": "enumeration", "LIST": values})
    listed = sandbox.result("crm.deal.userfield.get", {"id": field_id})["LIST"]
    assert [v["VALUE"] for v in listed] == ["early", "middle", "late"]
    items = sandbox.result("crm.deal.fields")["UF_CRM_ORDERED"]["items"]
    assert [i["VALUE"] for i in items] == ["early", "middle", "late"]


def test_nonsense_in_fields_is_dropped_or_refused_never_a_500(sandbox: SandboxPortal) -> None:
    field_id = add(
        sandbox,
        {"FIELD_NAME": "ODD", "USER_TYPE_ID": "enumeration", "SORT": "9" * 40, "LABEL": "L" * 300,
         "LIST": "not a list", "SETTINGS": "none", "EDIT_FORM_LABEL": {"en": ["x"]}, "MANDATORY": {"a": 1}},
    )  # fmt: skip
    field = sandbox.result("crm.deal.userfield.get", {"id": field_id})
    assert (field["SORT"], field["LIST"], field["MANDATORY"]) == (str(2**31 - 1), [], "N")
    assert field["EDIT_FORM_LABEL"]["en"] == "L" * 200
    assert sandbox.call("crm.deal.userfield.get", {"id": "9" * 30}).status_code == 400
    # A non-empty array is PHP (int) 1, as every crm id is read (bitrix24-batch.md, "Ids").
    for params in ({"id": [7]}, {"id": {"a": 1}}):
        assert sandbox.result("crm.deal.userfield.get", params)["ID"] == "1"
    assert sandbox.call("crm.deal.userfield.list", {"filter": {"ID": {"x": 1}, "SORT": "abc"}}).status_code == 200
    assert len(sandbox.result("crm.deal.userfield.list", {"filter": ["x"], "order": ["ID"]})) == 3
    response = sandbox.call(
        "crm.deal.userfield.update", {"id": field_id, "fields": {"LIST": [{"ID": "x", "DEL": "Y"}]}}
    )
    assert response.status_code == 200
