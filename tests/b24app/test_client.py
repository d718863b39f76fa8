"""The REST client against the sandbox portal: typed errors, batches, whole lists, retries, moves
and an unwell portal.

bitrix24-protocol.md §3.1 (moves), §3.4–3.5 (errors), §4.1 (limit), §4.4 (batch), §4.5 (lists).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from b24app import client as client_module
from b24app.client import B24Client, BatchSplitError
from b24app.errors import (
    AccessDenied,
    InvalidArgument,
    MethodNotFound,
    NotFound,
    OutcomeUnknown,
    PortalMoved,
    PortalUnavailable,
    RateLimited,
)
from b24app.models import Portal
from b24app.oauth import PortalTokens, UserTokens
from tests.b24app.conftest import Installed, StubHost, fault, user_token

BULK = 5000


def client_for(portal: Portal, **kwargs: Any) -> B24Client:
    return B24Client(PortalTokens(portal), **kwargs)


def user_client(installed: Installed, user_id: int) -> B24Client:
    return B24Client(UserTokens(user_token(installed, user_id)))


def log_since(first_id: int) -> list[Any]:
    from sandbox.models import RequestLog

    return list(RequestLog.objects.filter(id__gt=first_id).order_by("id"))


def last_log_id() -> int:
    from sandbox.models import RequestLog

    row = RequestLog.objects.order_by("-id").first()
    return row.pk if row else 0


def first_deal_id() -> int:
    from sandbox.models import Deal

    deal = Deal.objects.order_by("id").first()
    assert deal is not None
    return int(deal.pk)


class Pauses:
    """The client's sleep: records each pause and waits only a little of it, to keep tests fast."""

    def __init__(self, cap: float = 0.1) -> None:
        self.cap = cap
        self.asked: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        time.sleep(min(seconds, self.cap))


# --- typed errors ---------------------------------------------------------------------------------


def test_a_legacy_not_found_becomes_not_found(installed: Installed) -> None:
    with pytest.raises(NotFound) as raised:
        client_for(installed.portal).call("crm.deal.get", {"id": 99999999})
    assert raised.value.code == ""
    assert raised.value.description == "Not found"
    assert raised.value.status == 400


def test_an_unknown_method_becomes_method_not_found(installed: Installed) -> None:
    with pytest.raises(MethodNotFound) as raised:
        client_for(installed.portal).call("crm.deal.nosuchthing")
    assert raised.value.code == "ERROR_METHOD_NOT_FOUND"
    assert raised.value.status == 404


def test_a_read_only_users_write_becomes_access_denied(installed: Installed) -> None:
    with pytest.raises(AccessDenied) as raised:
        user_client(installed, 5).call("crm.deal.add", {"fields": {"TITLE": "Not allowed"}})
    assert raised.value.description.startswith("Access denied")


def test_any_other_legacy_error_is_an_invalid_argument_with_the_portals_text(installed: Installed) -> None:
    with pytest.raises(InvalidArgument) as raised:
        client_for(installed.portal).call("crm.deal.get", {"id": "abc"})
    assert raised.value.description == "ID is not defined or invalid."
    assert raised.value.permanent


def test_a_successful_call_returns_the_result_the_paging_and_the_time_block(installed: Installed) -> None:
    from sandbox.models import Deal

    now = timezone.now()
    Deal.objects.create(title="The 51st", date_create=now, date_modify=now)
    outcome = client_for(installed.portal).call("crm.deal.list", {"select": ["ID"]})
    assert len(outcome.result) == 50
    assert outcome.next == 50
    assert outcome.total == Deal.objects.count()
    assert {"start", "finish", "duration", "operating"} <= set(outcome.time)


# --- batch ------------------------------------------------------------------------------------------


def test_a_batch_reports_each_failing_command_and_keeps_the_others(installed: Installed) -> None:
    deal_id = first_deal_id()
    outcome = client_for(installed.portal).batch(
        {
            "deal": ("crm.deal.get", {"id": deal_id}),
            "missing": ("crm.deal.get", {"id": 99999999}),
            "nomethod": ("crm.deal.nosuchthing", {}),
            "page": ("crm.deal.list", {"select": ["ID"], "filter": {">ID": 0}}),
        }
    )
    assert outcome.get("deal")["ID"] == str(deal_id)
    assert set(outcome.errors) == {"missing", "nomethod"}
    assert isinstance(outcome.errors["missing"], NotFound)
    assert isinstance(outcome.errors["nomethod"], MethodNotFound)
    with pytest.raises(NotFound):
        outcome.get("missing")
    from sandbox.models import Deal

    assert len(outcome.get("page")) == min(50, Deal.objects.count())
    assert outcome.totals["page"] == Deal.objects.count()


