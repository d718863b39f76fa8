"""Recurring deals: crm.deal.recurring.add/get/list/update/delete/fields/expose."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from sandbox.models import Deal, DealContact, ProductRow, RecurringDeal
from sandbox.recurring_schedule import add_period, next_execution
from sandbox.seed.data import BASE_TIME
from tests.conftest import SandboxPortal

ADMIN, MANAGER, READONLY = 1, 2, 5
REPS = (3, 4)
SEEDED_TEMPLATE_ID = 18  # recurring settings 1 (sandbox.seed.data.RECURRENCES)


def error_of(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def legacy_error(text: str) -> tuple[int, str, str]:
    return 400, "", text


def ordinary_deal_with_rows_and_contacts() -> Deal:
    deal = (
        Deal.objects.filter(is_recurring="N", product_rows__isnull=False, contact_bindings__isnull=False)
        .distinct()
        .order_by("id")
        .first()
    )
    assert deal is not None
    return deal


def rep_who_does_not_own(deal: Deal) -> int:
    return next(rep for rep in REPS if rep != deal.assigned_by_id)


PARAMS = {
    "MODE": "multiple",
    "MULTIPLE_TYPE": "month",
    "MULTIPLE_INTERVAL": 1,
    "OFFSET_BEGINDATE_TYPE": "day",
    "OFFSET_BEGINDATE_VALUE": 1,
    "OFFSET_CLOSEDATE_TYPE": "month",
    "OFFSET_CLOSEDATE_VALUE": 2,
}


# --- fields / get / list -------------------------------------------------------------------------------


def test_fields_describe_the_template_settings(sandbox: SandboxPortal) -> None:
    fields = sandbox.result("crm.deal.recurring.fields", {}, user=READONLY)
    assert list(fields)[:3] == ["ID", "DEAL_ID", "BASED_ID"]
    assert fields["DEAL_ID"] == {
        "type": "integer",
        "isRequired": True,
        "isReadOnly": False,
        "isImmutable": True,
        "isMultiple": False,
        "isDynamic": False,
        "title": "Deal template ID",
    }
    assert fields["NEXT_EXECUTION"]["isReadOnly"] is True
    assert fields["PARAMS"]["type"] == "recurring_params"


def test_get_returns_the_seeded_settings_as_legacy_strings(sandbox: SandboxPortal) -> None:
    rec = sandbox.result("crm.deal.recurring.get", {"id": 1}, user=READONLY)
    assert rec["ID"] == "1" and rec["DEAL_ID"] == str(SEEDED_TEMPLATE_ID)
    assert rec["BASED_ID"] is None
    assert (rec["ACTIVE"], rec["IS_LIMIT"], rec["LIMIT_REPEAT"], rec["COUNTER_REPEAT"]) == ("Y", "T", "12", "3")
    due = BASE_TIME.date() + timedelta(days=28)  # seeded: next deal four weeks after "now"
    assert rec["NEXT_EXECUTION"].startswith(f"{due.isoformat()}T00:00:00")
    assert rec["START_DATE"].startswith(str(Deal.objects.get(pk=SEEDED_TEMPLATE_ID).begindate))
    assert rec["PARAMS"]["MULTIPLE_TYPE"] == "month" and rec["PARAMS"]["MULTIPLE_INTERVAL"] == "1"


@pytest.mark.parametrize("params", [{}, {"id": 0}, {"id": "abc"}, {"id": -3}])
def test_get_with_a_bad_id_is_refused(sandbox: SandboxPortal, params: dict[str, Any]) -> None:
    assert error_of(sandbox.call("crm.deal.recurring.get", params)) == legacy_error("ID is not defined or invalid.")


def test_get_of_a_missing_record_is_not_found(sandbox: SandboxPortal) -> None:
    assert error_of(sandbox.call("crm.deal.recurring.get", {"id": 999})) == legacy_error("Not found")


def test_list_filters_orders_and_selects(sandbox: SandboxPortal) -> None:
    body = sandbox.call("crm.deal.recurring.list", {"order": {"DEAL_ID": "DESC"}}).json()
    assert body["total"] == 2 and "next" not in body
    assert [r["ID"] for r in body["result"]] == ["2", "1"]
    assert len(body["result"][0]) == 13
    only = sandbox.result(
        "crm.deal.recurring.list", {"filter": {">COUNTER_REPEAT": 0}, "select": ["DEAL_ID", "IS_LIMIT"]}
    )
    assert only == [{"ID": "1", "DEAL_ID": str(SEEDED_TEMPLATE_ID), "IS_LIMIT": "T"}]


def test_list_with_a_malformed_filter_is_refused(sandbox: SandboxPortal) -> None:
    response = sandbox.call("crm.deal.recurring.list", {"filter": "x"})
    assert error_of(response) == legacy_error("Parameter 'filter' must be array.")


# --- add ------------------------------------------------------------------------------------------------


def test_add_copies_the_deal_into_a_template_and_remembers_where_it_came_from(sandbox: SandboxPortal) -> None:
    source = ordinary_deal_with_rows_and_contacts()
    start = (timezone.localdate() + timedelta(days=30)).isoformat() + "T00:00:00+00:00"
    fields = {"DEAL_ID": str(source.pk), "CATEGORY_ID": "1", "IS_LIMIT": "T", "LIMIT_REPEAT": 5, "START_DATE": start}
    new_id = sandbox.result("crm.deal.recurring.add", {"fields": {**fields, "PARAMS": PARAMS}}, user=MANAGER)
    assert isinstance(new_id, int)
    rec = sandbox.result("crm.deal.recurring.get", {"id": new_id})
    assert rec["BASED_ID"] == str(source.pk) and rec["DEAL_ID"] != str(source.pk)
    assert (rec["CATEGORY_ID"], rec["IS_LIMIT"], rec["LIMIT_REPEAT"], rec["COUNTER_REPEAT"]) == ("1", "T", "5", "0")
    assert rec["START_DATE"][:10] == rec["NEXT_EXECUTION"][:10] == start[:10]
    assert rec["PARAMS"]["OFFSET_CLOSEDATE_VALUE"] == "2"
    template = Deal.objects.get(pk=int(rec["DEAL_ID"]))
    assert (template.is_recurring, template.title) == ("Y", source.title)
    assert ProductRow.objects.filter(deal=template).count() == ProductRow.objects.filter(deal=source).count()
    assert set(DealContact.objects.filter(deal=template).values_list("contact_id", flat=True)) == set(
        DealContact.objects.filter(deal=source).values_list("contact_id", flat=True)
    )
    Deal.objects.get(pk=source.pk, is_recurring="N")  # the source deal itself is untouched


def test_add_defaults_to_active_with_no_limit_in_the_deals_funnel(sandbox: SandboxPortal) -> None:
    source = ordinary_deal_with_rows_and_contacts()
    new_id = sandbox.result("crm.deal.recurring.add", {"fields": {"DEAL_ID": source.pk}}, user=ADMIN)
    rec = sandbox.result("crm.deal.recurring.get", {"id": new_id})
    assert (rec["ACTIVE"], rec["IS_LIMIT"], rec["CATEGORY_ID"]) == ("Y", "N", str(source.category_id))
    assert rec["NEXT_EXECUTION"][:10] == timezone.localdate().isoformat()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Parameter 'fields' must be array."),
        ({"fields": "DEAL_ID=5"}, "Parameter 'fields' must be array."),
        ({"fields": {}}, "DEAL_ID is not defined or invalid."),
        ({"fields": {"DEAL_ID": "x"}}, "DEAL_ID is not defined or invalid."),
        ({"fields": {"DEAL_ID": 9999}}, "Not found"),
        ({"fields": {"DEAL_ID": 1, "CATEGORY_ID": 77}}, "The deal category with ID '77' is not found."),
        (
            {"fields": {"DEAL_ID": SEEDED_TEMPLATE_ID}},
            f"The deal with ID '{SEEDED_TEMPLATE_ID}' already has recurring settings.",
        ),
    ],
)
def test_add_refuses_bad_input(sandbox: SandboxPortal, params: dict[str, Any], message: str) -> None:
    before = Deal.objects.count()
    assert error_of(sandbox.call("crm.deal.recurring.add", params, user=ADMIN)) == legacy_error(message)
    assert Deal.objects.count() == before  # nothing half-written


def test_add_needs_edit_rights_on_the_deal(sandbox: SandboxPortal) -> None:
    source = ordinary_deal_with_rows_and_contacts()
    for user in (READONLY, rep_who_does_not_own(source)):
        response = sandbox.call("crm.deal.recurring.add", {"fields": {"DEAL_ID": source.pk}}, user=user)
        assert error_of(response) == legacy_error("Access denied")
    owner = source.assigned_by_id
    assert sandbox.result("crm.deal.recurring.add", {"fields": {"DEAL_ID": source.pk}}, user=owner)


def test_add_on_a_template_without_settings_uses_that_deal_itself(sandbox: SandboxPortal) -> None:
    sandbox.result("crm.deal.recurring.delete", {"id": 1})
    new_id = sandbox.result("crm.deal.recurring.add", {"fields": {"DEAL_ID": SEEDED_TEMPLATE_ID}})
    rec = sandbox.result("crm.deal.recurring.get", {"id": new_id})
    assert (rec["DEAL_ID"], rec["BASED_ID"]) == (str(SEEDED_TEMPLATE_ID), None)


# --- update / delete ------------------------------------------------------------------------------------


def test_update_changes_settings_and_ignores_read_only_fields(sandbox: SandboxPortal) -> None:
    fields = {"PARAMS": {**PARAMS, "MULTIPLE_INTERVAL": 2}, "DEAL_ID": 1, "COUNTER_REPEAT": 99, "IS_LIMIT": "N"}
    assert sandbox.result("crm.deal.recurring.update", {"id": 1, "fields": fields}, user=MANAGER) is True
    rec = sandbox.result("crm.deal.recurring.get", {"id": 1})
    assert rec["PARAMS"]["MULTIPLE_INTERVAL"] == "2"
    assert (rec["DEAL_ID"], rec["COUNTER_REPEAT"], rec["IS_LIMIT"]) == (str(SEEDED_TEMPLATE_ID), "3", "N")


def test_deactivating_clears_the_next_execution(sandbox: SandboxPortal) -> None:
    sandbox.result("crm.deal.recurring.update", {"id": 2, "fields": {"ACTIVE": "N"}}, user=ADMIN)
    rec = sandbox.result("crm.deal.recurring.get", {"id": 2})
    assert (rec["ACTIVE"], rec["NEXT_EXECUTION"]) == ("N", None)


def test_update_errors(sandbox: SandboxPortal) -> None:
    assert error_of(sandbox.call("crm.deal.recurring.update", {"id": 1, "fields": [1]})) == legacy_error(
        "Parameter 'fields' must be array."
    )
    assert error_of(sandbox.call("crm.deal.recurring.update", {"id": 0, "fields": {}})) == legacy_error(
        "ID is not defined or invalid."
    )
    assert error_of(sandbox.call("crm.deal.recurring.update", {"id": 42, "fields": {}})) == legacy_error("Not found")
    template = Deal.objects.get(pk=SEEDED_TEMPLATE_ID)
    response = sandbox.call(
        "crm.deal.recurring.update", {"id": 1, "fields": {"ACTIVE": "N"}}, user=rep_who_does_not_own(template)
    )
    assert error_of(response) == legacy_error("Access denied")


def test_delete_removes_the_settings_but_keeps_the_template_deal(sandbox: SandboxPortal) -> None:
    denied = sandbox.call("crm.deal.recurring.delete", {"id": 1}, user=READONLY)
    assert error_of(denied) == legacy_error("Access denied")
    assert sandbox.result("crm.deal.recurring.delete", {"id": 1}, user=ADMIN) is True
    assert error_of(sandbox.call("crm.deal.recurring.get", {"id": 1})) == legacy_error("Not found")
    assert Deal.objects.filter(pk=SEEDED_TEMPLATE_ID).exists()
    assert error_of(sandbox.call("crm.deal.recurring.delete", {"id": 1})) == legacy_error("Not found")


# --- expose ---------------------------------------------------------------------------------------------


def test_expose_creates_an_ordinary_deal_from_the_template(sandbox: SandboxPortal) -> None:
    template = Deal.objects.get(pk=SEEDED_TEMPLATE_ID)
    before = sandbox.result("crm.deal.recurring.get", {"id": 1})
    result = sandbox.result("crm.deal.recurring.expose", {"id": 1}, user=MANAGER)
    assert set(result) == {"DEAL_ID"} and isinstance(result["DEAL_ID"], int)
    deal = Deal.objects.get(pk=result["DEAL_ID"])
    today = timezone.localdate()
    assert (deal.is_recurring, deal.title, deal.category_id) == ("N", template.title, template.category_id)
    assert deal.stage_id in ("NEW", f"C{template.category_id}:NEW")
    assert (deal.created_by_id, deal.begindate, deal.closedate) == (MANAGER, today, today + timedelta(days=14))
    assert deal.opportunity == template.opportunity
    assert ProductRow.objects.filter(deal=deal).count() == ProductRow.objects.filter(deal=template).count()
    assert DealContact.objects.filter(deal=deal).count() == DealContact.objects.filter(deal=template).count()
    after = sandbox.result("crm.deal.recurring.get", {"id": 1})
    assert int(after["COUNTER_REPEAT"]) == int(before["COUNTER_REPEAT"]) + 1
    assert after["LAST_EXECUTION"][:10] == today.isoformat()
    assert after["NEXT_EXECUTION"][:10] > today.isoformat()
    assert Deal.objects.get(pk=SEEDED_TEMPLATE_ID).is_recurring == "Y"


def test_expose_puts_the_deal_in_the_funnel_of_the_settings(sandbox: SandboxPortal) -> None:
    sandbox.result("crm.deal.recurring.update", {"id": 2, "fields": {"CATEGORY_ID": 2}}, user=ADMIN)
    deal = Deal.objects.get(pk=sandbox.result("crm.deal.recurring.expose", {"id": 2}, user=ADMIN)["DEAL_ID"])
    assert (deal.category_id, deal.stage_id) == (2, "C2:NEW")


def test_expose_rights_and_errors(sandbox: SandboxPortal) -> None:
    template = Deal.objects.get(pk=SEEDED_TEMPLATE_ID)
    for user in (READONLY, rep_who_does_not_own(template)):
        assert error_of(sandbox.call("crm.deal.recurring.expose", {"id": 1}, user=user)) == legacy_error(
            "Access denied"
        )
    assert error_of(sandbox.call("crm.deal.recurring.expose", {"id": "x"})) == legacy_error(
        "ID is not defined or invalid."
    )
    assert error_of(sandbox.call("crm.deal.recurring.expose", {"id": 50})) == legacy_error("Not found")
    assert RecurringDeal.objects.get(pk=1).counter_repeat == 3


def test_a_template_made_by_add_can_be_exposed(sandbox: SandboxPortal) -> None:
    source = ordinary_deal_with_rows_and_contacts()
    new_id = sandbox.result("crm.deal.recurring.add", {"fields": {"DEAL_ID": source.pk, "PARAMS": PARAMS}})
    deal_id = sandbox.result("crm.deal.recurring.expose", {"id": new_id})["DEAL_ID"]
    deal = Deal.objects.get(pk=deal_id)
    today = timezone.localdate()
    assert (deal.begindate, deal.closedate) == (today + timedelta(days=1), add_period(today, "month", 2))


# --- schedule (pure) ------------------------------------------------------------------------------------


def settings_for(**values: Any) -> RecurringDeal:
    defaults: dict[str, Any] = {"active": "Y", "counter_repeat": 0, "is_limit": "N", "params": {}}
    return RecurringDeal(**{**defaults, **values})


def test_monthly_schedule_moves_in_whole_periods_from_the_start_date() -> None:
    today = date(2025, 6, 10)
    rec = settings_for(start_date=date(2025, 1, 31), params={"MULTIPLE_TYPE": "month", "MULTIPLE_INTERVAL": "1"})
    assert next_execution(rec, today=today) == date(2025, 6, 30)
    rec.last_execution = date(2025, 6, 30)
    assert next_execution(rec, today=date(2025, 6, 30)) == date(2025, 7, 31)


def test_weekly_and_future_start_dates() -> None:
    today = date(2025, 6, 10)
    weekly = settings_for(start_date=date(2025, 6, 1), params={"MULTIPLE_TYPE": "week", "MULTIPLE_INTERVAL": 2})
    assert next_execution(weekly, today=today) == date(2025, 6, 15)
    later = settings_for(start_date=date(2025, 9, 1), params={"MULTIPLE_TYPE": "year"})
    assert next_execution(later, today=today) == date(2025, 9, 1)


def test_limits_and_single_mode_end_the_schedule() -> None:
    today = date(2025, 6, 10)
    by_date = settings_for(start_date=date(2025, 1, 1), is_limit="D", limit_date=date(2025, 6, 20))
    assert next_execution(by_date, today=today) is None
    by_count = settings_for(is_limit="T", limit_repeat=3, counter_repeat=3)
    assert next_execution(by_count, today=today) is None
    single = settings_for(
        start_date=date(2025, 7, 1),
        params={"MODE": "single", "SINGLE_BEFORE_START_DATE_TYPE": "day", "SINGLE_BEFORE_START_DATE_VALUE": "5"},
    )
    assert next_execution(single, today=today) == date(2025, 6, 26)
    single.counter_repeat = 1
    assert next_execution(single, today=today) is None


def test_add_period_clamps_to_the_end_of_the_month() -> None:
    assert add_period(date(2024, 1, 31), "month", 1) == date(2024, 2, 29)
    assert add_period(date(2024, 2, 29), "year", 1) == date(2025, 2, 28)
    assert add_period(date(2025, 3, 31), "month", -1) == date(2025, 2, 28)
