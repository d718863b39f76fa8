"""Deal CRUD over real HTTP: crm.deal.add/update/get/list/delete/fields and crm.item.update (deals).

Expectations come from deals-api-spec.md §4, §5, §9.1, §11 and §14; seeded facts (users 1 admin,
2 manager, 3 and 4 reps, 5 read-only; funnels 0/1/2) from sandbox.seed.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.utils import timezone

from sandbox.deal_fields import GET_ORDER, STANDARD_NAMES
from sandbox.models import (
    Contact,
    Deal,
    DealContact,
    DealUserField,
    ProductRow,
    RecurringDeal,
)
from tests.conftest import SandboxPortal

UF_STRING = "UF_CRM_1700000000001"
UF_ENUM = "UF_CRM_1700000000002"
ID_ERROR = "ID is not defined or invalid."
METHODS_BY_ID: tuple[tuple[str, dict[str, Any]], ...] = (
    ("crm.deal.get", {}),
    ("crm.deal.update", {"fields": {}}),
    ("crm.deal.delete", {}),
)
EVENTS = ("ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE", "ONCRMDEALMOVETOCATEGORY")


def error(response: requests.Response) -> tuple[int, Any, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def legacy_error(description: str) -> tuple[int, str, str]:
    return 400, "", description


def deal_of(user_id: int, **filters: Any) -> Deal:
    return Deal.objects.filter(assigned_by_id=user_id, **filters).order_by("id")[0]


def add(sandbox: SandboxPortal, fields: dict[str, Any], *, user: int = 1) -> int:
    deal_id = sandbox.result("crm.deal.add", {"fields": fields}, user=user)
    assert isinstance(deal_id, int)
    return deal_id


def get(sandbox: SandboxPortal, deal_id: int | str) -> dict[str, Any]:
    deal: dict[str, Any] = sandbox.result("crm.deal.get", {"id": deal_id})
    return deal


@pytest.fixture
def events(sandbox: SandboxPortal, settings: Any) -> Any:
    """Deal Desk installed and bound to the deal events at an unreachable handler; returns a function
    listing (event, data) of every delivery attempt, in order."""
    settings.SANDBOX_EVENTS_SYNC = True
    return sandbox.bind_events(*EVENTS)


# --- crm.deal.fields ------------------------------------------------------------------------------


def test_fields_lists_the_45_standard_descriptors_in_the_documented_order_then_user_fields(
    sandbox: SandboxPortal,
) -> None:
    result = sandbox.result("crm.deal.fields", user=5)
    assert list(result)[:45] == list(STANDARD_NAMES)
    assert len(STANDARD_NAMES) == 45
    assert list(result)[45:] == [UF_STRING, UF_ENUM]
    assert result["TYPE_ID"] == {
        "type": "crm_status", "isRequired": False, "isReadOnly": False, "isImmutable": False,
        "isMultiple": False, "isDynamic": False, "statusType": "DEAL_TYPE", "title": "Type",
    }  # fmt: skip
    assert list(result["CONTACT_ID"]) == [
        "type", "isRequired", "isReadOnly", "isImmutable", "isMultiple", "isDynamic", "isDeprecated", "title",
    ]  # fmt: skip
    assert result["COMPANY_ID"]["settings"] == {"parentEntityTypeId": 4}
    assert result["CATEGORY_ID"]["isImmutable"] is True
    assert result["CONTACT_IDS"]["isMultiple"] is True
    assert result["ASSIGNED_BY_ID"]["title"] == "Assignee"
    assert all(d["isRequired"] is False and d["isDynamic"] is False for d in list(result.values())[:45])


def test_user_field_descriptors_look_like_bitrix24_sends_them(sandbox: SandboxPortal) -> None:
    result = sandbox.result("crm.deal.fields")
    assert result[UF_STRING] == {
        "type": "string", "isRequired": False, "isReadOnly": False, "isImmutable": False, "isMultiple": False,
        "isDynamic": True, "title": UF_STRING, "listLabel": "Contract number", "formLabel": "Contract number",
        "filterLabel": "Contract number",
        "settings": {"SIZE": 20, "ROWS": 1, "REGEXP": "", "MIN_LENGTH": 0, "MAX_LENGTH": 0, "DEFAULT_VALUE": ""},
    }  # fmt: skip
    enum = result[UF_ENUM]
    assert enum["type"] == "enumeration"
    assert enum["items"] == [{"ID": "1", "VALUE": "EXW"}, {"ID": "2", "VALUE": "FOB"}, {"ID": "3", "VALUE": "DAP"}]
    assert list(enum)[6:11] == ["items", "title", "listLabel", "formLabel", "filterLabel"]


# --- crm.deal.add -----------------------------------------------------------------------------------


def test_add_returns_a_numeric_id_and_applies_the_documented_defaults(sandbox: SandboxPortal) -> None:
    deal_id = add(sandbox, {}, user=3)
    deal = get(sandbox, deal_id)
    today = timezone.localdate()
    assert list(deal) == [*GET_ORDER, UF_STRING, UF_ENUM]
    assert deal["ID"] == str(deal_id)
    assert deal["TITLE"] == f"Deal #{deal_id}"
    assert (deal["TYPE_ID"], deal["SOURCE_ID"], deal["CURRENCY_ID"]) == ("SALE", "CALL", "USD")
    assert (deal["CATEGORY_ID"], deal["STAGE_ID"], deal["STAGE_SEMANTIC_ID"], deal["IS_NEW"]) == ("0", "NEW", "P", "Y")
    assert (deal["OPPORTUNITY"], deal["TAX_VALUE"], deal["IS_MANUAL_OPPORTUNITY"]) == ("0.00", "0.00", "N")
    assert (deal["OPENED"], deal["CLOSED"], deal["IS_RECURRING"], deal["IS_RETURN_CUSTOMER"]) == ("Y", "N", "N", "N")
    for key in ("ASSIGNED_BY_ID", "CREATED_BY_ID", "MODIFY_BY_ID", "MOVED_BY_ID", "LAST_ACTIVITY_BY"):
        assert deal[key] == "3"
    assert deal["BEGINDATE"].startswith(today.isoformat() + "T00:00:00")
    assert deal["CLOSEDATE"].startswith((today + timedelta(days=7)).isoformat() + "T00:00:00")
    assert deal["DATE_CREATE"] == deal["DATE_MODIFY"] == deal["MOVED_TIME"]
    assert deal["DATE_CREATE"].endswith("+00:00")
    for key in ("PROBABILITY", "LEAD_ID", "COMPANY_ID", "CONTACT_ID", "QUOTE_ID", "UTM_SOURCE", UF_STRING, UF_ENUM):
        assert deal[key] is None


def test_add_stores_the_documented_sample_with_every_value_as_a_string(sandbox: SandboxPortal) -> None:
    first, second = Contact.objects.order_by("id").values_list("id", flat=True)[:2]
    fields = {
        "TITLE": "New Deal #1", "TYPE_ID": "COMPLEX", "CATEGORY_ID": 0, "STAGE_ID": "PREPARATION",
        "IS_RECURRING": "N", "IS_RETURN_CUSTOMER": "Y", "IS_REPEATED_APPROACH": "Y", "PROBABILITY": 99,
        "CURRENCY_ID": "EUR", "OPPORTUNITY": 1000000, "IS_MANUAL_OPPORTUNITY": "Y", "TAX_VALUE": 0.10,
        "COMPANY_ID": 9, "CONTACT_IDS": [second, first], "BEGINDATE": "2024-08-30T12:19:57+02:00",
        "CLOSEDATE": "2024-09-09T12:19:57+02:00", "OPENED": "Y", "CLOSED": "N", "COMMENTS": "[B]Example comment[/B]",
        "SOURCE_ID": "CALLBACK", "SOURCE_DESCRIPTION": "Additional information about the source",
        "ADDITIONAL_INFO": "Additional information", "UTM_SOURCE": "google", "UTM_MEDIUM": "CPC",
        "PARENT_ID_1220": 22, UF_STRING: "Hello world!", UF_ENUM: "2", "TRACE": "{}",
    }  # fmt: skip
    response = sandbox.call("crm.deal.add", {"FIELDS": fields, "PARAMS": {"REGISTER_SONET_EVENT": "N"}})
    assert response.status_code == 200
    deal = get(sandbox, response.json()["result"])
    assert deal["TITLE"] == "New Deal #1"
    assert (deal["TYPE_ID"], deal["STAGE_ID"], deal["STAGE_SEMANTIC_ID"], deal["IS_NEW"]) == (
        "COMPLEX", "PREPARATION", "P", "N",
    )  # fmt: skip
    assert (deal["PROBABILITY"], deal["CURRENCY_ID"], deal["OPPORTUNITY"], deal["TAX_VALUE"]) == (
        "99", "EUR", "1000000.00", "0.10",
    )  # fmt: skip
    assert (deal["IS_RETURN_CUSTOMER"], deal["IS_REPEATED_APPROACH"], deal["IS_MANUAL_OPPORTUNITY"]) == ("Y", "Y", "Y")
    assert (deal["COMPANY_ID"], deal["CONTACT_ID"]) == ("9", str(second))
    assert deal["BEGINDATE"] == "2024-08-30T00:00:00+00:00"
    assert deal["CLOSEDATE"] == "2024-09-09T00:00:00+00:00"
    assert deal["COMMENTS"] == "[B]Example comment[/B]"
    assert (deal["UTM_SOURCE"], deal["UTM_MEDIUM"], deal["UTM_CAMPAIGN"]) == ("google", "CPC", None)
    assert (deal[UF_STRING], deal[UF_ENUM]) == ("Hello world!", "2")
    assert "PARENT_ID_1220" not in deal and "TRACE" not in deal and "CONTACT_IDS" not in deal
    bindings = list(DealContact.objects.filter(deal_id=deal["ID"]).values_list("contact_id", "sort", "is_primary"))
    assert bindings == [(second, 10, "Y"), (first, 20, "N")]


def test_add_accepts_numeric_strings_as_the_php_sdk_sends_them(sandbox: SandboxPortal) -> None:
    fields = {
        "TYPE_ID": "GOODS",
        "CATEGORY_ID": "1",
        "STAGE_ID": "C1:NEW",
        "CURRENCY_ID": "USD",
        "OPPORTUNITY": "10000",
    }
    deal = get(sandbox, add(sandbox, fields))
    assert (deal["CATEGORY_ID"], deal["STAGE_ID"], deal["OPPORTUNITY"]) == ("1", "C1:NEW", "10000.00")


def test_add_understands_a_php_form_body_with_lower_case_parameter_names(sandbox: SandboxPortal) -> None:
    contact = Contact.objects.order_by("id").values_list("id", flat=True)[2]
    body = {
        "auth": sandbox.token(2),
        "fields[TITLE]": "From a form",
        "fields[CONTACT_IDS][]": [str(contact)],
        "fields[OPPORTUNITY]": "12.5",
        "params[REGISTER_SONET_EVENT]": "Y",
    }
    response = requests.post(sandbox.rest_url("crm.deal.add"), data=body, timeout=10)
    assert response.status_code == 200, response.text
    deal = get(sandbox, response.json()["result"])
    assert (deal["TITLE"], deal["OPPORTUNITY"], deal["CONTACT_ID"], deal["ASSIGNED_BY_ID"]) == (
        "From a form", "12.50", str(contact), "2",
    )  # fmt: skip


def test_add_ignores_read_only_unknown_and_lower_case_field_names(sandbox: SandboxPortal) -> None:
    fields = {
        "TITLE": "Kept", "ID": 999, "DATE_CREATE": "2001-01-01T00:00:00+00:00", "CREATED_BY_ID": 4,
        "STAGE_SEMANTIC_ID": "S", "LEAD_ID": 5, "QUOTE_ID": 7, "IS_NEW": "N", "NOT_A_FIELD": "x",
        "title": "lower case is another field", "UF_CRM_999": "no such user field",
    }  # fmt: skip
    deal_id = add(sandbox, fields)
    assert deal_id != 999
    deal = get(sandbox, deal_id)
    assert (deal["TITLE"], deal["CREATED_BY_ID"], deal["STAGE_SEMANTIC_ID"], deal["IS_NEW"]) == ("Kept", "1", "P", "Y")
    assert (deal["LEAD_ID"], deal["QUOTE_ID"]) == (None, None)
    assert not deal["DATE_CREATE"].startswith("2001")
    assert "UF_CRM_999" not in deal and "NOT_A_FIELD" not in deal


def test_add_puts_the_deal_in_the_right_funnel_and_stage(sandbox: SandboxPortal) -> None:
    funnel = get(sandbox, add(sandbox, {"CATEGORY_ID": 1}))
    assert (funnel["CATEGORY_ID"], funnel["STAGE_ID"], funnel["IS_NEW"]) == ("1", "C1:NEW", "Y")
    by_stage = get(sandbox, add(sandbox, {"STAGE_ID": "C2:PREPARATION"}))
    assert (by_stage["CATEGORY_ID"], by_stage["STAGE_ID"]) == ("2", "C2:PREPARATION")
    foreign_stage = get(sandbox, add(sandbox, {"CATEGORY_ID": 1, "STAGE_ID": "PREPARATION"}))
    assert (foreign_stage["CATEGORY_ID"], foreign_stage["STAGE_ID"]) == ("1", "C1:NEW")
    missing_funnel = get(sandbox, add(sandbox, {"CATEGORY_ID": 99, "STAGE_ID": "C1:NEW"}))
    assert (missing_funnel["CATEGORY_ID"], missing_funnel["STAGE_ID"]) == ("0", "NEW")
    won = get(sandbox, add(sandbox, {"STAGE_ID": "WON", "CLOSED": "N"}))
    assert (won["STAGE_SEMANTIC_ID"], won["CLOSED"]) == ("S", "Y")
    lost = get(sandbox, add(sandbox, {"CATEGORY_ID": 2, "STAGE_ID": "C2:LOSE"}))
    assert (lost["STAGE_SEMANTIC_ID"], lost["CLOSED"]) == ("F", "Y")


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"fields": "TITLE=x"}, "Parameter 'fields' must be array."),
        ({}, "Parameter 'fields' must be array."),
        ({"fields": 5}, "Parameter 'fields' must be array."),
        ({"fields": {}, "params": "Y"}, "Parameter 'params' must be array."),
        ({"fields": {"CURRENCY_ID": "XXX"}}, 'Invalid value for the "Currency" field'),
        ({"fields": {"CURRENCY_ID": ["USD"]}}, 'Invalid value for the "Currency" field'),
    ],
)
def test_add_refuses_malformed_requests_with_the_documented_error(
    sandbox: SandboxPortal, params: dict[str, Any], description: str
) -> None:
    before = Deal.objects.count()
    assert error(sandbox.call("crm.deal.add", params)) == legacy_error(description)
    assert Deal.objects.count() == before


def test_a_read_only_user_may_not_add_deals(sandbox: SandboxPortal) -> None:
    assert error(sandbox.call("crm.deal.add", {"fields": {"TITLE": "x"}}, user=5)) == legacy_error("Access denied")


def test_add_with_odd_values_ignores_them_and_never_fails(sandbox: SandboxPortal) -> None:
    fields = {
        "TITLE": "T" * 100_000, "COMMENTS": "C" * 200_000, "PROBABILITY": "abc", "OPPORTUNITY": "1e400",
        "TAX_VALUE": "NaN", "ASSIGNED_BY_ID": [1], "BEGINDATE": "2024-13-45", "CLOSEDATE": {"a": 1},
        "CONTACT_IDS": "abc", "COMPANY_ID": -3, "CATEGORY_ID": {"a": 1}, "STAGE_ID": ["WON"],
        "IS_RECURRING": "maybe", "UTM_SOURCE": ["google"], UF_ENUM: "99", UF_STRING: ["a", "b"],
        "CURRENCY_ID": "eur", "SOURCE_ID": 12345, "LOCATION_ID": "L" * 500,
    }  # fmt: skip
    deal = get(sandbox, add(sandbox, fields, user=2))
    assert deal["TITLE"] == "T" * 255
    assert len(deal["COMMENTS"]) == 200_000
    assert (deal["PROBABILITY"], deal["OPPORTUNITY"], deal["TAX_VALUE"], deal["ASSIGNED_BY_ID"]) == (
        None, "0.00", "0.00", "2",
    )  # fmt: skip
    assert (deal["CONTACT_ID"], deal["COMPANY_ID"], deal["STAGE_ID"], deal["IS_RECURRING"]) == (None, None, "NEW", "N")
    assert (deal[UF_ENUM], deal[UF_STRING], deal["UTM_SOURCE"]) == (None, None, None)
    assert (deal["CURRENCY_ID"], deal["SOURCE_ID"], len(deal["LOCATION_ID"])) == ("EUR", "12345", 50)


def test_add_queues_oncrmdealadd_with_the_new_id(sandbox: SandboxPortal, events: Any) -> None:
    deal_id = add(sandbox, {"TITLE": "Evented"})
    assert events() == [("ONCRMDEALADD", {"FIELDS": {"ID": str(deal_id)}})]


# --- crm.deal.update --------------------------------------------------------------------------------


def test_update_changes_fields_stamps_the_modifier_and_queues_oncrmdealupdate(
    sandbox: SandboxPortal, events: Any
) -> None:
    deal = deal_of(3)
    response = sandbox.call(
        "crm.deal.update",
        {
            "ID": deal.pk,
            "FIELDS": {"TITLE": "New deal title!", "TYPE_ID": "GOODS", "IS_RECCURING": "Y", UF_STRING: "String"},
            "PARAMS": {"REGISTER_SONET_EVENT": "N", "REGISTER_HISTORY_EVENT": "N"},
        },
        user=2,
    )
    assert response.status_code == 200
    assert response.json()["result"] is True
    after = get(sandbox, deal.pk)
    assert (after["TITLE"], after["TYPE_ID"], after["IS_RECURRING"], after[UF_STRING]) == (
        "New deal title!", "GOODS", deal.is_recurring, "String",
    )  # fmt: skip
    assert after["MODIFY_BY_ID"] == "2"
    assert after["DATE_MODIFY"] > deal.date_modify.isoformat()
    assert after["ASSIGNED_BY_ID"] == "3"
    assert events() == [("ONCRMDEALUPDATE", {"FIELDS": {"ID": str(deal.pk)}})]


def test_update_moves_the_stage_within_the_funnel_with_everything_that_follows(
    sandbox: SandboxPortal, events: Any
) -> None:
    deal_id = add(sandbox, {"CATEGORY_ID": 1}, user=3)
    sandbox.result("crm.deal.update", {"id": deal_id, "fields": {"STAGE_ID": "C1:EXECUTING"}}, user=2)
    moved = get(sandbox, deal_id)
    assert (moved["STAGE_ID"], moved["STAGE_SEMANTIC_ID"], moved["IS_NEW"], moved["CLOSED"]) == (
        "C1:EXECUTING", "P", "N", "N",
    )  # fmt: skip
    assert moved["MOVED_BY_ID"] == "2"
    sandbox.result("crm.deal.update", {"id": deal_id, "fields": {"STAGE_ID": "C1:WON"}})
    won = get(sandbox, deal_id)
    assert (won["STAGE_SEMANTIC_ID"], won["CLOSED"], won["MOVED_BY_ID"]) == ("S", "Y", "1")
    assert won["MOVED_TIME"] >= moved["MOVED_TIME"]
    assert [name for name, _data in events()] == ["ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALUPDATE"]


def test_update_never_changes_the_funnel_and_ignores_a_stage_of_another_funnel(
    sandbox: SandboxPortal, events: Any
) -> None:
    deal = deal_of(3, category_id=0, stage_id="PREPARATION") or deal_of(3, category_id=0)
    before = get(sandbox, deal.pk)
    for fields in ({"CATEGORY_ID": 1}, {"STAGE_ID": "C1:WON"}, {"CATEGORY_ID": 2, "STAGE_ID": "C2:NEW"}):
        assert sandbox.result("crm.deal.update", {"id": deal.pk, "fields": fields}) is True
    assert get(sandbox, deal.pk) == before
    assert events() == []


def test_update_replaces_contacts_and_contact_id_follows_the_primary(sandbox: SandboxPortal) -> None:
    a, b, c = Contact.objects.order_by("id").values_list("id", flat=True)[:3]
    deal_id = add(sandbox, {"CONTACT_IDS": [a, b]})
    sandbox.result("crm.deal.update", {"id": deal_id, "fields": {"CONTACT_IDS": [c, a]}})
    assert get(sandbox, deal_id)["CONTACT_ID"] == str(c)
    bindings = DealContact.objects.filter(deal_id=deal_id).values_list("contact_id", "is_primary")
    assert sorted(bindings) == sorted([(c, "Y"), (a, "N")])
    sandbox.result("crm.deal.update", {"id": deal_id, "fields": {"CONTACT_ID": b}})
    assert get(sandbox, deal_id)["CONTACT_ID"] == str(b)
    assert DealContact.objects.filter(deal_id=deal_id).count() == 3
    sandbox.result("crm.deal.update", {"id": deal_id, "fields": {"CONTACT_IDS": []}})
    assert get(sandbox, deal_id)["CONTACT_ID"] is None
    assert not DealContact.objects.filter(deal_id=deal_id).exists()


def test_update_keeps_a_manual_amount_and_recomputes_an_automatic_one_from_the_rows(sandbox: SandboxPortal) -> None:
    deal = Deal.objects.filter(product_rows__isnull=False).distinct().order_by("id")[0]
    rows = ProductRow.objects.filter(deal=deal)
    total = sum((row.price * row.quantity for row in rows), Decimal(0)).quantize(Decimal("0.01"))
    manual = {"OPPORTUNITY": 4321.5, "IS_MANUAL_OPPORTUNITY": "Y"}
    sandbox.result("crm.deal.update", {"id": deal.pk, "fields": manual})
    assert get(sandbox, deal.pk)["OPPORTUNITY"] == "4321.50"
    sandbox.result("crm.deal.update", {"id": deal.pk, "fields": {"IS_MANUAL_OPPORTUNITY": "N", "OPPORTUNITY": 1}})
    assert get(sandbox, deal.pk)["OPPORTUNITY"] == str(total)


def test_an_update_that_changes_nothing_saves_nothing_and_sends_no_event(sandbox: SandboxPortal, events: Any) -> None:
    deal = deal_of(4)
    before = get(sandbox, deal.pk)
    fields = {"TITLE": deal.title, "NOT_A_FIELD": 1, "DATE_CREATE": "2020-01-01"}
    assert sandbox.result("crm.deal.update", {"id": deal.pk, "fields": fields}) is True
    assert get(sandbox, deal.pk) == before
    assert events() == []


@pytest.mark.parametrize("bad_id", [0, -1, "abc", "", None, [], {}, False])
def test_get_update_and_delete_refuse_an_id_that_is_missing_or_not_positive(
    sandbox: SandboxPortal, bad_id: Any
) -> None:
    for method, extra in METHODS_BY_ID:
        params = {**extra, "id": bad_id} if bad_id is not None else extra
        assert error(sandbox.call(method, params)) == legacy_error(ID_ERROR), method


def test_get_update_and_delete_answer_not_found_for_an_unknown_deal(sandbox: SandboxPortal) -> None:
    for method, extra in METHODS_BY_ID:
        for missing in (999_999, "999999", 99_999_999_999_999_999_999):
            assert error(sandbox.call(method, {**extra, "ID": missing})) == legacy_error("Not found"), method


def test_ids_are_read_like_php_intval(sandbox: SandboxPortal) -> None:
    deal = deal_of(3)
    assert get(sandbox, f" {deal.pk}")["ID"] == str(deal.pk)
    assert sandbox.result("crm.deal.get", {"ID": f"{deal.pk}abc"})["ID"] == str(deal.pk)
    assert sandbox.result("crm.deal.get", {"Id": float(deal.pk)})["ID"] == str(deal.pk)


def test_update_refuses_bad_fields_params_and_currency_and_changes_nothing(sandbox: SandboxPortal) -> None:
    deal = deal_of(3)
    before = get(sandbox, deal.pk)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"id": deal.pk, "fields": "x"}, "Parameter 'fields' must be array."),
        ({"id": deal.pk}, "Parameter 'fields' must be array."),
        ({"id": deal.pk, "fields": {}, "params": 1}, "Parameter 'params' must be array."),
        (
            {"id": deal.pk, "fields": {"TITLE": "changed", "CURRENCY_ID": "BTC"}},
            'Invalid value for the "Currency" field',
        ),
    ]
    for params, description in cases:
        assert error(sandbox.call("crm.deal.update", params)) == legacy_error(description)
    assert get(sandbox, deal.pk) == before


def test_reps_update_their_own_deals_only_and_read_only_users_none(sandbox: SandboxPortal) -> None:
    own, other = deal_of(3), deal_of(4)
    rename = {"fields": {"TITLE": "Renamed"}}
    assert sandbox.result("crm.deal.update", {"id": own.pk, **rename}, user=3) is True
    assert error(sandbox.call("crm.deal.update", {"id": other.pk, **rename}, user=3)) == legacy_error("Access denied")
    assert error(sandbox.call("crm.deal.update", {"id": own.pk, **rename}, user=5)) == legacy_error("Access denied")
    assert sandbox.result("crm.deal.update", {"id": other.pk, **rename}, user=2) is True
    assert sandbox.result("crm.deal.update", {"id": other.pk, **rename}, user=1) is True
    assert Deal.objects.get(pk=other.pk).title == "Renamed"


def test_update_with_odd_values_ignores_them_and_never_fails(sandbox: SandboxPortal) -> None:
    deal = deal_of(2)
    before = get(sandbox, deal.pk)
    odd = {
        "OPPORTUNITY": [1], "PROBABILITY": 10**30, "ASSIGNED_BY_ID": "-5", "CONTACT_ID": "x",
        "CONTACT_IDS": {"a": {"b": 1}}, "BEGINDATE": "31/31/2024", "STAGE_ID": {"x": 1}, "OPENED": [],
        UF_ENUM: {"1": "2"}, "TITLE": None,
    }  # fmt: skip
    assert sandbox.result("crm.deal.update", {"id": deal.pk, "fields": odd}) is True
    after = get(sandbox, deal.pk)
    assert after["TITLE"] == ""
    assert {k: v for k, v in after.items() if k not in ("TITLE", "DATE_MODIFY", "MODIFY_BY_ID", "CONTACT_ID")} == {
        k: v for k, v in before.items() if k not in ("TITLE", "DATE_MODIFY", "MODIFY_BY_ID", "CONTACT_ID")
    }


# --- crm.deal.get -----------------------------------------------------------------------------------


def test_get_returns_every_field_as_a_string_or_null_in_the_sample_order(sandbox: SandboxPortal) -> None:
    seeded = Deal.objects.exclude(uf={}).filter(contact_bindings__isnull=False).order_by("id")[0]
    deal = sandbox.result("crm.deal.get", {"ID": seeded.pk}, user=5)
    assert list(deal) == [*GET_ORDER, UF_STRING, UF_ENUM]
    assert all(value is None or isinstance(value, str) for value in deal.values())
    assert deal["OPPORTUNITY"] == f"{seeded.opportunity:.2f}"
    primary = DealContact.objects.get(deal=seeded, is_primary="Y").contact_id
    assert deal["CONTACT_ID"] == str(primary)
    assert deal["CATEGORY_ID"] == str(seeded.category_id)
    assert deal[UF_STRING] == seeded.uf.get(UF_STRING)


# --- crm.deal.list ----------------------------------------------------------------------------------


def _make_deals(count: int) -> None:
    now = timezone.now()
    Deal.objects.bulk_create(
        Deal(title=f"Bulk {i:03d}", date_create=now, date_modify=now, assigned_by_id=2) for i in range(count)
    )


def _ids(sandbox: SandboxPortal, params: dict[str, Any], *, user: int = 1) -> list[int]:
    response = sandbox.call("crm.deal.list", params, user=user)
    assert response.status_code == 200, response.text
    return [int(row["ID"]) for row in response.json()["result"]]


def test_list_pages_by_fifty_with_total_and_next_absent_on_the_last_page(sandbox: SandboxPortal) -> None:
    _make_deals(120 - Deal.objects.count())
    pages = {start: sandbox.call("crm.deal.list", {"start": start, "select": ["ID"]}).json() for start in (0, 50, 100)}
    assert [len(p["result"]) for p in pages.values()] == [50, 50, 20]
    assert [p["total"] for p in pages.values()] == [120, 120, 120]
    assert [p.get("next") for p in pages.values()] == [50, 100, None]
    assert "next" not in pages[100]
    every = [row["ID"] for p in pages.values() for row in p["result"]]
    assert len(set(every)) == 120


def test_list_rounds_start_down_to_a_page_and_start_minus_one_skips_counting(sandbox: SandboxPortal) -> None:
    _make_deals(60)
    first = sandbox.call("crm.deal.list", {"select": ["ID"]}).json()
    assert sandbox.call("crm.deal.list", {"select": ["ID"], "start": 10}).json()["result"] == first["result"]
    second = sandbox.call("crm.deal.list", {"select": ["ID"], "start": 50}).json()
    assert sandbox.call("crm.deal.list", {"select": ["ID"], "START": "63"}).json()["result"] == second["result"]
    uncounted = sandbox.call("crm.deal.list", {"select": ["ID"], "start": -1}).json()
    assert (len(uncounted["result"]), uncounted["total"], "next" in uncounted) == (50, 0, False)
    beyond = sandbox.call("crm.deal.list", {"select": ["ID"], "start": 5000}).json()
    # A page past the last is page 1 again (CDBResult::NavQuery, bitrix24-lists.md).
    assert (beyond["result"], beyond["total"], beyond["next"]) == (first["result"], first["total"], 50)


def test_list_default_select_is_all_standard_fields_and_user_fields(sandbox: SandboxPortal) -> None:
    row = sandbox.call("crm.deal.list", {"filter": {"ID": 1}}).json()["result"][0]
    assert list(row) == [*GET_ORDER, UF_STRING, UF_ENUM]
    assert row == get(sandbox, 1)


def test_list_select_masks_and_names(sandbox: SandboxPortal) -> None:
    def keys(select: Any) -> list[str]:
        return list(sandbox.call("crm.deal.list", {"filter": {"ID": 2}, "select": select}).json()["result"][0])

    assert keys(["TITLE", "OPPORTUNITY", "CONTACT_IDS", "NOPE"]) == ["ID", "TITLE", "OPPORTUNITY"]
    assert keys(["*"]) == list(GET_ORDER)
    assert keys(["UF_*"]) == ["ID", UF_STRING, UF_ENUM]
    assert keys(["stage_id", UF_ENUM]) == ["ID", "STAGE_ID", UF_ENUM]
    assert keys({"0": "TITLE"}) == ["ID", "TITLE"]


def test_multiple_user_fields_are_left_out_of_uf_star_but_can_be_named(sandbox: SandboxPortal) -> None:
    DealUserField.objects.create(field_name="UF_CRM_TAGS", user_type_id="string", label="Tags", multiple="Y", sort=120)
    deal_id = add(sandbox, {"UF_CRM_TAGS": ["red", "", "blue"]})
    row = sandbox.call("crm.deal.list", {"filter": {"ID": deal_id}, "select": ["UF_*"]}).json()["result"][0]
    assert "UF_CRM_TAGS" not in row
    named = sandbox.call("crm.deal.list", {"filter": {"ID": deal_id}, "select": ["UF_CRM_TAGS"]}).json()["result"][0]
    assert named == {"ID": str(deal_id), "UF_CRM_TAGS": ["red", "blue"]}
    assert get(sandbox, add(sandbox, {}))["UF_CRM_TAGS"] == []
    assert sandbox.result("crm.deal.fields")["UF_CRM_TAGS"]["isMultiple"] is True


def test_list_orders_by_several_keys_and_by_stage_sort_order(sandbox: SandboxPortal) -> None:
    ordered = _ids(sandbox, {"order": {"ASSIGNED_BY_ID": "DESC", "OPPORTUNITY": "ASC"}, "select": ["ID"]})
    expected = list(Deal.objects.order_by("-assigned_by_id", "opportunity", "id").values_list("id", flat=True))
    assert ordered == expected
    rows = sandbox.call(
        "crm.deal.list", {"filter": {"CATEGORY_ID": 0}, "order": {"STAGE_ID": "ASC"}, "select": ["STAGE_ID"]}
    ).json()["result"]
    stage_order = ["NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE", "WON", "LOSE", "APOLOGY"]
    positions = [stage_order.index(row["STAGE_ID"]) for row in rows]
    assert positions == sorted(positions) and len(set(positions)) > 3
    descending = _ids(sandbox, {"order": {"ID": "desc"}, "select": ["ID"]})
    assert descending == sorted(descending, reverse=True)
    by_contract = _ids(sandbox, {"order": {UF_STRING: "DESC"}, "filter": {"!" + UF_STRING: ""}})
    contracts = [Deal.objects.get(pk=pk).uf[UF_STRING] for pk in by_contract]
    assert contracts == sorted(contracts, reverse=True) and contracts
    for derived in ("STAGE_SEMANTIC_ID", "CONTACT_ID", "NO_SUCH_FIELD"):
        assert len(_ids(sandbox, {"order": {derived: "ASC"}})) == 50


def _expect(qs: Any) -> list[int]:
    return sorted(qs.values_list("id", flat=True))


def test_list_filters_support_every_documented_operator(sandbox: SandboxPortal) -> None:
    deals = Deal.objects.all()
    cases: list[tuple[dict[str, Any], Any]] = [
        ({"ID": 5}, deals.filter(pk=5)),
        ({"=ID": "5"}, deals.filter(pk=5)),
        ({"!=ID": 5}, deals.exclude(pk=5)),
        ({"!ID": 5}, deals.exclude(pk=5)),
        ({">ID": 40}, deals.filter(pk__gt=40)),
        ({">=ID": 40}, deals.filter(pk__gte=40)),
        ({"<ID": 5}, deals.filter(pk__lt=5)),
        ({"<=ID": 5}, deals.filter(pk__lte=5)),
        ({"@ID": [1, 3, 7]}, deals.filter(pk__in=[1, 3, 7])),
        ({"!@ID": [1, 3, 7]}, deals.exclude(pk__in=[1, 3, 7])),
        (
            {">OPPORTUNITY": 10000, "<=OPPORTUNITY": "20000"},
            deals.filter(opportunity__gt=10000, opportunity__lte=20000),
        ),
        ({"%TITLE": "licen"}, deals.filter(title__icontains="licen")),
        ({"=%TITLE": "a%"}, deals.filter(title__istartswith="a")),
        ({"%=TITLE": "%s"}, deals.filter(title__iendswith="s")),
        ({"!%TITLE": "a"}, deals.exclude(title__icontains="a")),
        ({"STAGE_ID": "C1:NEW"}, deals.filter(stage_id="C1:NEW")),
        ({"%STAGE_ID": "NEW"}, deals.filter(stage_id="NEW")),  # LIKE is not applied to crm_status
        ({"@STAGE_ID": ["WON", "C1:WON"]}, deals.filter(stage_id__in=["WON", "C1:WON"])),
        ({"STAGE_SEMANTIC_ID": "S"}, deals.filter(stage_id__in=["WON", "C1:WON", "C2:WON"])),
        ({"!STAGE_SEMANTIC_ID": "P"}, deals.filter(closed="Y")),
        ({"CATEGORY_ID": 1, "ASSIGNED_BY_ID": 3}, deals.filter(category_id=1, assigned_by_id=3)),
        ({"@ASSIGNED_BY_ID": ["3", "4"]}, deals.filter(assigned_by_id__in=[3, 4])),
        ({">=BEGINDATE": "2025-01-01"}, deals.filter(begindate__gte="2025-01-01")),
        ({"<CLOSEDATE": "2025-03-01T00:00:00+00:00"}, deals.filter(closedate__lt="2025-03-01")),
        ({">DATE_CREATE": "2025-04-01T00:00:00+00:00"}, deals.filter(date_create__gt="2025-04-01T00:00:00+00:00")),
        ({"IS_MANUAL_OPPORTUNITY": "Y"}, deals.filter(is_manual_opportunity="Y")),
        ({UF_ENUM: "3"}, deals.filter(uf__UF_CRM_1700000000002="3")),
        ({"%" + UF_STRING: "DD-2024"}, deals.filter(uf__UF_CRM_1700000000001__icontains="DD-2024")),
        ({"CONTACT_IDS": [1, 2]}, deals),  # not supported by the filter: ignored
        ({"NO_SUCH_FIELD": 1}, deals),
    ]
    for filter_, expected in cases:
        assert sorted(_ids(sandbox, {"filter": filter_, "select": ["ID"]})) == _expect(expected), filter_


def test_list_filters_by_the_primary_contact(sandbox: SandboxPortal) -> None:
    binding = DealContact.objects.filter(is_primary="Y").order_by("id")[0]
    primary = DealContact.objects.filter(contact_id=binding.contact_id, is_primary="Y")
    expected = _expect(Deal.objects.filter(pk__in=primary.values("deal_id")))
    assert sorted(_ids(sandbox, {"filter": {"CONTACT_ID": binding.contact_id}})) == expected


def test_list_with_values_the_database_cannot_compare_matches_nothing_instead_of_failing(
    sandbox: SandboxPortal,
) -> None:
    for filter_ in (
        {">DATE_CREATE": "2024-13-45"},
        {"BEGINDATE": "2024-02-30"},
        {"OPPORTUNITY": "NaN"},
        {"<OPPORTUNITY": "Infinity"},
        {"ID": "99999999999999999999999"},
        {"@ID": ["x", {"a": 1}]},
        {"ID": {"nested": [1]}},
    ):
        assert _ids(sandbox, {"filter": filter_}) == [], filter_


def test_list_refuses_a_filter_or_order_that_is_not_an_array(sandbox: SandboxPortal) -> None:
    assert error(sandbox.call("crm.deal.list", {"filter": "x"})) == legacy_error("Parameter 'filter' must be array.")
    assert error(sandbox.call("crm.deal.list", {"ORDER": "x"})) == legacy_error("Parameter 'order' must be array.")
    assert error(sandbox.call("crm.deal.list", {"order": 1, "filter": 1})) == legacy_error(
        "Parameter 'order' must be array."
    )


def test_every_role_may_list_and_read_deals(sandbox: SandboxPortal) -> None:
    for user in (1, 2, 3, 4, 5):
        assert len(_ids(sandbox, {"select": ["ID"]}, user=user)) == 50
        assert get(sandbox, 1)["ID"] == "1"


def test_list_works_inside_a_batch_with_total_and_next(sandbox: SandboxPortal) -> None:
    _make_deals(10)
    body = sandbox.result("batch", {"cmd": {"page": "crm.deal.list?select[]=ID&order[ID]=DESC"}})
    assert len(body["result"]["page"]) == 50
    assert (body["result_total"]["page"], body["result_next"]["page"]) == (60, 50)


# --- crm.deal.delete --------------------------------------------------------------------------------


def test_delete_removes_the_deal_its_rows_bindings_and_recurrences(sandbox: SandboxPortal, events: Any) -> None:
    deal = Deal.objects.filter(recurrences__isnull=False, contact_bindings__isnull=False).distinct()[0]
    contacts = list(DealContact.objects.filter(deal=deal).values_list("contact_id", flat=True))
    assert ProductRow.objects.filter(deal=deal).exists()
    assert sandbox.result("crm.deal.delete", {"ID": deal.pk}) is True
    assert error(sandbox.call("crm.deal.get", {"id": deal.pk})) == legacy_error("Not found")
    assert not ProductRow.objects.filter(deal_id=deal.pk).exists()
    assert not DealContact.objects.filter(deal_id=deal.pk).exists()
    assert not RecurringDeal.objects.filter(deal_id=deal.pk).exists()
    assert Contact.objects.filter(pk__in=contacts).count() == len(contacts)
    assert events() == [("ONCRMDEALDELETE", {"FIELDS": {"ID": str(deal.pk)}})]


def test_reps_delete_their_own_deals_only_and_read_only_users_none(sandbox: SandboxPortal) -> None:
    own, other = deal_of(3), deal_of(4)
    assert error(sandbox.call("crm.deal.delete", {"id": other.pk}, user=3)) == legacy_error("Access denied")
    assert error(sandbox.call("crm.deal.delete", {"id": own.pk}, user=5)) == legacy_error("Access denied")
    assert error(sandbox.call("crm.deal.delete", {"id": 999_999}, user=5)) == legacy_error("Access denied")
    assert sandbox.result("crm.deal.delete", {"id": own.pk}, user=3) is True
    assert sandbox.result("crm.deal.delete", {"id": other.pk}, user=2) is True
    assert not Deal.objects.filter(pk__in=[own.pk, other.pk]).exists()


# --- crm.item.update (funnel moves) ---------------------------------------------------------------


def test_item_update_moves_a_deal_to_another_funnel_and_answers_with_the_item(
    sandbox: SandboxPortal, events: Any
) -> None:
    deal = deal_of(3, category_id=0)
    params = {"entityTypeId": 2, "id": deal.pk, "fields": {"categoryId": 1, "stageId": "C1:EXECUTING"}}
    item = sandbox.result("crm.item.update", params, user=3)["item"]
    assert (item["id"], item["entityTypeId"], item["categoryId"], item["stageId"]) == (deal.pk, 2, 1, "C1:EXECUTING")
    assert (item["stageSemanticId"], item["closed"], item["movedBy"], item["updatedBy"]) == ("P", "N", 3, 3)
    assert isinstance(item["opportunity"], int | float) and isinstance(item["contactIds"], list)
    assert item["ufCrm_1700000000001"] == deal.uf.get(UF_STRING)
    legacy = get(sandbox, deal.pk)
    assert (legacy["CATEGORY_ID"], legacy["STAGE_ID"]) == ("1", "C1:EXECUTING")
    fields = {"ID": str(deal.pk), "CATEGORY_ID": "1", "STAGE_ID": "C1:EXECUTING"}
    assert events() == [("ONCRMDEALMOVETOCATEGORY", {"FIELDS": fields})]


def test_item_update_without_a_stage_moves_to_the_first_stage_and_takes_the_seed_sample_spelling(
    sandbox: SandboxPortal,
) -> None:
    deal = deal_of(4, category_id=1)
    item = sandbox.result("crm.item.update", {"entityTypeId": 2, "id": deal.pk, "fields": {"categoryId": 2}})["item"]
    assert (item["categoryId"], item["stageId"], item["isNew"]) == (2, "C2:NEW", "Y")
    sample = {"entityTypeId": 2, "id": deal.pk, "fields": {"STAGE_ID": "EXECUTING", "categoryId": 0}}
    item = sandbox.result("crm.item.update", sample)["item"]
    assert (item["categoryId"], item["stageId"]) == (0, "EXECUTING")


def test_item_update_within_the_funnel_is_an_ordinary_update(sandbox: SandboxPortal, events: Any) -> None:
    deal = deal_of(2, category_id=2)
    fields = {"stageId": "C2:WON", "title": "Won via item", "ufCrm_1700000000002": 1, "UF_CRM_1700000000001": "x"}
    item = sandbox.result("crm.item.update", {"entityTypeId": 2, "id": deal.pk, "fields": fields})["item"]
    assert (item["stageId"], item["title"], item["closed"], item["ufCrm_1700000000002"]) == (
        "C2:WON",
        "Won via item",
        "Y",
        1,
    )
    assert item["ufCrm_1700000000001"] == deal.uf.get(UF_STRING)  # original UF names need useOriginalUfNames=Y
    assert events() == [("ONCRMDEALUPDATE", {"FIELDS": {"ID": str(deal.pk)}})]
    original = {"entityTypeId": 2, "id": deal.pk, "useOriginalUfNames": "Y", "fields": {UF_STRING: "x"}}
    assert sandbox.result("crm.item.update", original)["item"][UF_STRING] == "x"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"entityTypeId": 3, "id": 1, "fields": {}}, (400, "NOT_FOUND", "Smart process not found")),
        ({"entityTypeId": 2, "id": 999_999, "fields": {}}, (400, "NOT_FOUND", "Element not found")),
        ({"entityTypeId": 2, "id": 0, "fields": {}}, (400, "NOT_FOUND", "Element not found")),
        ({"id": 1, "fields": {}}, (400, 100, "Could not find value for parameter {entityTypeId}")),
        ({"entityTypeId": 2, "fields": {}}, (400, 100, "Could not find value for parameter {id}")),
        ({"entityTypeId": 2, "id": 1}, (400, 100, "Could not find value for parameter {fields}")),
        (
            {"entityTypeId": 2, "id": "abc", "fields": {}},
            (400, 100, "Invalid value abc to match with parameter {id}. Should be value of type int."),
        ),
        (
            {"entityTypeId": [2], "id": 1, "fields": {}},
            (400, 100, "Invalid value Array to match with parameter {entityTypeId}. Should be value of type int."),
        ),
        (
            {"entityTypeId": 2, "id": 1, "fields": "x"},
            (400, 100, "Invalid value x to match with parameter {fields}. Should be value of type array"),
        ),
        (
            {"entityTypeId": 2, "id": 1, "fields": {"categoryId": 99}},
            (400, "CRM_FIELD_ERROR_VALUE_NOT_VALID", 'Invalid value for field "Category"'),
        ),
        (
            {"entityTypeId": 2, "id": 1, "fields": {"categoryId": 1, "stageId": "C2:NEW"}},
            (400, "CRM_FIELD_ERROR_VALUE_NOT_VALID", 'Invalid value for field "Stage"'),
        ),
        (
            {"entityTypeId": 2, "id": 1, "fields": {"currencyId": "BTC"}},
            (400, "CRM_FIELD_ERROR_VALUE_NOT_VALID", 'Invalid value for field "Currency"'),
        ),
    ],
)
def test_item_update_errors_are_the_documented_ones(
    sandbox: SandboxPortal, params: dict[str, Any], expected: tuple[int, Any, str]
) -> None:
    before = get(sandbox, 1)
    assert error(sandbox.call("crm.item.update", params)) == expected
    assert get(sandbox, 1) == before


def test_item_update_respects_who_may_edit_the_deal(sandbox: SandboxPortal) -> None:
    other = deal_of(4)
    params = {"entityTypeId": 2, "id": other.pk, "fields": {"categoryId": 2}}
    assert error(sandbox.call("crm.item.update", params, user=3)) == (400, "ACCESS_DENIED", "Access denied")
    assert error(sandbox.call("crm.item.update", params, user=5)) == (400, "ACCESS_DENIED", "Access denied")
    assert Deal.objects.get(pk=other.pk).category_id == other.category_id


# --- crm.item.get (confirming a deletion) ---------------------------------------------------------


def test_item_get_answers_a_deal_as_an_item(sandbox: SandboxPortal) -> None:
    deal = deal_of(3)
    item = sandbox.result("crm.item.get", {"entityTypeId": 2, "id": deal.pk}, user=5)["item"]
    assert item["id"] == deal.pk and item["title"] == deal.title


@pytest.mark.parametrize("user", [1, 3, 5], ids=["admin", "rep", "read-only"])
def test_item_get_of_a_deleted_deal_is_not_found_for_every_user(sandbox: SandboxPortal, user: int) -> None:
    """Existence is checked before rights (bitrix24-uninstall.md, crm lib/controller/item.php)."""
    deal = deal_of(4)
    assert sandbox.result("crm.deal.delete", {"id": deal.pk}, user=1) is True
    response = sandbox.call("crm.item.get", {"entityTypeId": 2, "id": deal.pk}, user=user)
    assert error(response) == (400, "NOT_FOUND", "Element not found")


def test_item_get_of_another_entity_type_or_without_an_id_is_refused(sandbox: SandboxPortal) -> None:
    assert error(sandbox.call("crm.item.get", {"entityTypeId": 1031, "id": 1}))[1] == "NOT_FOUND"
    assert error(sandbox.call("crm.item.get", {"entityTypeId": 2}))[:2] == (400, 100)
