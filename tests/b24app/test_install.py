"""Installing Deal Desk over real HTTP: the installer POST (scenario A) and ONAPPINSTALL (scenario B).

bitrix24-protocol.md §1.2–1.3, §2.6 (app.info on the OAuth server), §5.1 and §6.1 (binding).
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from b24app import phpform
from b24app.models import Portal
from devtools.portal import sandbox_app, sandbox_member_id
from tests.b24app.conftest import (
    Installed,
    StubHost,
    install_form,
    install_url,
    other_portal,
    post_install,
)
from tests.conftest import SandboxPortal
from tests.csp_support import frame_ancestors

EVENTS = {"ONCRMDEALUPDATE", "ONCRMDEALDELETE", "ONCRMDEALMOVETOCATEGORY", "ONAPPUNINSTALL"}


def placements() -> list[Any]:
    from sandbox.models import PlacementBinding

    return list(PlacementBinding.objects.order_by("id"))


def event_bindings() -> list[Any]:
    from sandbox.models import EventBinding

    return list(EventBinding.objects.order_by("id"))


def rest_calls(sandbox: SandboxPortal) -> list[str]:
    return [row.method for row in sandbox.log()]


def assert_nothing_stored() -> None:
    assert not Portal.objects.exists()
    assert placements() == []
    assert event_bindings() == []


def refused_in_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "refused" in r.getMessage()]


# --- a genuine install -----------------------------------------------------------------------------


def test_an_administrator_installing_gets_a_portal_keyed_by_member_id(installed: Installed) -> None:
    portal = installed.portal
    assert portal.member_id == sandbox_member_id()
    assert portal.domain == urlsplit(installed.sandbox.url).netloc
    assert portal.client_endpoint == installed.sandbox.url + "rest/"
    assert portal.status == Portal.Status.INSTALLED
    assert portal.token_user_id == 1
    assert portal.application_token == installed.application_token
    assert portal.installed_at is not None


def test_the_install_binds_the_deal_tab_with_titles_for_every_language(installed: Installed) -> None:
    [tab] = placements()
    assert tab.placement == "CRM_DEAL_DETAIL_TAB"
    assert tab.handler == installed.sandbox.app_url + "deal-tab/"
    assert tab.title == "Deal Desk"
    assert set(tab.lang_all) >= {"en", "ru", "de"}
    assert all(entry["TITLE"] == "Deal Desk" for entry in tab.lang_all.values())


def test_the_install_binds_the_four_events_to_the_event_handler(installed: Installed) -> None:
    rows = event_bindings()
    assert {row.event for row in rows} == EVENTS
    assert len(rows) == 4
    assert {row.handler for row in rows} == {installed.sandbox.app_url + "b24/events/"}


def test_all_the_binding_costs_one_batch_request(installed: Installed) -> None:
    assert rest_calls(installed.sandbox) == ["user.admin", "batch"]
    [batch] = [row for row in installed.sandbox.log() if row.method == "batch"]
    assert batch.batch_size == 10
    assert batch.batch_methods.count("placement.bind") == 1
    assert batch.batch_methods.count("event.bind") == 4


def test_the_install_page_calls_install_finish_and_tells_what_was_set_up(installed: Installed) -> None:
    page = installed.response
    assert "js/install.js" in page.text
    assert f'src="{installed.sandbox.url}bx24.js"' in page.text
    assert "Deal Desk is installed" in page.text
    assert "The <em>Deal Desk</em> tab in deal cards" in page.text
    assert "4 of 4 events" in page.text
    assert "Some steps did not complete" not in page.text
    origin = installed.sandbox.url.removesuffix("/sandbox/")
    assert frame_ancestors(page.headers["Content-Security-Policy"]) == [origin]
    script = requests.get(installed.sandbox.app_url + "static/js/install.js", timeout=10)
    assert script.status_code == 200
    assert "BX24.installFinish()" in script.text


def test_installing_while_the_portal_waits_for_install_finish_works(sandbox: SandboxPortal) -> None:
    sandbox_app(state="installing")
    response = post_install(sandbox)
    assert response.status_code == 200, response.text
    assert Portal.objects.get().status == Portal.Status.INSTALLED
    assert len(event_bindings()) == 4


def test_reinstalling_keeps_one_portal_and_no_duplicate_bindings(installed: Installed) -> None:
    response = post_install(installed.sandbox)
    assert response.status_code == 200, response.text
    assert "Some steps did not complete" not in response.text
    assert Portal.objects.count() == 1
    assert len(placements()) == 1
    assert len(event_bindings()) == 4
    portal = Portal.objects.get()
    assert portal.access_token != installed.portal.access_token  # the new install's tokens
    assert portal.installed_at == installed.portal.installed_at


def test_the_stored_tokens_are_the_ones_the_portal_posted(sandbox: SandboxPortal) -> None:
    sandbox_app()
    form = install_form()
    response = requests.post(install_url(sandbox), data=form, timeout=30)
    assert response.status_code == 200, response.text
    portal = Portal.objects.get()
    assert portal.access_token == form["AUTH_ID"]
    assert portal.refresh_token == form["REFRESH_ID"]


# --- only an administrator -----------------------------------------------------------------------


@pytest.mark.parametrize("user_id", [5, 3], ids=["read-only user", "sales rep"])
def test_a_non_administrator_is_shown_a_refusal_and_nothing_is_stored(
    sandbox: SandboxPortal, user_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox_app()
    response = post_install(sandbox, as_user=user_id)
    assert response.status_code == 403
    assert "could not verify this installation" in response.text
    assert "Only a portal administrator can install Deal Desk" in response.text
    assert_nothing_stored()
    assert rest_calls(sandbox) == ["user.admin"]
    assert refused_in_log(caplog)


# --- ONAPPINSTALL (scenario B) -------------------------------------------------------------------


def onappinstall_payload(**auth_overrides: str) -> dict[str, Any]:
    """The event exactly as the sandbox's installer sends it (sandbox.install._install_payload)."""
    from sandbox.install import _install_payload
    from sandbox.models import App, User

    payload: dict[str, Any] = _install_payload(App.objects.get(), User.objects.get(pk=1))
    payload["auth"].update(auth_overrides)
    return payload


