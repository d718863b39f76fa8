"""crm.deal.contact.*: binding shapes, the one-primary invariant, replace semantics, errors and rights."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count

from sandbox.models import App, Deal, DealContact, EventDelivery
from tests.conftest import SandboxPortal

ADMIN, MANAGER, REP, OTHER_REP, READONLY = 1, 2, 3, 4, 5
OWNER_QUOTED = "The parameter 'ownerEntityID' is invalid or not defined."
OWNER_PLAIN = "The parameter ownerEntityID is invalid or not defined."


def error_of(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def deal_of(assigned: int | None = None, *, contacts: int = 0) -> Deal:
    """A seeded deal with at least `contacts` bindings (exactly none when contacts=0)."""
    deals = Deal.objects.annotate(n=Count("contact_bindings"))
    deals = deals.filter(n__gte=contacts) if contacts else deals.filter(n=0)
    if assigned is not None:
        deals = deals.filter(assigned_by_id=assigned)
    deal = deals.order_by("id").first()
    assert deal is not None
    return deal


def items(sandbox: SandboxPortal, deal_id: int, user: int = ADMIN) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = sandbox.result("crm.deal.contact.items.get", {"id": deal_id}, user=user)
    return result


def assert_one_primary(rows: list[dict[str, Any]]) -> None:
    if rows:
        assert [r["IS_PRIMARY"] for r in rows].count("Y") == 1
        assert {r["IS_PRIMARY"] for r in rows} <= {"Y", "N"}


def free_contacts(deal: Deal, count: int) -> list[int]:
    bound = set(DealContact.objects.filter(deal=deal).values_list("contact_id", flat=True))
    return [cid for cid in range(1, 61) if cid not in bound][:count]


# --- fields and items.get -------------------------------------------------------------------------


def test_fields_describe_sort_is_primary_and_a_required_contact_id(sandbox: SandboxPortal) -> None:
    flags = {"isReadOnly": False, "isImmutable": False, "isMultiple": False, "isDynamic": False}
    assert sandbox.result("crm.deal.contact.fields", user=READONLY) == {
        "SORT": {"type": "integer", "isRequired": False, **flags, "title": "Sorting"},
        "IS_PRIMARY": {"type": "char", "isRequired": False, **flags, "title": "Primary"},
        "CONTACT_ID": {"type": "integer", "isRequired": True, **flags, "title": "Contact"},
    }


def test_items_get_returns_json_numbers_ordered_by_sort_with_one_primary(sandbox: SandboxPortal) -> None:
    deal = deal_of(contacts=3)
    rows = items(sandbox, deal.pk, user=READONLY)
    assert len(rows) >= 3
    assert list(rows[0]) == ["CONTACT_ID", "SORT", "ROLE_ID", "IS_PRIMARY"]
    assert all(isinstance(r["CONTACT_ID"], int) and isinstance(r["SORT"], int) and r["ROLE_ID"] == 0 for r in rows)
    assert [r["SORT"] for r in rows] == sorted(r["SORT"] for r in rows)
    assert_one_primary(rows)


def test_items_get_of_a_deal_without_contacts_is_an_empty_list(sandbox: SandboxPortal) -> None:
    assert items(sandbox, deal_of().pk) == []


@pytest.mark.parametrize("deal_id", [None, 0, -1, "abc", []])
def test_items_methods_reject_a_bad_deal_id(sandbox: SandboxPortal, deal_id: Any) -> None:
    params = {} if deal_id is None else {"id": deal_id}
    expected = (400, "", OWNER_PLAIN)
    assert error_of(sandbox.call("crm.deal.contact.items.get", params)) == expected
    assert error_of(sandbox.call("crm.deal.contact.items.set", {**params, "items": []})) == expected
    assert error_of(sandbox.call("crm.deal.contact.items.delete", params)) == expected
    assert error_of(sandbox.call("crm.deal.contact.add", {**params, "fields": {"CONTACT_ID": 1}})) == (
        400, "", OWNER_QUOTED,
    )  # fmt: skip
    assert error_of(sandbox.call("crm.deal.contact.delete", {**params, "fields": {"CONTACT_ID": 1}})) == (
        400, "", OWNER_QUOTED,
    )  # fmt: skip


def test_every_method_on_a_missing_deal_is_not_found(sandbox: SandboxPortal) -> None:
    assert error_of(sandbox.call("crm.deal.contact.items.get", {"id": 99999})) == (400, "", "Not found.")
    assert error_of(sandbox.call("crm.deal.contact.items.set", {"id": 99999, "items": []})) == (400, "", "Not found.")
    assert error_of(sandbox.call("crm.deal.contact.items.delete", {"id": 99999})) == (400, "", "Not found")
    add = sandbox.call("crm.deal.contact.add", {"id": "9" * 25, "fields": {"CONTACT_ID": 1}})
    assert error_of(add) == (400, "", "Not found.")


# --- items.set ------------------------------------------------------------------------------------


def test_items_set_replaces_the_set_and_defaults_primary_and_sort(sandbox: SandboxPortal) -> None:
    deal = deal_of(contacts=2)
    a, b, c = free_contacts(deal, 3)
    pair = [{"CONTACT_ID": a}, {"CONTACT_ID": b}]
    assert sandbox.result("crm.deal.contact.items.set", {"id": deal.pk, "items": pair})
    assert items(sandbox, deal.pk) == [
        {"CONTACT_ID": a, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
        {"CONTACT_ID": b, "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "N"},
    ]
    doc_sample = [
        {"CONTACT_ID": c, "SORT": 400},
        {"CONTACT_ID": a, "IS_PRIMARY": "Y", "SORT": 100},
        {"CONTACT_ID": b, "IS_PRIMARY": "Y", "SORT": 200},
    ]
    assert sandbox.result("crm.deal.contact.items.set", {"id": deal.pk, "items": doc_sample})
    rows = items(sandbox, deal.pk)
    got = [(r["CONTACT_ID"], r["SORT"], r["IS_PRIMARY"]) for r in rows]
    assert got == [(a, 100, "Y"), (b, 200, "N"), (c, 400, "N")]


def test_items_set_dedupes_keeps_the_first_and_skips_elements_without_a_valid_contact(sandbox: SandboxPortal) -> None:
    deal = deal_of(contacts=1)
    a, b = free_contacts(deal, 2)
    raw = [
        {"CONTACT_ID": -4},
        "not an object",
        {"CONTACT_ID": "abc", "IS_PRIMARY": "Y"},
        {"SORT": 5},
        {"CONTACT_ID": str(a), "SORT": "30"},
        {"CONTACT_ID": b, "IS_PRIMARY": "Y"},
        {"CONTACT_ID": a, "SORT": 1, "IS_PRIMARY": "Y"},
    ]
    assert sandbox.result("crm.deal.contact.items.set", {"id": deal.pk, "items": raw}) is True
    rows = items(sandbox, deal.pk)
    assert [(r["CONTACT_ID"], r["SORT"], r["IS_PRIMARY"]) for r in rows] == [(a, 30, "N"), (b, 60, "Y")]


def test_items_set_with_an_empty_array_or_object_clears_the_deal(sandbox: SandboxPortal) -> None:
    first, second = deal_of(contacts=1), deal_of(contacts=2)
    assert sandbox.result("crm.deal.contact.items.set", {"id": first.pk, "items": []}) is True
    assert sandbox.result("crm.deal.contact.items.set", {"id": second.pk, "items": {}}) is True
    assert items(sandbox, first.pk) == [] and items(sandbox, second.pk) == []


@pytest.mark.parametrize("value", ["x", 5, None])
def test_items_set_without_an_items_array_changes_nothing(sandbox: SandboxPortal, value: Any) -> None:
    deal = deal_of(contacts=2)
    before = items(sandbox, deal.pk)
    params: dict[str, Any] = {"id": deal.pk} if value is None else {"id": deal.pk, "items": value}
    response = sandbox.call("crm.deal.contact.items.set", params)
    assert error_of(response) == (400, "", "The parameter items must be array.")
    assert items(sandbox, deal.pk) == before


def test_items_set_with_an_unknown_contact_fails_and_writes_nothing(sandbox: SandboxPortal) -> None:
    deal = deal_of(contacts=2)
    before = items(sandbox, deal.pk)
    modified = deal.date_modify
    payload = {"id": deal.pk, "items": [{"CONTACT_ID": free_contacts(deal, 1)[0]}, {"CONTACT_ID": 99999}]}
    response = sandbox.call("crm.deal.contact.items.set", payload)
    assert error_of(response) == (400, "", "[Contact #99999] You do not have permission to view this item")
    assert items(sandbox, deal.pk) == before
    assert Deal.objects.get(pk=deal.pk).date_modify == modified


def test_items_set_refuses_more_than_five_hundred_items(sandbox: SandboxPortal) -> None:
    deal = deal_of(contacts=1)
    payload = {"id": deal.pk, "items": [{"CONTACT_ID": 1 + i % 60} for i in range(501)]}
    response = sandbox.call("crm.deal.contact.items.set", payload)
    assert error_of(response) == (400, "", "The parameter items must not contain more than 500 elements.")


def test_an_unchanged_set_returns_true_without_touching_the_deal(sandbox: SandboxPortal) -> None:
    deal = deal_of(contacts=2)
    current = [{k: r[k] for k in ("CONTACT_ID", "SORT", "IS_PRIMARY")} for r in items(sandbox, deal.pk)]
    assert sandbox.result("crm.deal.contact.items.set", {"id": deal.pk, "items": current}, user=MANAGER) is True
    assert Deal.objects.get(pk=deal.pk).modify_by_id == deal.modify_by_id


# --- add / delete / items.delete ------------------------------------------------------------------


def test_add_links_a_contact_once_and_the_first_link_becomes_primary(sandbox: SandboxPortal) -> None:
    deal = deal_of()
    a, b = free_contacts(deal, 2)
    fields = {"CONTACT_ID": a, "IS_PRIMARY": "N"}
    assert sandbox.result("crm.deal.contact.add", {"id": deal.pk, "fields": fields}) is True
    assert sandbox.result("crm.deal.contact.add", {"id": deal.pk, "fields": {"CONTACT_ID": a}}) is False
    assert sandbox.result("crm.deal.contact.add", {"id": deal.pk, "fields": {"CONTACT_ID": str(b)}}) is True
    assert items(sandbox, deal.pk) == [
        {"CONTACT_ID": a, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
        {"CONTACT_ID": b, "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "N"},
    ]


def test_add_as_primary_demotes_the_old_primary(sandbox: SandboxPortal) -> None:
    deal = deal_of(contacts=2)
    new = free_contacts(deal, 1)[0]
    fields = {"CONTACT_ID": new, "IS_PRIMARY": "Y", "SORT": 1000}
    assert sandbox.result("crm.deal.contact.add", {"id": deal.pk, "fields": fields}) is True
    rows = items(sandbox, deal.pk)
    assert_one_primary(rows)
    assert rows[-1] == {"CONTACT_ID": new, "SORT": 1000, "ROLE_ID": 0, "IS_PRIMARY": "Y"}


@pytest.mark.parametrize(
    "fields", [{}, {"CONTACT_ID": 0}, {"CONTACT_ID": -5}, {"CONTACT_ID": "abc"}, [], {"contact_id": 3}, {"SORT": 10}]
)
def test_add_without_a_valid_contact_id_is_fields_not_valid(sandbox: SandboxPortal, fields: Any) -> None:
    response = sandbox.call("crm.deal.contact.add", {"id": deal_of().pk, "fields": fields})
    assert error_of(response) == (400, "", "The parameter 'fields' is not valid.")


def test_add_and_delete_reject_fields_that_are_not_objects_with_their_own_texts(sandbox: SandboxPortal) -> None:
    deal = deal_of(contacts=1)
    add = sandbox.call("crm.deal.contact.add", {"id": deal.pk, "fields": "x"})
    assert error_of(add) == (400, "", "The parameter 'fields' must be array.")
    delete = sandbox.call("crm.deal.contact.delete", {"id": deal.pk, "fields": 7})
    assert error_of(delete) == (400, "", "The parameter 'item' must be array.")


def test_add_of_an_unknown_contact_fails(sandbox: SandboxPortal) -> None:
    deal = deal_of()
    response = sandbox.call("crm.deal.contact.add", {"id": deal.pk, "fields": {"CONTACT_ID": 99999}})
    assert error_of(response) == (400, "", "[Contact #99999] You do not have permission to view this item")
    assert items(sandbox, deal.pk) == []


def test_deleting_the_primary_promotes_the_first_remaining_binding(sandbox: SandboxPortal) -> None:
    deal = deal_of(contacts=3)
    before = items(sandbox, deal.pk)
    primary = next(r["CONTACT_ID"] for r in before if r["IS_PRIMARY"] == "Y")
    assert sandbox.result("crm.deal.contact.delete", {"id": deal.pk, "fields": {"CONTACT_ID": primary}}) is True
    after = items(sandbox, deal.pk)
    assert [r["CONTACT_ID"] for r in after] == [r["CONTACT_ID"] for r in before if r["CONTACT_ID"] != primary]
    assert after[0]["IS_PRIMARY"] == "Y"
    assert_one_primary(after)
    again = sandbox.call("crm.deal.contact.delete", {"id": deal.pk, "fields": {"CONTACT_ID": primary}})
    assert again.json()["result"] is False
    bad = sandbox.call("crm.deal.contact.delete", {"id": deal.pk, "fields": {"CONTACT_ID": "x"}})
    assert error_of(bad) == (400, "", "The parameter 'fields' is not valid.")


def test_items_delete_clears_the_set(sandbox: SandboxPortal) -> None:
    deal = deal_of(contacts=2)
    assert sandbox.result("crm.deal.contact.items.delete", {"id": deal.pk}) is True
    assert items(sandbox, deal.pk) == []
    assert sandbox.result("crm.deal.contact.items.delete", {"id": deal.pk}) is True


# --- deal side effects ----------------------------------------------------------------------------


def test_a_binding_change_leaves_date_modify_and_sends_no_oncrmdealupdate(
    sandbox: SandboxPortal, settings: Any
) -> None:
    """crm/lib/binding/dealcontact.php (bitrix24-batch.md "Ids, and what a write changes"): the
    contact methods write the binding table and CONTACT_ID only, so DATE_MODIFY and MODIFY_BY_ID read
    back unchanged and no ONCRMDEALUPDATE goes out, for add, delete, items.set and items.delete."""
    settings.SANDBOX_EVENTS_SYNC = True
    sandbox.bind_events("ONCRMDEALUPDATE", handler=f"{sandbox.app_url}no-such-handler/")
    deal = deal_of(REP, contacts=1)
    before = sandbox.result("crm.deal.get", {"id": deal.pk})
    new, other = free_contacts(deal, 2)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("crm.deal.contact.add", {"fields": {"CONTACT_ID": new}}),
        ("crm.deal.contact.delete", {"fields": {"CONTACT_ID": new}}),
        ("crm.deal.contact.items.set", {"items": [{"CONTACT_ID": other}]}),
        ("crm.deal.contact.items.delete", {}),
    ]
    for method, params in calls:
        assert sandbox.result(method, {"id": deal.pk, **params}, user=REP) is True, method
        after = sandbox.result("crm.deal.get", {"id": deal.pk})
        assert (after["DATE_MODIFY"], after["MODIFY_BY_ID"]) == (before["DATE_MODIFY"], before["MODIFY_BY_ID"])
    assert not EventDelivery.objects.filter(event="ONCRMDEALUPDATE").exists()
    assert App.objects.get().is_installed


# --- rights ---------------------------------------------------------------------------------------


def test_a_rep_changes_contacts_of_own_deals_only(sandbox: SandboxPortal) -> None:
    own, foreign = deal_of(REP, contacts=1), deal_of(OTHER_REP, contacts=2)
    contact = free_contacts(foreign, 1)[0]
    denied = (403, "ACCESS_DENIED", "Access denied!")
    before = items(sandbox, foreign.pk, user=REP)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("crm.deal.contact.add", {"fields": {"CONTACT_ID": contact}}),
        ("crm.deal.contact.delete", {"fields": {"CONTACT_ID": before[0]["CONTACT_ID"]}}),
        ("crm.deal.contact.items.set", {"items": [{"CONTACT_ID": contact}]}),
        ("crm.deal.contact.items.delete", {}),
    ]
    for method, params in calls:
        assert error_of(sandbox.call(method, {"id": foreign.pk, **params}, user=REP)) == denied, method
    assert items(sandbox, foreign.pk) == before
    own_contact = free_contacts(own, 1)[0]
    assert sandbox.result("crm.deal.contact.add", {"id": own.pk, "fields": {"CONTACT_ID": own_contact}}, user=REP)


def test_a_read_only_user_reads_bindings_but_may_not_change_them(sandbox: SandboxPortal) -> None:
    deal = deal_of(contacts=2)
    before = items(sandbox, deal.pk, user=READONLY)
    contact = free_contacts(deal, 1)[0]
    add = sandbox.call("crm.deal.contact.add", {"id": deal.pk, "fields": {"CONTACT_ID": contact}}, user=READONLY)
    assert error_of(add) == (400, "", "Access denied.")
    replace = sandbox.call("crm.deal.contact.items.set", {"id": deal.pk, "items": []}, user=READONLY)
    assert error_of(replace) == (400, "", "Access denied.")
    # items.delete's 400 is about reading deals; a reader without edit rights gets the 403.
    clear = sandbox.call("crm.deal.contact.items.delete", {"id": deal.pk}, user=READONLY)
    assert error_of(clear) == (403, "ACCESS_DENIED", "Access denied!")
    assert items(sandbox, deal.pk) == before


def test_a_manager_may_change_any_deal(sandbox: SandboxPortal) -> None:
    deal = deal_of(OTHER_REP, contacts=1)
    assert sandbox.result("crm.deal.contact.items.delete", {"id": deal.pk}, user=MANAGER) is True


def test_the_deals_contact_id_follows_the_primary_binding(sandbox: SandboxPortal) -> None:
    deal = deal_of(contacts=2)
    a, b = free_contacts(deal, 2)
    replace = [{"CONTACT_ID": a}, {"CONTACT_ID": b, "IS_PRIMARY": "Y"}]
    sandbox.result("crm.deal.contact.items.set", {"id": deal.pk, "items": replace})
    assert sandbox.result("crm.deal.get", {"id": deal.pk})["CONTACT_ID"] == str(b)
    sandbox.result("crm.deal.contact.delete", {"id": deal.pk, "fields": {"CONTACT_ID": b}})
    assert sandbox.result("crm.deal.get", {"id": deal.pk})["CONTACT_ID"] == str(a)
    sandbox.result("crm.deal.contact.items.delete", {"id": deal.pk})
    assert sandbox.result("crm.deal.get", {"id": deal.pk})["CONTACT_ID"] is None