def test_a_batch_keyed_0_to_n_is_read_from_the_list_answers_a_portal_gives(installed: Installed) -> None:
    """A portal answers keys 0..n-1 as JSON lists and keys with a gap as objects (bitrix24-batch.md)."""
    deal_id = first_deal_id()
    outcome = client_for(installed.portal).batch(
        {
            "0": ("crm.deal.get", {"id": deal_id}),
            "1": ("crm.deal.list", {"select": ["ID"], "filter": {"ID": deal_id}}),
            "2": ("crm.deal.get", {"id": 99999999}),
        }
    )
    # result is the list [deal, page]; result_error {"2": …} and result_total {"1": 1} objects.
    assert outcome.get("0")["ID"] == str(deal_id)
    assert outcome.get("1") == [{"ID": str(deal_id)}]
    assert set(outcome.errors) == {"2"} and isinstance(outcome.errors["2"], NotFound)
    assert outcome.totals == {"1": 1}


def test_a_halting_batch_stops_at_the_first_failure(installed: Installed) -> None:
    deal_id = first_deal_id()
    outcome = client_for(installed.portal).batch(
        {
            "a": ("crm.deal.get", {"id": deal_id}),
            "b": ("crm.deal.get", {"id": 99999999}),
            "c": ("crm.deal.get", {"id": deal_id}),
        },
        halt=True,
    )
    assert set(outcome.results) == {"a"}
    assert set(outcome.errors) == {"b"}


def test_more_than_fifty_commands_are_split_into_several_batches(installed: Installed) -> None:
    from sandbox.models import Deal

    ids = list(Deal.objects.order_by("id").values_list("id", flat=True))[:40]
    commands = {f"d{i}": ("crm.deal.get", {"id": ids[i % len(ids)]}) for i in range(120)}
    before = last_log_id()

    outcome = client_for(installed.portal).batch(commands)

    assert outcome.errors == {}
    assert len(outcome.results) == 120
    assert outcome.get("d119")["ID"] == str(ids[119 % len(ids)])
    batches = log_since(before)
    assert [row.method for row in batches] == ["batch", "batch", "batch"]
    assert [row.batch_size for row in batches] == [50, 50, 20]


# --- whole lists --------------------------------------------------------------------------------------


@pytest.fixture
def many_deals(installed: Installed) -> Iterator[list[int]]:
    """Five thousand more deals, written straight into the portal's database."""
    from sandbox.models import Deal

    now = timezone.now()
    Deal.objects.bulk_create(
        [
            Deal(title=f"Bulk {i}", stage_id="WON" if i % 2 else "NEW", date_create=now, date_modify=now)
            for i in range(BULK)
        ],
        batch_size=1000,
    )
    yield list(Deal.objects.order_by("id").values_list("id", flat=True))


def test_list_all_reads_five_thousand_deals_in_at_most_four_batches_and_one_call(
    installed: Installed, many_deals: list[int]
) -> None:
    before = last_log_id()

    deals = client_for(installed.portal).list_all("crm.deal.list", {"select": ["ID", "TITLE"]})

    assert [int(d["ID"]) for d in deals] == many_deals
    calls = log_since(before)
    assert calls[0].method == "crm.deal.list"
    assert len([row for row in calls if row.method == "batch"]) <= 4
    assert len(calls) <= 5
    assert all(row.http_status == 200 for row in calls)


def test_list_all_keeps_the_callers_filter_while_paging_by_id(installed: Installed, many_deals: list[int]) -> None:
    from sandbox.models import Deal

    won = list(Deal.objects.filter(stage_id="WON").order_by("id").values_list("id", flat=True))

    deals = client_for(installed.portal).list_all("crm.deal.list", {"select": ["ID"], "filter": {"STAGE_ID": "WON"}})

    assert [int(d["ID"]) for d in deals] == won