def post_event(sandbox: SandboxPortal, payload: dict[str, Any]) -> requests.Response:
    return requests.post(
        sandbox.app_url + "b24/events/",
        data=phpform.encode(payload),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )


def test_onappinstall_with_a_refresh_token_installs_the_portal(sandbox: SandboxPortal) -> None:
    sandbox_app()
    payload = onappinstall_payload()
    assert payload["auth"]["refresh_token"]
    response = post_event(sandbox, payload)
    assert response.status_code == 200, response.text
    portal = Portal.objects.get()
    assert portal.member_id == sandbox_member_id()
    assert portal.refresh_token == payload["auth"]["refresh_token"]
    assert portal.application_token == payload["auth"]["application_token"]
    assert {row.event for row in event_bindings()} == EVENTS
    assert len(placements()) == 1


def test_the_sandbox_portal_installing_an_api_only_app_reaches_the_event_handler(sandbox: SandboxPortal) -> None:
    from sandbox.install import app_install_start
    from sandbox.models import App, User

    app = App.objects.get()
    app.install_url = ""
    app.event_install_url = sandbox.app_url + "b24/events/"
    app.save()
    app_install_start(app=app, user=User.objects.get(pk=1))
    deadline = time.monotonic() + 15
    while not Portal.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Portal.objects.get().status == Portal.Status.INSTALLED
    deadline = time.monotonic() + 15
    while len(event_bindings()) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {row.event for row in event_bindings()} == EVENTS


def test_onappinstall_with_a_forged_token_is_refused(sandbox: SandboxPortal, caplog: pytest.LogCaptureFixture) -> None:
    sandbox_app()
    response = post_event(sandbox, onappinstall_payload(access_token="0" * 32))
    assert response.status_code == 403
    assert response.text == "Event not accepted"
    assert_nothing_stored()
    assert any("ONAPPINSTALL refused" in r.getMessage() for r in caplog.records)


def test_onappinstall_without_tokens_is_refused(sandbox: SandboxPortal) -> None:
    sandbox_app()
    payload = onappinstall_payload()
    del payload["auth"]["access_token"]
    assert post_event(sandbox, payload).status_code == 403
    assert_nothing_stored()


# --- forged installs -----------------------------------------------------------------------------


