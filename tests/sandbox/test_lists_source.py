"""List methods as Bitrix24's server runs them (bitrix24-lists.md): paging, order, empty "contains",
whole-second timestamps and the multifield filters, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.seed import data
from tests.conftest import SandboxPortal


def listing(sandbox: SandboxPortal, method: str, params: dict[str, Any]) -> dict[str, Any]:
    response = sandbox.call(method, params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any]) -> list[int]:
    return [int(row["ID"]) for row in body["result"]]


def add_contact(sandbox: SandboxPortal, **fields: Any) -> int:
    contact_id = sandbox.result("crm.contact.add", {"fields": fields})
    assert isinstance(contact_id, int)
    return contact_id


def test_phone_and_email_filters_match_stored_values_that_start_with_the_value(sandbox: SandboxPortal) -> None:
    """crm classes/general/entity_helper.php CCrmEntityHelper::PrepareMultiFieldFilter: the bare
    key's value, trimmed and without `%`, matches values that start with it; no normalisation.
    Expected: "+44 20" and " +44 20 79%" find the contact stored as "+44 20 7946 0136",
    "+442079460136" does not; "Ann.Lee@" finds ann.lee@example.org."""
    contact = add_contact(
        sandbox,
        LAST_NAME="Prefix",
        PHONE=[{"VALUE": "+44 20 7946 0136", "VALUE_TYPE": "WORK"}],
        EMAIL=[{"VALUE": "ann.lee@example.org", "VALUE_TYPE": "WORK"}],
    )
    for value in ("+44 20", " +44 20 79% ", ["+44 20 7946", "zzz"]):
        assert contact in ids(listing(sandbox, "crm.contact.list", {"filter": {"PHONE": value}})), value
    assert contact not in ids(listing(sandbox, "crm.contact.list", {"filter": {"PHONE": "+442079460136"}}))
    assert ids(listing(sandbox, "crm.contact.list", {"filter": {"EMAIL": "Ann.Lee@"}})) == [contact]


@pytest.mark.parametrize("key", ["%PHONE", "=PHONE", "!EMAIL", "%EMAIL"])
def test_prefixed_phone_and_email_filters_are_ignored(sandbox: SandboxPortal, key: str) -> None:
    """CCrmEntityHelper::PrepareMultiFieldFilter only looks at the bare PHONE/EMAIL keys, and the
    list drops unknown keys. Expected: every contact, total equal to the contact count."""
    body = listing(sandbox, "crm.contact.list", {"filter": {key: "nobody-has-this@example.invalid"}})
    assert body["total"] == data.CONTACT_COUNT


@pytest.mark.parametrize("method", ["crm.contact.list", "crm.deal.list"])
def test_a_page_past_the_end_is_page_one_again(sandbox: SandboxPortal, method: str) -> None:
    """main classes/general/dbresult.php CDBResult::NavQuery: a page number past the last falls back
    to page 1. Expected: start=5000 answers the same rows, total and next as start=0."""
    first = listing(sandbox, method, {"order": {"ID": "ASC"}})
    past = listing(sandbox, method, {"order": {"ID": "ASC"}, "start": 5000})
    assert ids(past) == ids(first) and len(ids(past)) == 50
    assert (past["total"], past.get("next")) == (first["total"], first.get("next"))


@pytest.mark.parametrize("start", [-2, "-50", -1000])
def test_any_negative_start_means_first_page_without_count(sandbox: SandboxPortal, start: Any) -> None:
    """rest classes/general/rest.php IRestService::getNavData: a negative start selects the first
    50 rows without counting. Expected: 50 rows, total 0, no next."""
    body = listing(sandbox, "crm.deal.list", {"start": start})
    assert len(body["result"]) == 50
    assert body["total"] == 0 and "next" not in body


@pytest.mark.parametrize("direction", ["down", "desc ", "", "0"])
def test_a_direction_other_than_asc_sorts_descending(sandbox: SandboxPortal, direction: str) -> None:
    """crm restservice.php getList with main CSqlUtil order handling: only "ASC" (any case) is
    ascending. Expected: the highest ids first."""
    body = listing(sandbox, "crm.contact.list", {"order": {"ID": direction}})
    assert ids(body)[:2] == [data.CONTACT_COUNT, data.CONTACT_COUNT - 1]
    assert ids(listing(sandbox, "crm.contact.list", {"order": {"ID": "asc"}}))[0] == 1


def test_an_empty_contains_filter_means_the_field_is_empty(sandbox: SandboxPortal) -> None:
    """main classes/general/sql_util.php CSqlUtil::PrepareWhere: an empty `%FIELD` value is
    "FIELD is empty". Expected: `%NAME=""` gives only the contact without a first name."""
    nameless = add_contact(sandbox, LAST_NAME="Nameless")
    assert ids(listing(sandbox, "crm.contact.list", {"filter": {"%NAME": ""}})) == [nameless]


@pytest.mark.parametrize(("method", "create"), [("crm.deal", {"TITLE": "Stamp"}), ("crm.contact", {"NAME": "Stamp"})])
def test_date_modify_filtered_by_the_value_read_back_matches(
    sandbox: SandboxPortal, method: str, create: dict[str, Any]
) -> None:
    """crm restservice.php internalizeFilterFields: an ISO 8601 value is exact to the second and the
    database keeps whole seconds. Expected: `=DATE_MODIFY` with the value crm.*.get answered finds
    the record; `>DATE_MODIFY` with it does not, `>=` and `<=` do."""
    record = sandbox.result(f"{method}.add", {"fields": create})
    stamp = sandbox.result(f"{method}.get", {"id": record})["DATE_MODIFY"]
    for key, found in (("=DATE_MODIFY", True), ("DATE_MODIFY", True), (">DATE_MODIFY", False),
                       (">=DATE_MODIFY", True), ("<=DATE_MODIFY", True), ("<DATE_MODIFY", False)):  # fmt: skip
        rows = ids(listing(sandbox, f"{method}.list", {"filter": {"ID": record, key: stamp}}))
        assert rows == ([record] if found else []), key
