"""crm.contact.*: shapes and wire types as the doc samples, select / filter / order / pages, errors, rights."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.models import Contact, DealContact, Multifield
from sandbox.seed import data
from tests.conftest import SandboxPortal

ADMIN, MANAGER, REP, READONLY = 1, 2, 3, 5


def error_of(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def shared_phone() -> str:
    first = data.SHARED_PHONE_CONTACTS[0]
    return Multifield.objects.filter(element_id=first, type_id="PHONE").order_by("id").first().value  # type: ignore[union-attr]


# --- crm.contact.fields ---------------------------------------------------------------------------


def test_fields_describe_multifields_as_multiple_crm_multifield(sandbox: SandboxPortal) -> None:
    fields = sandbox.result("crm.contact.fields", user=READONLY)
    assert fields["PHONE"] == {
        "type": "crm_multifield",
        "isRequired": False,
        "isReadOnly": False,
        "isImmutable": False,
        "isMultiple": True,
        "isDynamic": False,
        "title": "Phone",
    }
    assert fields["EMAIL"]["isMultiple"] is True
    assert list(fields["TYPE_ID"]) == [
        "type", "isRequired", "isReadOnly", "isImmutable", "isMultiple", "isDynamic", "statusType", "title",
    ]  # fmt: skip
    assert fields["TYPE_ID"]["statusType"] == "CONTACT_TYPE"
    assert fields["COMPANY_ID"]["isDeprecated"] is True
    assert fields["LEAD_ID"]["settings"] == {"parentEntityTypeId": 1}
    assert fields["HAS_PHONE"]["isReadOnly"] is True
    assert list(fields)[:3] == ["ID", "HONORIFIC", "NAME"]


# --- crm.contact.get ------------------------------------------------------------------------------


def test_get_returns_string_ids_iso_dates_and_multifield_lists(sandbox: SandboxPortal) -> None:
    contact_id = data.SHARED_PHONE_CONTACTS[0]
    contact = sandbox.result("crm.contact.get", {"id": contact_id}, user=REP)
    assert contact["ID"] == str(contact_id)
    assert list(contact)[:3] == ["ID", "POST", "COMMENTS"]
    assert isinstance(contact["ASSIGNED_BY_ID"], str)
    assert contact["DATE_CREATE"][10] == "T" and contact["DATE_CREATE"][-6] in "+-"
    assert contact["HAS_PHONE"] == "Y"
    assert contact["OPENED"] in ("Y", "N")
    assert contact["PHOTO"] is None and contact["LEAD_ID"] is None
    phone = contact["PHONE"][0]
    assert list(phone) == ["ID", "VALUE_TYPE", "VALUE", "TYPE_ID"]
    assert isinstance(phone["ID"], str) and phone["TYPE_ID"] == "PHONE"
    assert phone["VALUE"] == shared_phone()


def test_get_of_a_contact_without_channels_has_no_phone_or_email_keys(sandbox: SandboxPortal) -> None:
    contact_id = min(data.CONTACTS_WITHOUT_CHANNELS)
    contact = sandbox.result("crm.contact.get", {"ID": contact_id})
    assert (contact["HAS_PHONE"], contact["HAS_EMAIL"]) == ("N", "N")
    assert "PHONE" not in contact and "EMAIL" not in contact


@pytest.mark.parametrize("params", [{}, {"id": 0}, {"id": -3}, {"id": "abc"}, {"id": []}])
def test_get_with_a_bad_id_is_id_not_defined_or_invalid(sandbox: SandboxPortal, params: dict[str, Any]) -> None:
    assert error_of(sandbox.call("crm.contact.get", params)) == (400, "", "ID is not defined or invalid.")


def test_get_of_a_missing_contact_is_not_found(sandbox: SandboxPortal) -> None:
    assert error_of(sandbox.call("crm.contact.get", {"id": 99999})) == (400, "", "Not found")
    assert error_of(sandbox.call("crm.contact.get", {"id": "9" * 30})) == (400, "", "Not found")


# --- crm.contact.list -----------------------------------------------------------------------------


def test_list_pages_by_fifty_with_total_and_next(sandbox: SandboxPortal) -> None:
    first = sandbox.call("crm.contact.list", {}).json()
    assert (len(first["result"]), first["total"], first["next"]) == (50, data.CONTACT_COUNT, 50)
    second = sandbox.call("crm.contact.list", {"start": 50}).json()
    assert len(second["result"]) == data.CONTACT_COUNT - 50
    assert "next" not in second


def test_list_star_select_has_no_multifields_and_named_multifields_come_last(sandbox: SandboxPortal) -> None:
    silent, talkative = min(data.CONTACTS_WITHOUT_CHANNELS), data.SHARED_PHONE_CONTACTS[0]  # 9 < 14
    rows = sandbox.result("crm.contact.list", {"select": ["*"], "filter": {"@ID": [silent, talkative]}})
    assert all("PHONE" not in row and "EMAIL" not in row for row in rows)
    assert [(r["ID"], r["HAS_PHONE"]) for r in rows] == [(str(silent), "N"), (str(talkative), "Y")]
    rows = sandbox.result("crm.contact.list", {"select": ["EMAIL", "NAME", "PHONE"], "filter": {"ID": 14}})
    assert list(rows[0]) == ["ID", "NAME", "PHONE", "EMAIL"]
    assert rows[0]["PHONE"][0]["VALUE"] == shared_phone()


def test_list_filters_phone_by_stored_values_starting_with_the_value(sandbox: SandboxPortal) -> None:
    """CCrmEntityHelper::PrepareMultiFieldFilter (bitrix24-lists.md): starts-with, `%PHONE` ignored."""
    phone = shared_phone()
    rows = sandbox.result("crm.contact.list", {"filter": {"PHONE": phone}, "select": ["ID"]})
    assert sorted(int(r["ID"]) for r in rows) == sorted(data.SHARED_PHONE_CONTACTS)
    shorter = sandbox.result("crm.contact.list", {"filter": {"PHONE": phone[:-2]}, "select": ["ID"]})
    assert {int(r["ID"]) for r in shorter} >= set(data.SHARED_PHONE_CONTACTS)
    assert sandbox.call("crm.contact.list", {"filter": {"%PHONE": phone[3:]}}).json()["total"] == data.CONTACT_COUNT


def test_list_filters_email_by_prefix_ignoring_case_and_ignores_not_email(sandbox: SandboxPortal) -> None:
    """CCrmEntityHelper::PrepareMultiFieldFilter (bitrix24-lists.md): `!EMAIL` is dropped."""
    email = Multifield.objects.filter(element_id=data.SHARED_EMAIL_CONTACTS[0], type_id="EMAIL").get().value
    rows = sandbox.result("crm.contact.list", {"filter": {"EMAIL": email.upper()}})
    assert sorted(int(r["ID"]) for r in rows) == sorted(data.SHARED_EMAIL_CONTACTS)
    excluded = sandbox.call("crm.contact.list", {"filter": {"!EMAIL": email}}).json()
    assert excluded["total"] == data.CONTACT_COUNT


def test_list_filters_with_operators_and_derived_flags(sandbox: SandboxPortal) -> None:
    without = sandbox.result("crm.contact.list", {"filter": {"HAS_EMAIL": "N", "HAS_PHONE": "N"}})
    assert {int(r["ID"]) for r in without} >= set(data.CONTACTS_WITHOUT_CHANNELS)
    assert [r["ID"] for r in sandbox.result("crm.contact.list", {"filter": {">ID": 57}})] == ["58", "59", "60"]
    assert [r["ID"] for r in sandbox.result("crm.contact.list", {"filter": {"@ID": [3, 5]}})] == ["3", "5"]
    last_name = Contact.objects.get(pk=7).last_name
    found = sandbox.result("crm.contact.list", {"filter": {"%LAST_NAME": last_name[1:4]}})
    assert "7" in [r["ID"] for r in found]


def test_list_orders_by_the_given_fields(sandbox: SandboxPortal) -> None:
    rows = sandbox.result("crm.contact.list", {"order": {"ID": "DESC"}, "select": ["ID"]})
    assert [r["ID"] for r in rows[:2]] == [str(data.CONTACT_COUNT), str(data.CONTACT_COUNT - 1)]


def test_list_rejects_a_filter_or_order_that_is_not_an_object(sandbox: SandboxPortal) -> None:
    expected = (400, "", "Parameter 'filter' must be array.")
    assert error_of(sandbox.call("crm.contact.list", {"filter": "x"})) == expected
    assert error_of(sandbox.call("crm.contact.list", {"order": "x"})) == (400, "", "Parameter 'order' must be array.")


# --- crm.contact.add / update / delete ------------------------------------------------------------


def test_add_returns_an_integer_id_and_stores_phones_and_emails(sandbox: SandboxPortal) -> None:
    fields = {
        "NAME": "John",
        "LAST_NAME": "Smith",
        "BIRTHDATE": "11.11.2001",
        "PHONE": [{"VALUE": "+1333333555", "VALUE_TYPE": "WORK"}, {"VALUE": "+15599888666", "VALUE_TYPE": "HOME"}],
        "EMAIL": [{"VALUE": "john.smith@example.work", "VALUE_TYPE": "WORK"}],
        "ID": 5,
        "DATE_CREATE": "2001-01-01",
    }
    new_id = sandbox.result("crm.contact.add", {"fields": fields}, user=REP)
    assert isinstance(new_id, int) and new_id > data.CONTACT_COUNT
    contact = sandbox.result("crm.contact.get", {"id": new_id})
    assert (contact["NAME"], contact["LAST_NAME"], contact["TYPE_ID"]) == ("John", "Smith", "CLIENT")
    assert (contact["ASSIGNED_BY_ID"], contact["CREATED_BY_ID"]) == (str(REP), str(REP))
    assert contact["BIRTHDATE"].startswith("2001-11-11T00:00:00")
    assert [p["VALUE_TYPE"] for p in contact["PHONE"]] == ["WORK", "HOME"]
    assert contact["EMAIL"][0]["VALUE"] == "john.smith@example.work"
    assert not contact["DATE_CREATE"].startswith("2001")


def test_a_read_only_user_may_not_add_a_contact(sandbox: SandboxPortal) -> None:
    response = sandbox.call("crm.contact.add", {"fields": {"NAME": "X"}}, user=READONLY)
    assert error_of(response) == (400, "", "Access denied.")
    assert Contact.objects.count() == data.CONTACT_COUNT


def test_add_rejects_fields_and_params_that_are_not_objects(sandbox: SandboxPortal) -> None:
    assert error_of(sandbox.call("crm.contact.add", {"fields": "x"})) == (400, "", "Parameter 'fields' must be array.")
    response = sandbox.call("crm.contact.add", {"fields": {"NAME": "X"}, "params": "y"})
    assert error_of(response) == (400, "", "Parameter 'params' must be array.")


def test_add_with_an_invalid_email_is_error_core_and_creates_nothing(sandbox: SandboxPortal) -> None:
    fields = {"NAME": "X", "PHONE": [{"VALUE": "+100"}], "EMAIL": [{"VALUE": "not-an-address", "VALUE_TYPE": "WORK"}]}
    response = sandbox.call("crm.contact.add", {"fields": fields})
    assert error_of(response) == (400, "ERROR_CORE", "The field Work e-mail contains an invalid address")
    assert Contact.objects.count() == data.CONTACT_COUNT
    assert not Multifield.objects.filter(value="+100").exists()


def test_update_changes_adds_and_deletes_multifield_values_by_id(sandbox: SandboxPortal) -> None:
    new_id = sandbox.result(
        "crm.contact.add", {"fields": {"NAME": "A", "PHONE": [{"VALUE": "111"}, {"VALUE": "222"}, {"VALUE": "333"}]}}
    )
    first, second, third = (p["ID"] for p in sandbox.result("crm.contact.get", {"id": new_id})["PHONE"])
    changes = [
        {"ID": first, "VALUE": "444", "VALUE_TYPE": "MOBILE"},
        {"ID": second, "DELETE": "Y"},
        {"ID": third, "VALUE": ""},
        {"VALUE": "555", "VALUE_TYPE": "WORK"},
    ]
    assert sandbox.result("crm.contact.update", {"id": new_id, "fields": {"POST": "CTO", "PHONE": changes}}, user=2)
    contact = sandbox.result("crm.contact.get", {"id": new_id})
    assert [(p["VALUE"], p["VALUE_TYPE"]) for p in contact["PHONE"]] == [("444", "MOBILE"), ("555", "WORK")]
    assert (contact["POST"], contact["MODIFY_BY_ID"]) == ("CTO", "2")


def test_update_errors_follow_the_update_page(sandbox: SandboxPortal) -> None:
    missing = sandbox.call("crm.contact.update", {"id": 99999, "fields": {"NAME": "X"}})
    assert error_of(missing) == (400, "", "Contact is not found")
    denied = sandbox.call("crm.contact.update", {"id": 1, "fields": {"NAME": "X"}}, user=READONLY)
    assert error_of(denied) == (400, "", "Access denied.")
    assert error_of(sandbox.call("crm.contact.update", {"fields": {}})) == (400, "", "ID is not defined or invalid.")
    assert Contact.objects.get(pk=1).name != "X"


def test_deleting_a_primary_contact_promotes_the_next_contact_of_its_deals(sandbox: SandboxPortal) -> None:
    primary = DealContact.objects.filter(is_primary="Y", deal__contact_bindings__is_primary="N").first()
    assert primary is not None
    assert sandbox.result("crm.contact.delete", {"id": primary.contact_id}) is True
    assert error_of(sandbox.call("crm.contact.get", {"id": primary.contact_id})) == (400, "", "Not found")
    remaining = DealContact.objects.filter(deal_id=primary.deal_id)
    assert remaining.filter(is_primary="Y").count() == 1
    assert not Multifield.objects.filter(element_id=primary.contact_id).exists()


def test_delete_of_a_missing_contact_is_element_not_found(sandbox: SandboxPortal) -> None:
    assert error_of(sandbox.call("crm.contact.delete", {"id": 99999})) == (400, "ERROR_CORE", "Element not found")
    assert error_of(sandbox.call("crm.contact.delete", {"id": 1}, user=READONLY)) == (400, "", "Access denied.")


def test_a_form_encoded_add_with_php_keys_works_like_bx24_js_sends_it(sandbox: SandboxPortal) -> None:
    body = "fields[NAME]=Form&fields[PHONE][0][VALUE]=%2B4930123&fields[PHONE][0][VALUE_TYPE]=MOBILE"
    response = requests.post(
        sandbox.rest_url("crm.contact.add"),
        data=f"{body}&auth={sandbox.token(MANAGER)}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    new_id = response.json()["result"]
    contact = sandbox.result("crm.contact.get", {"id": new_id})
    assert contact["PHONE"][0]["VALUE"] == "+4930123" and contact["PHONE"][0]["VALUE_TYPE"] == "MOBILE"
    rows = sandbox.result("crm.contact.list", {"filter": {"ID": new_id}, "select": ["ID", "PHONE", "EMAIL"]})
    assert list(rows[0]) == ["ID", "PHONE"]  # no e-mail: no EMAIL key