def test_list_all_by_offset_reads_every_deal_fifty_pages_per_batch(installed: Installed, many_deals: list[int]) -> None:
    before = last_log_id()

    deals = client_for(installed.portal).list_all("crm.deal.list", {"select": ["ID"]}, keyset=False)

    assert sorted(int(d["ID"]) for d in deals) == many_deals
    calls = log_since(before)
    assert [row.method for row in calls] == ["crm.deal.list", "batch", "batch", "batch"][: len(calls)]
    assert len(calls) <= 1 + -(-len(many_deals) // (50 * 50))


def test_list_all_of_a_short_list_is_one_call(installed: Installed) -> None:
    from sandbox.models import Deal

    before = last_log_id()
    deals = client_for(installed.portal).list_all("crm.deal.list", {"select": ["ID"], "filter": {"STAGE_ID": "WON"}})
    assert len(deals) == Deal.objects.filter(stage_id="WON").count() < 50
    assert len(log_since(before)) == 1


def test_list_all_by_offset_does_not_take_page_one_again_when_the_list_shrinks(
    installed: Installed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bitrix24-lists.md "Paging" (main CDBResult::NavQuery): a page past the end is page 1 again,
    not an empty page. Expected: deals deleted between the first page and the rest leave no
    duplicates, and every deal still there is read once."""
    from sandbox.models import Deal

    now = timezone.now()
    Deal.objects.bulk_create(
        [Deal(title=f"Shrink {i}", date_create=now, date_modify=now) for i in range(100)], batch_size=100
    )
    client = client_for(installed.portal)
    original_call = client.call

    def call_then_shrink(method: str, params: Any = None, **kwargs: Any) -> Any:
        answer = original_call(method, params, **kwargs)
        if method == "crm.deal.list":  # after the first page: the list loses all but 90 deals
            Deal.objects.filter(pk__in=Deal.objects.order_by("-id").values("pk")[: Deal.objects.count() - 90]).delete()
        return answer

    monkeypatch.setattr(client, "call", call_then_shrink)
    deals = client.list_all("crm.deal.list", {"select": ["ID"], "order": {"ID": "ASC"}}, keyset=False)

    ids = [int(d["ID"]) for d in deals]
    assert len(ids) == len(set(ids))
    assert set(Deal.objects.values_list("id", flat=True)) <= set(ids)


# --- rate limits --------------------------------------------------------------------------------------


def test_query_limit_exceeded_is_retried_with_growing_pauses_until_the_portal_accepts(installed: Installed) -> None:
    fault(installed.sandbox, fault="limit")
    clearer = threading.Timer(0.3, lambda: fault(installed.sandbox, fault=""))
    pauses = Pauses(cap=0.1)
    client = client_for(installed.portal, max_retries=20, sleep=pauses)
    clearer.start()
    try:
        me = client.result("user.current")
    finally:
        clearer.join()

    assert me["ID"] == "1"
    assert len(pauses.asked) >= 2
    assert client.requests_made == len(pauses.asked) + 1
    assert pauses.asked[0] >= 0.5
    assert all(later >= earlier for earlier, later in zip(pauses.asked, pauses.asked[1:], strict=False))


def test_the_portals_own_leaky_bucket_is_met_with_backoff_and_every_call_succeeds(installed: Installed) -> None:
    fault(installed.sandbox, limits_enabled=True, rate=4, burst=2)
    before = last_log_id()
    client = client_for(installed.portal)

    results = [client.result("user.current")["ID"] for _ in range(4)]

    assert results == ["1"] * 4
    calls = log_since(before)
    assert any(row.error == "QUERY_LIMIT_EXCEEDED" and row.http_status == 503 for row in calls)
    assert client.requests_made == len(calls) > 4


def test_a_limit_that_never_lifts_gives_up_after_the_retries(installed: Installed) -> None:
    fault(installed.sandbox, fault="limit")
    pauses = Pauses(cap=0.0)
    client = client_for(installed.portal, max_retries=3, sleep=pauses)
    with pytest.raises(RateLimited) as raised:
        client.call("crm.deal.add", {"fields": {"TITLE": "x"}})
    assert raised.value.code == "QUERY_LIMIT_EXCEEDED"
    assert client.requests_made == 4
    assert len(pauses.asked) == 3


# --- an unwell portal ------------------------------------------------------------------------------------


def test_an_html_error_page_is_portal_unavailable_and_a_read_is_retried(installed: Installed) -> None:
    fault(installed.sandbox, fault="down_html")
    pauses = Pauses(cap=0.0)
    client = client_for(installed.portal, max_retries=2, sleep=pauses)
    with pytest.raises(PortalUnavailable) as raised:
        client.call("crm.deal.list")
    assert raised.value.code == "UNEXPECTED_ANSWER"
    assert "502" in raised.value.description
    assert client.requests_made == 3


def test_a_write_that_met_an_html_error_page_is_not_repeated(installed: Installed) -> None:
    fault(installed.sandbox, fault="down_html")
    client = client_for(installed.portal, max_retries=4, sleep=Pauses(cap=0.0))
    with pytest.raises(PortalUnavailable):
        client.call("crm.deal.add", {"fields": {"TITLE": "Maybe written"}})
    assert client.requests_made == 1


def test_a_dropped_connection_is_portal_unavailable(installed: Installed) -> None:
    fault(installed.sandbox, fault="down_reset")
    client = client_for(installed.portal, max_retries=0)
    with pytest.raises(PortalUnavailable) as raised:
        client.call("user.current")
    assert raised.value.code in {"CONNECTION_ERROR", "UNEXPECTED_ANSWER"}


def test_a_portal_that_answers_too_slowly_is_portal_unavailable(
    installed: Installed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "TIMEOUT", (2.0, 0.2))
    fault(installed.sandbox, delay_ms=600)
    client = client_for(installed.portal, max_retries=0)
    try:
        with pytest.raises(PortalUnavailable) as raised:
            client.call("user.current")
        assert raised.value.code == "TIMEOUT"
    finally:
        fault(installed.sandbox, delay_ms=0)
        time.sleep(0.6)  # let the slow answer finish before the databases are flushed


def test_an_unreachable_portal_is_portal_unavailable(installed: Installed) -> None:
    Portal.objects.filter(pk=installed.portal.pk).update(client_endpoint="http://127.0.0.1:9/rest/")
    client = client_for(Portal.objects.get(), max_retries=1, sleep=Pauses(cap=0.0))
    with pytest.raises(PortalUnavailable) as raised:
        client.call("crm.deal.add", {"fields": {"TITLE": "x"}})
    assert raised.value.code == "CONNECTION_REFUSED"
    assert client.requests_made == 2  # nothing was sent, so even a write is safe to repeat


# --- a portal that moved -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_moved_portal_is_followed_to_a_trusted_host_and_the_new_address_kept(
    installed: Installed, stub_host: StubHost, status: int
) -> None:
    new_base = installed.sandbox.url
    stub_host.answer.update(status=status, location=lambda path: new_base + path.lstrip("/"))
    Portal.objects.filter(pk=installed.portal.pk).update(client_endpoint=stub_host.url + "rest/")
    before = last_log_id()

    created = client_for(Portal.objects.get()).result("crm.deal.add", {"fields": {"TITLE": "After the move"}})

    assert stub_host.requests == [("POST", "/rest/crm.deal.add.json")]
    assert [row.method for row in log_since(before)] == ["crm.deal.add"]  # repeated as a POST, once
    from sandbox.models import Deal

    assert Deal.objects.get(pk=int(created)).title == "After the move"
    assert Portal.objects.get().client_endpoint == new_base + "rest/"


def test_a_redirect_to_an_untrusted_host_is_not_followed(installed: Installed, stub_host: StubHost) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    reached: list[str] = []

    class Trap(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            reached.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    trap = ThreadingHTTPServer(("127.0.0.1", 0), Trap)
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    try:
        elsewhere = f"http://127.0.0.1:{trap.server_address[1]}/rest/"
        stub_host.answer.update(status=307, location=lambda path: elsewhere + "user.current.json")
        Portal.objects.filter(pk=installed.portal.pk).update(client_endpoint=stub_host.url + "rest/")

        with pytest.raises(PortalMoved):
            client_for(Portal.objects.get()).call("user.current")
    finally:
        trap.shutdown()
        trap.server_close()

    assert reached == []
    assert Portal.objects.get().client_endpoint == stub_host.url + "rest/"


# --- a write whose answer was lost -------------------------------------------------------------------------


def deal_titled(title: str) -> int:
    from sandbox.models import Deal

    return Deal.objects.filter(title=title).count()


def test_a_write_applied_and_then_timed_out_is_outcome_unknown_and_not_repeated(
    installed: Installed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "TIMEOUT", (2.0, 0.3))
    fault(installed.sandbox, fault="applied_slow", delay_ms=900)
    client = client_for(installed.portal, max_retries=3, sleep=Pauses(cap=0.0))
    try:
        with pytest.raises(OutcomeUnknown) as raised:
            client.call("crm.deal.add", {"fields": {"TITLE": "Applied, answer lost"}})
        assert raised.value.code == "TIMEOUT" and isinstance(raised.value, PortalUnavailable)
        assert client.requests_made == 1
    finally:
        fault(installed.sandbox, fault="", delay_ms=0)
        time.sleep(0.9)
    assert deal_titled("Applied, answer lost") == 1  # the portal did apply it


def test_a_write_batch_whose_connection_dropped_after_it_ran_is_outcome_unknown(installed: Installed) -> None:
    fault(installed.sandbox, fault="applied_reset")
    client = client_for(installed.portal, max_retries=3, sleep=Pauses(cap=0.0))
    with pytest.raises(OutcomeUnknown):
        client.batch({"add": ("crm.deal.add", {"fields": {"TITLE": "Dropped after"}})})
    assert client.requests_made == 1
    assert deal_titled("Dropped after") == 1


def test_a_read_under_the_applied_faults_is_answered_and_a_failed_read_is_not_outcome_unknown(
    installed: Installed,
) -> None:
    fault(installed.sandbox, fault="applied_reset")
    client = client_for(installed.portal, max_retries=0)
    assert client.call("crm.deal.get", {"id": first_deal_id()}).result["ID"] == str(first_deal_id())
    fault(installed.sandbox, fault="down_reset")
    with pytest.raises(PortalUnavailable) as raised:
        client.call("crm.deal.list")
    assert not isinstance(raised.value, OutcomeUnknown)


def test_a_write_that_never_reached_the_portal_is_not_outcome_unknown(installed: Installed) -> None:
    Portal.objects.filter(pk=installed.portal.pk).update(client_endpoint="http://127.0.0.1:9/rest/")
    client = client_for(Portal.objects.get(), max_retries=0)
    with pytest.raises(PortalUnavailable) as raised:
        client.call("crm.deal.add", {"fields": {"TITLE": "x"}})
    assert raised.value.code == "CONNECTION_REFUSED" and not isinstance(raised.value, OutcomeUnknown)


# --- references never cross requests ---------------------------------------------------------------------


def test_a_later_request_referring_to_an_earlier_ones_result_is_refused_before_anything_is_sent(
    installed: Installed,
) -> None:
    commands: dict[str, Any] = {"guard": ("crm.deal.list", {"filter": {"=ID": first_deal_id()}, "select": ["ID"]})}
    commands.update({f"r{i}": ("crm.deal.get", {"id": first_deal_id()}) for i in range(55)})
    commands["set"] = ("crm.deal.contact.items.set", {"id": "$result[guard][0][ID]", "items": [{"CONTACT_ID": 1}]})
    before = last_log_id()
    with pytest.raises(BatchSplitError, match="guard"):
        client_for(installed.portal).batch(commands, halt=True)
    assert log_since(before) == []


@pytest.mark.parametrize(
    "reference",
    ["$result[g][0][ID]", "$RESULT[g]", "$next[g]", "$total[g]", "$error[g]", "$time[g]", "text $result[g][NAME] more"],
)
def test_every_form_of_reference_is_seen_at_any_depth(installed: Installed, reference: str) -> None:
    commands: dict[str, Any] = {"g": ("crm.deal.list", {"select": ["ID"]})}
    commands.update({f"r{i}": ("crm.deal.get", {"id": 1}) for i in range(49)})
    commands["late"] = ("crm.deal.update", {"id": 5, "fields": {"COMMENTS": [reference]}})
    with pytest.raises(BatchSplitError):
        client_for(installed.portal).batch(commands)


def test_references_within_each_request_are_sent_as_they_are(installed: Installed) -> None:
    deal = first_deal_id()
    commands: dict[str, Any] = {f"r{i}": ("crm.deal.get", {"id": deal}) for i in range(50)}
    commands["g"] = ("crm.deal.list", {"filter": {"=ID": deal}, "select": ["ID"]})
    commands["again"] = ("crm.deal.get", {"id": "$result[g][0][ID]"})
    outcome = client_for(installed.portal).batch(commands)
    assert outcome.get("again")["ID"] == str(deal)
