"""Inbound events over real HTTP: verified by application_token and member_id before anything,
dispatched through the registry (every update, even two in one second), ONAPPUNINSTALL honoured.

bitrix24-protocol.md §1.4, §6.2, §6.3.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import requests

from b24app import phpform
from b24app.events import HANDLERS, Event, on_event, portal_purged
from b24app.models import Portal, UserToken
from tests.b24app.conftest import Installed, StubHost, other_portal, user_token

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Received:
    """What a handler registered with @on_event saw, delivered from the live server's threads."""

    events: list[tuple[str, Event]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait(self, count: int = 1, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            self.arrived.wait(0.05)
        assert len(self.events) >= count, self.events


@pytest.fixture
def received() -> Iterator[Received]:
    seen = Received()
    names = ("ONCRMDEALUPDATE", "ONCRMDEALMOVETOCATEGORY", "ONCRMDEALDELETE")

    def handler(portal: Portal, event: Event) -> None:
        seen.events.append((portal.member_id, event))
        seen.arrived.set()

    for name in names:
        on_event(name)(handler)
    yield seen
    for name in names:
        HANDLERS[name].remove(handler)


@pytest.fixture
def purged() -> Iterator[list[Portal]]:
    portals: list[Portal] = []

    def receiver(sender: Any, portal: Portal, **kwargs: Any) -> None:
        portals.append(portal)

    portal_purged.connect(receiver, weak=False)
    yield portals
    portal_purged.disconnect(receiver)


def deal_event(
    installed: Installed, *, name: str = "ONCRMDEALUPDATE", deal_id: str = "759", ts: str = "1736405807", **auth: str
) -> dict[str, Any]:
    """An event as the portal sends it (the sandbox's own auth block), with `auth` overrides."""
    from sandbox.events import auth_block
    from sandbox.models import App, User

    block = auth_block(App.objects.get(), User.objects.get(pk=1))
    block.update(auth)
    return {"event": name, "event_handler_id": "201", "data": {"FIELDS": {"ID": deal_id}}, "ts": ts, "auth": block}


def post(installed: Installed, payload: dict[str, Any] | bytes | str) -> requests.Response:
    body = phpform.encode(payload) if isinstance(payload, dict) else payload
    return requests.post(installed.sandbox.app_url + "b24/events/", data=body, headers=FORM, timeout=30)


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "b24app.views.events" and "refused" in r.getMessage()]


# --- genuine events ------------------------------------------------------------------------------------


def test_a_genuine_event_is_dispatched_to_the_registered_handler(installed: Installed, received: Received) -> None:
    response = post(installed, deal_event(installed))
    assert (response.status_code, response.text) == (200, "OK")
    [(member_id, event)] = received.events
    assert member_id == installed.portal.member_id
    assert event.name == "ONCRMDEALUPDATE"
    assert event.entity_id == "759"
    assert event.ts == 1736405807
    assert event.auth["application_token"] == installed.application_token


def test_an_event_without_a_handler_is_accepted(installed: Installed) -> None:
    response = post(installed, deal_event(installed, name="ONCRMDEALADD"))
    assert (response.status_code, response.text) == (200, "OK")


def test_editing_a_deal_on_the_portal_delivers_the_update_to_the_app(installed: Installed, received: Received) -> None:
    from sandbox.models import Deal

    deal = Deal.objects.order_by("id").first()
    assert deal is not None
    assert installed.sandbox.result("crm.deal.update", {"id": deal.pk, "fields": {"TITLE": "Renamed"}}) is True
    received.wait()
    [(member_id, event)] = received.events
    assert member_id == installed.portal.member_id
    assert (event.name, event.entity_id) == ("ONCRMDEALUPDATE", str(deal.pk))


def test_deleting_a_deal_on_the_portal_delivers_the_delete_to_the_app(installed: Installed, received: Received) -> None:
    from sandbox.models import Deal

    deal = Deal.objects.order_by("-id").first()
    assert deal is not None
    assert installed.sandbox.result("crm.deal.delete", {"id": deal.pk}) is True
    received.wait()
    assert [(e.name, e.entity_id) for _, e in received.events] == [("ONCRMDEALDELETE", str(deal.pk))]


def test_two_updates_of_one_deal_within_one_second_are_both_dispatched(
    installed: Installed, received: Received
) -> None:
    """Same deal, same `ts` second, same data: the portal's POSTs are identical, the changes are two."""
    payload = deal_event(installed)
    assert post(installed, payload).text == "OK"
    again = post(installed, payload)
    assert (again.status_code, again.text) == (200, "OK")
    assert [(e.name, e.entity_id, e.ts) for _, e in received.events] == [("ONCRMDEALUPDATE", "759", 1736405807)] * 2


def test_two_real_edits_of_a_deal_within_one_second_both_reach_the_app(
    installed: Installed, received: Received, settings: Any
) -> None:
    from sandbox.models import Deal

    settings.SANDBOX_EVENTS_SYNC = True  # each event reaches the app before crm.deal.update answers
    deal = Deal.objects.order_by("id").first()
    assert deal is not None
    started = time.time()
    for title in ("First", "Second"):
        assert installed.sandbox.result("crm.deal.update", {"id": deal.pk, "fields": {"TITLE": title}}) is True
    received.wait(2)
    updates = [e for _, e in received.events if e.name == "ONCRMDEALUPDATE"]
    assert len(updates) == 2
    if int(started) == int(time.time()):  # the usual case: both in one second, as identical POSTs
        assert updates[0].ts == updates[1].ts and updates[0].data == updates[1].data


def test_a_second_copy_of_a_confirmed_deletion_is_acknowledged_and_not_acted_on_again(
    installed: Installed, received: Received
) -> None:
    from sandbox.models import Deal

    deal = Deal.objects.order_by("-id").first()
    assert deal is not None
    Deal.objects.filter(pk=deal.pk).delete()  # gone on the portal, no event sent by it
    payload = deal_event(installed, name="ONCRMDEALDELETE", deal_id=str(deal.pk))
    assert post(installed, payload).text == "OK"
    again = post(installed, payload)
    assert (again.status_code, again.text) == (200, "Duplicate")
    assert [(e.name, e.entity_id) for _, e in received.events] == [("ONCRMDEALDELETE", str(deal.pk))]


def test_the_same_deal_updated_again_later_is_not_a_duplicate(installed: Installed, received: Received) -> None:
    assert post(installed, deal_event(installed, ts="1736405807")).text == "OK"
    assert post(installed, deal_event(installed, ts="1736405899")).text == "OK"
    assert len(received.events) == 2


# --- forged events ---------------------------------------------------------------------------------------


def test_an_event_with_a_wrong_application_token_is_refused_and_logged(
    installed: Installed, received: Received, caplog: pytest.LogCaptureFixture
) -> None:
    response = post(installed, deal_event(installed, application_token="0" * 32))
    assert (response.status_code, response.text) == (403, "Event not accepted")
    assert received.events == []
    assert any("wrong application_token" in m for m in refusals(caplog))


def test_a_forged_copy_sent_first_does_not_make_the_genuine_event_a_duplicate(
    installed: Installed, received: Received
) -> None:
    genuine = deal_event(installed)
    forged = deal_event(installed, application_token="0" * 32)
    assert post(installed, forged).status_code == 403
    assert post(installed, genuine).text == "OK"
    assert len(received.events) == 1


def test_an_event_from_an_unknown_portal_is_refused_and_logged(
    installed: Installed, received: Received, caplog: pytest.LogCaptureFixture
) -> None:
    response = post(installed, deal_event(installed, member_id="e" * 32))
    assert response.status_code == 403
    assert received.events == []
    assert any("unknown portal" in m for m in refusals(caplog))


def test_an_event_with_our_token_but_another_member_id_is_refused(installed: Installed, received: Received) -> None:
    other = other_portal("f", application_token="1" * 32)
    assert post(installed, deal_event(installed, member_id=other.member_id)).status_code == 403
    assert received.events == []


def test_an_event_without_an_application_token_is_refused(installed: Installed, received: Received) -> None:
    payload = deal_event(installed)
    del payload["auth"]["application_token"]
    assert post(installed, payload).status_code == 403
    assert received.events == []


@pytest.mark.parametrize("token", ["токен" * 6, "\x00" * 32, "a" * 5000])
def test_an_odd_application_token_is_refused_not_a_server_error(
    installed: Installed, received: Received, token: str
) -> None:
    assert post(installed, deal_event(installed, application_token=token)).status_code == 403
    assert received.events == []


def test_an_event_before_any_install_is_refused(sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    payload = {"event": "ONCRMDEALUPDATE", "data": {"FIELDS": {"ID": "1"}}, "auth": {"member_id": "a" * 32}}
    response = requests.post(sandbox.app_url + "b24/events/", data=phpform.encode(payload), headers=FORM, timeout=10)
    assert response.status_code == 403
    assert any("unknown portal" in r.getMessage() for r in caplog.records)


# --- uninstall -------------------------------------------------------------------------------------------


def uninstall_on_the_portal(*, clean: bool) -> None:
    from sandbox.install import app_uninstall
    from sandbox.models import App, User

    app_uninstall(app=App.objects.get(), user=User.objects.get(pk=1), clean=clean)


def wait_for_status(status: str, timeout: float = 15.0) -> Portal:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        portal = Portal.objects.get()
        if portal.status == status:
            return portal
        time.sleep(0.05)
    raise AssertionError(f"the portal never became {status}")


def uninstalled_with_settings(installed: Installed, *, clean: bool) -> Portal:
    """Uninstall the app on the portal, the portal having a user token and settings of its own."""
    user_token(installed, valid_for=timedelta(0))
    Portal.objects.filter(pk=installed.portal.pk).update(settings={"layout": "custom"})
    uninstall_on_the_portal(clean=clean)
    return wait_for_status(Portal.Status.UNINSTALLED)


def test_uninstalling_with_clean_deletes_the_tokens_and_announces_the_purge(
    installed: Installed, purged: list[Portal]
) -> None:
    portal = uninstalled_with_settings(installed, clean=True)
    assert (portal.access_token, portal.refresh_token, portal.expires_at) == ("", "", None)
    assert portal.uninstalled_at is not None
    assert portal.settings == {}
    assert not UserToken.objects.exists()
    deadline = time.monotonic() + 5
    while not purged and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p.member_id for p in purged] == [installed.portal.member_id]


def test_uninstalling_without_clean_keeps_the_settings_and_sends_no_purge(
    installed: Installed, purged: list[Portal]
) -> None:
    portal = uninstalled_with_settings(installed, clean=False)
    assert portal.access_token == ""
    assert portal.settings == {"layout": "custom"}
    assert not UserToken.objects.exists()
    assert purged == []


def test_a_forged_uninstall_changes_nothing(installed: Installed, purged: list[Portal]) -> None:
    payload = {
        "event": "ONAPPUNINSTALL",
        "data": {"LANGUAGE_ID": "en", "CLEAN": "1"},
        "ts": "1466439714",
        "auth": {"member_id": installed.portal.member_id, "application_token": "9" * 32},
    }
    assert post(installed, payload).status_code == 403
    portal = Portal.objects.get()
    assert portal.status == Portal.Status.INSTALLED
    assert portal.access_token == installed.portal.access_token
    assert purged == []


def test_events_for_an_uninstalled_portal_are_refused(installed: Installed, received: Received) -> None:
    uninstall_on_the_portal(clean=False)
    wait_for_status(Portal.Status.UNINSTALLED)
    assert post(installed, deal_event(installed)).status_code == 403
    assert received.events == []


def uninstall_event(installed: Installed, *, clean: str = "1", ts: str = "1466439714") -> dict[str, Any]:
    """ONAPPUNINSTALL as the portal sends it, with the application_token every placement form shows."""
    auth = {"member_id": installed.portal.member_id, "application_token": installed.application_token}
    return {"event": "ONAPPUNINSTALL", "data": {"LANGUAGE_ID": "en", "CLEAN": clean}, "ts": ts, "auth": auth}


def portal_requests() -> list[str]:
    from sandbox.models import RequestLog

    return [row.method for row in RequestLog.objects.order_by("id")]


def test_an_uninstall_with_the_right_token_is_not_acted_on_while_the_portal_says_the_app_is_installed(
    installed: Installed, purged: list[Portal]
) -> None:
    user_token(installed, valid_for=timedelta(0))
    before = len(portal_requests())

    response = post(installed, uninstall_event(installed))

    assert (response.status_code, response.text) == (403, "Event not accepted")
    portal = Portal.objects.get()
    assert portal.status == Portal.Status.INSTALLED
    tokens_before = (installed.portal.access_token, installed.portal.refresh_token)
    assert (portal.access_token, portal.refresh_token) == tokens_before
    assert UserToken.objects.count() == 1
    assert purged == []
    assert portal_requests()[before:] == ["app.info"]  # one confirming call, with the stored token


def test_a_flood_of_forged_uninstalls_costs_one_confirming_call(installed: Installed) -> None:
    before = len(portal_requests())
    answers = [post(installed, uninstall_event(installed, ts=str(1466439714 + i))).status_code for i in range(30)]
    assert answers == [403] * 30
    assert portal_requests()[before:] == ["app.info"]
    assert Portal.objects.get().status == Portal.Status.INSTALLED


def test_a_forged_uninstall_sent_first_does_not_stop_the_genuine_one(installed: Installed) -> None:
    """The forged copy is refused before the duplicate check, so it cannot pre-empt the real event."""
    from django.core.cache import cache

    assert post(installed, uninstall_event(installed, clean="0", ts="1466439714")).status_code == 403
    cache.clear()  # past the confirmation window
    from sandbox.models import App

    App.objects.update(state=App.State.UNINSTALLED)  # the portal removed the app meanwhile
    assert post(installed, uninstall_event(installed, clean="0", ts="1466439714")).text == "OK"
    assert Portal.objects.get().status == Portal.Status.UNINSTALLED


@pytest.mark.parametrize("fault_name", ["limit", "down_html", "down_reset"])
def test_a_portal_that_is_limited_or_down_confirms_no_uninstall(installed: Installed, fault_name: str) -> None:
    from tests.b24app.conftest import fault

    fault(installed.sandbox, fault=fault_name)
    response = post(installed, uninstall_event(installed))
    fault(installed.sandbox, fault="")
    assert response.status_code == 403
    assert Portal.objects.get().status == Portal.Status.INSTALLED


@pytest.mark.parametrize(
    ("status", "error", "description"),
    [
        (401, "PAYMENT_REQUIRED", "Payment required"),
        (403, "ACCESS_DENIED", "Access denied!"),
        (401, "ERROR_OAUTH", "Something else"),
        (400, "APPLICATION_NOT_FOUND", "Application not found"),
    ],
)
def test_an_answer_that_is_not_the_portals_uninstalled_answer_confirms_nothing(
    installed: Installed, stub_host: StubHost, status: int, error: str, description: str
) -> None:
    """Only 401 APPLICATION_NOT_FOUND, or "Application not installed", confirms (bitrix24-uninstall.md)."""
    stub_host.answer.update(
        status=status,
        headers={"Content-Type": "application/json"},
        body=json.dumps({"error": error, "error_description": description}),
    )
    Portal.objects.filter(pk=installed.portal.pk).update(client_endpoint=f"{stub_host.url}rest/")
    response = post(installed, uninstall_event(installed))
    assert response.status_code == 403
    assert Portal.objects.get().status == Portal.Status.INSTALLED
    assert [path for _, path in stub_host.requests] == ["/rest/app.info.json"]


@pytest.mark.parametrize(
    ("error", "description"),
    [("APPLICATION_NOT_FOUND", "Application not found"), ("ERROR_OAUTH", "Application not installed")],
)
def test_the_portals_uninstalled_answers_confirm_an_uninstall(
    installed: Installed, stub_host: StubHost, error: str, description: str
) -> None:
    stub_host.answer.update(
        status=401,
        headers={"Content-Type": "application/json"},
        body=json.dumps({"error": error, "error_description": description}),
    )
    Portal.objects.filter(pk=installed.portal.pk).update(client_endpoint=f"{stub_host.url}rest/")
    assert post(installed, uninstall_event(installed, clean="0")).text == "OK"
    assert Portal.objects.get().status == Portal.Status.UNINSTALLED


def test_an_expired_stored_token_of_a_removed_app_still_confirms_the_uninstall_without_a_refresh(
    installed: Installed,
) -> None:
    """The portal looks for the app before the token's expiry (protocol §2.7)."""
    from tests.b24app.conftest import refreshes_spent

    uninstall_quietly()
    Portal.objects.filter(pk=installed.portal.pk).update(expires_at=None)
    spent = refreshes_spent()
    assert post(installed, uninstall_event(installed, clean="0")).text == "OK"
    assert Portal.objects.get().status == Portal.Status.UNINSTALLED
    assert refreshes_spent() == spent


def uninstall_quietly() -> None:
    """The app removed on the portal, its ONAPPUNINSTALL lost on the way (events are never retried)."""
    from sandbox.models import App, EventBinding

    EventBinding.objects.filter(event="ONAPPUNINSTALL").delete()
    uninstall_on_the_portal(clean=False)
    assert App.objects.get().state == App.State.UNINSTALLED


# --- deal deletion ---------------------------------------------------------------------------------------


def live_deal() -> int:
    from sandbox.models import Deal

    deal = Deal.objects.order_by("id").first()
    assert deal is not None
    return int(deal.pk)


def test_a_deletion_of_a_live_deal_is_not_dispatched(installed: Installed, received: Received) -> None:
    deal_id = live_deal()
    before = len(portal_requests())
    response = post(installed, deal_event(installed, name="ONCRMDEALDELETE", deal_id=str(deal_id)))
    assert (response.status_code, response.text) == (403, "Event not accepted")
    assert received.events == []
    assert portal_requests()[before:] == ["crm.item.get"]


def test_a_deletion_confirmed_by_the_portal_is_dispatched(installed: Installed, received: Received) -> None:
    response = post(installed, deal_event(installed, name="ONCRMDEALDELETE", deal_id="987654"))
    assert (response.status_code, response.text) == (200, "OK")
    assert [(e.name, e.entity_id) for _, e in received.events] == [("ONCRMDEALDELETE", "987654")]


def test_forged_deletions_of_one_deal_cost_one_call_and_of_many_deals_at_most_the_budget(
    installed: Installed, received: Received
) -> None:
    from b24app.confirm import CONFIRM_BUDGET
    from sandbox.models import Deal

    deal_id = live_deal()
    before = len(portal_requests())
    for i in range(20):
        post(installed, deal_event(installed, name="ONCRMDEALDELETE", deal_id=str(deal_id), ts=str(1736405807 + i)))
    assert portal_requests()[before:] == ["crm.item.get"]

    ids = list(Deal.objects.values_list("id", flat=True)[:40])
    for deal in ids:
        post(installed, deal_event(installed, name="ONCRMDEALDELETE", deal_id=str(deal)))
    assert len(portal_requests()[before:]) == CONFIRM_BUDGET
    assert received.events == []


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe\xfd",
        b'{"event": "ONCRMDEALUPDATE"}',
        b"event=ONCRMDEALUPDATE",
        b"event=ONCRMDEALUPDATE&auth=flat",
        b"event[]=x&auth[member_id]=1",
        b"event=X&auth" + b"[a]" * 40 + b"=1",
        b"&".join(b"f%d=1" % i for i in range(20001)),
    ],
    ids=["empty", "not utf-8", "json", "no auth", "flat auth", "event as array", "too deep", "too many fields"],
)
def test_a_body_that_is_not_an_event_is_a_bad_request(installed: Installed, body: bytes) -> None:
    response = post(installed, body)
    assert response.status_code == 400
    assert response.text == "Not an event"
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("ts", ["²", "9" * 5000, "-1", "soon"])
def test_an_odd_timestamp_is_not_a_server_error(installed: Installed, received: Received, ts: str) -> None:
    assert post(installed, deal_event(installed, ts=ts)).status_code == 200
    assert received.events[0][1].ts == 0


def test_the_event_endpoint_only_takes_posts(installed: Installed) -> None:
    assert requests.get(installed.sandbox.app_url + "b24/events/", timeout=10).status_code == 405


def test_a_refused_event_is_logged_at_warning_level(installed: Installed, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    post(installed, b"\xff")
    assert any(r.levelno == logging.WARNING and "unreadable body" in r.getMessage() for r in caplog.records)