def test_an_install_with_a_made_up_token_is_refused_before_the_portal_is_called(
    sandbox: SandboxPortal, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox_app()
    response = post_install(sandbox, AUTH_ID="f" * 32)
    assert response.status_code == 403
    assert "could not verify this installation" in response.text
    assert_nothing_stored()
    assert rest_calls(sandbox) == []  # only the OAuth server was asked
    assert refused_in_log(caplog)


def test_an_install_naming_another_portals_member_id_leaves_that_portal_untouched(
    sandbox: SandboxPortal, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox_app()
    other = other_portal("b", access_token="others-access", refresh_token="others-refresh")
    response = post_install(sandbox, member_id=other.member_id)
    assert response.status_code == 403
    assert Portal.objects.count() == 1
    other.refresh_from_db()
    assert (other.access_token, other.refresh_token) == ("others-access", "others-refresh")
    assert other.client_endpoint == "https://other.bitrix24.com/rest/"
    assert placements() == []
    assert refused_in_log(caplog)


def test_an_install_with_a_token_of_another_application_is_refused(sandbox: SandboxPortal) -> None:
    from sandbox.models import App, User
    from sandbox.tokens import issue_tokens

    ours = sandbox_app()
    other = App.objects.create(
        client_id="app.0000000000000000.00000002",
        client_secret="other-secret",
        name="Other",
        code="other",
        handler_url="https://other.example.com/",
        state=App.State.INSTALLED,
        application_token="c" * 32,
    )
    access, refresh = issue_tokens(app=other, user=User.objects.get(pk=1))
    form = {
        "AUTH_ID": access.token,
        "AUTH_EXPIRES": "3600",
        "REFRESH_ID": refresh.token,
        "APPLICATION_TOKEN": ours.application_token,
        "member_id": sandbox_member_id(),
    }
    response = requests.post(install_url(sandbox), data=form, timeout=30)
    assert response.status_code == 403
    assert_nothing_stored()


def test_an_install_whose_domain_points_elsewhere_is_refused_and_nothing_goes_there(
    sandbox: SandboxPortal, stub_host: StubHost, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox_app()
    response = post_install(sandbox, query={"DOMAIN": stub_host.netloc})
    assert response.status_code == 403
    assert_nothing_stored()
    assert stub_host.requests == []
    assert refused_in_log(caplog)


def test_an_install_naming_a_foreign_domain_is_refused(sandbox: SandboxPortal) -> None:
    sandbox_app()
    response = post_install(sandbox, query={"DOMAIN": "evil.example.com", "PROTOCOL": "1"})
    assert response.status_code == 403
    assert_nothing_stored()
    assert rest_calls(sandbox) == []


def test_a_forged_onappinstall_pointing_elsewhere_sends_nothing_there(
    sandbox: SandboxPortal, stub_host: StubHost
) -> None:
    sandbox_app()
    payload = onappinstall_payload(
        domain=stub_host.netloc,
        client_endpoint=stub_host.url + "rest/",
        server_endpoint=stub_host.url + "rest/",
    )
    assert post_event(sandbox, payload).status_code == 403
    assert stub_host.requests == []
    assert_nothing_stored()


@pytest.mark.parametrize("missing", ["AUTH_ID", "REFRESH_ID", "member_id"])
def test_an_install_missing_a_field_is_a_bad_request(
    sandbox: SandboxPortal, missing: str, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox_app()
    form = install_form()
    del form[missing]
    response = requests.post(install_url(sandbox), data=form, timeout=30)
    assert response.status_code == 400
    assert "opened by Bitrix24 when an administrator installs" in response.text
    assert_nothing_stored()
    assert any(missing in r.getMessage() for r in caplog.records)


# --- bad input ---------------------------------------------------------------------------------------


def test_opening_the_installer_with_get_is_not_allowed(sandbox: SandboxPortal) -> None:
    assert requests.get(install_url(sandbox), timeout=10).status_code == 405


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff\xfe\x00garbage", b'{"AUTH_ID": "x"}', b"AUTH_ID[]=1&REFRESH_ID[x]=2&member_id"],
    ids=["empty", "binary", "json", "php arrays"],
)
def test_a_garbage_install_body_is_a_bad_request(sandbox: SandboxPortal, body: bytes) -> None:
    response = requests.post(
        install_url(sandbox), data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10
    )
    assert response.status_code == 400
    assert_nothing_stored()


def test_a_member_id_with_non_ascii_letters_is_refused_not_a_server_error(sandbox: SandboxPortal) -> None:
    sandbox_app()
    response = post_install(sandbox, member_id="пример" + sandbox_member_id())
    assert response.status_code == 403
    assert_nothing_stored()


@pytest.mark.parametrize("expires", ["²", "9" * 5000, "99999999999999", "-5", "soon"])
def test_an_odd_auth_expires_still_installs_with_a_sane_expiry(sandbox: SandboxPortal, expires: str) -> None:
    sandbox_app()
    response = post_install(sandbox, AUTH_EXPIRES=expires)
    assert response.status_code == 200, response.text
    from django.utils import timezone

    portal = Portal.objects.get()
    assert portal.expires_at is not None
    seconds = (portal.expires_at - timezone.now()).total_seconds()
    assert 0 < seconds <= 24 * 3600


def test_an_install_with_a_token_for_another_user_id_still_checks_the_real_owner(sandbox: SandboxPortal) -> None:
    """The token says who installs; no posted field can claim administrator rights."""
    sandbox_app()
    form = install_form(as_user=5, user_id="1", IS_ADMIN="Y")
    response = requests.post(install_url(sandbox), data=form, timeout=30)
    assert response.status_code == 403
    assert_nothing_stored()


def test_a_huge_install_form_is_a_bad_request(sandbox: SandboxPortal) -> None:
    sandbox_app()
    from django.conf import settings

    too_many = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 10
    body = urlencode({**install_form(), **{f"f{i}": "x" for i in range(too_many)}})
    response = requests.post(
        install_url(sandbox), data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30
    )
    assert response.status_code == 400
    assert_nothing_stored()


def test_the_install_page_tells_which_steps_did_not_complete(sandbox: SandboxPortal) -> None:
    app = sandbox_app()
    app.scope = "crm,user_brief"  # the app card lost the placement scope
    app.save()
    response = post_install(sandbox)
    assert response.status_code == 200, response.text
    assert "The deal card tab could not be added" in response.text
    assert "Some steps did not complete: tab_on:" in response.text
    assert "4 of 4 events" in response.text
    assert placements() == []
    assert len(event_bindings()) == 4
