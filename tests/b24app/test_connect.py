"""Connecting a portal from outside Bitrix24: the OAuth authorization-code flow over real HTTP.

bitrix24-protocol.md §2.1; the state is popped once, a wrong or replayed state is 403, a cancelled
consent is a message (house style rule 5).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from b24app.models import Portal
from devtools.portal import sandbox_app, sandbox_member_id
from tests.b24app.conftest import Installed
from tests.conftest import SandboxPortal


def csrf_token(page: requests.Response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def start(sandbox: SandboxPortal, browser: requests.Session) -> requests.Response:
    """Open the app's connect page, name the portal, and follow to the portal's consent page."""
    connect_url = sandbox.app_url + "b24/connect/"
    form_page = browser.get(connect_url, timeout=10)
    assert form_page.status_code == 200
    portal = urlsplit(sandbox.url).netloc
    submitted = browser.post(
        connect_url,
        data={"portal": portal, "csrfmiddlewaretoken": csrf_token(form_page)},
        headers={"Referer": connect_url},
        allow_redirects=False,
        timeout=10,
    )
    assert submitted.status_code == 302, submitted.text
    location = submitted.headers["Location"]
    assert location.startswith(sandbox.url + "oauth/authorize/")
    consent = browser.get(location, timeout=10)
    assert consent.status_code == 200, consent.text
    return consent


def decide(sandbox: SandboxPortal, browser: requests.Session, consent: requests.Response, button: str) -> str:
    """Press Allow or Deny on the consent page; returns where the portal sends the browser."""
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
    fields[button] = "1"
    fields["csrfmiddlewaretoken"] = csrf_token(consent)
    answer = browser.post(sandbox.url + "oauth/authorize/", data=fields, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["Location"])


def consented(sandbox: SandboxPortal) -> tuple[requests.Session, str]:
    """The administrator pressed Allow: their browser and the callback the portal sends it to."""
    sandbox_app()
    browser = requests.Session()
    return browser, decide(sandbox, browser, start(sandbox, browser), "allow")


def altered_callback(sandbox: SandboxPortal, callback: str, **changes: str | None) -> str:
    """The callback with query parameters replaced (None: left out), as a forger would send it."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    for name, value in changes.items():
        if value is None:
            del query[name]
        else:
            query[name] = value
    return f"{sandbox.app_url}b24/oauth/callback/?{urlencode(query)}"


def test_an_admin_connects_a_portal_and_the_tokens_are_stored(sandbox: SandboxPortal) -> None:
    from sandbox.models import AccessToken, RefreshToken

    sandbox_app()
    browser = requests.Session()
    consent = start(sandbox, browser)
    assert "Deal Desk" in consent.text
    callback = decide(sandbox, browser, consent, "allow")
    assert callback.startswith(sandbox.app_url + "b24/oauth/callback/")
    done = browser.get(callback, timeout=30)
    assert done.status_code == 200, done.text
    assert "Connected" in done.text
    portal = Portal.objects.get()
    assert portal.member_id == sandbox_member_id()
    assert portal.client_endpoint == sandbox.url + "rest/"
    assert portal.status == Portal.Status.INSTALLED
    assert portal.token_user_id == 1
    newest_access = AccessToken.objects.order_by("-id").first()
    newest_refresh = RefreshToken.objects.order_by("-id").first()
    assert newest_access is not None and newest_refresh is not None
    assert portal.access_token == newest_access.token
    assert portal.refresh_token == newest_refresh.token


def test_the_authorization_url_carries_the_client_id_and_a_fresh_state(sandbox: SandboxPortal) -> None:
    sandbox_app()
    browser = requests.Session()
    consent = start(sandbox, browser)
    query = parse_qs(urlsplit(consent.url).query)
    assert query["client_id"] == [sandbox_app().client_id]
    assert len(query["state"][0]) >= 32
    assert "client_secret" not in consent.url


def test_replaying_the_callback_is_forbidden(sandbox: SandboxPortal) -> None:
    browser, callback = consented(sandbox)
    assert browser.get(callback, timeout=30).status_code == 200
    replay = browser.get(callback, timeout=30)
    assert replay.status_code == 403
    assert "This link has expired" in replay.text


def test_a_cancelled_consent_shows_a_message_and_stores_nothing(sandbox: SandboxPortal) -> None:
    sandbox_app()
    browser = requests.Session()
    callback = decide(sandbox, browser, start(sandbox, browser), "deny")
    assert "error=access_denied" in callback
    answer = browser.get(callback, timeout=10)
    assert answer.status_code == 200
    assert "You cancelled the connection" in answer.text
    assert not Portal.objects.exists()


def test_a_callback_with_a_wrong_state_is_forbidden(sandbox: SandboxPortal) -> None:
    browser, callback = consented(sandbox)
    answer = browser.get(altered_callback(sandbox, callback, state="not-the-state"), timeout=10)
    assert answer.status_code == 403
    assert not Portal.objects.exists()
    # The state was spent by the wrong attempt: the genuine callback no longer works either.
    assert browser.get(callback, timeout=10).status_code == 403


def test_a_callback_in_another_browser_is_forbidden(sandbox: SandboxPortal) -> None:
    _ours, callback = consented(sandbox)
    assert requests.get(callback, timeout=10).status_code == 403
    assert not Portal.objects.exists()


@pytest.mark.parametrize("state", ["", "ü" * 40], ids=["empty", "non-ascii"])
def test_a_callback_without_a_session_state_is_forbidden(sandbox: SandboxPortal, state: str) -> None:
    answer = requests.get(
        f"{sandbox.app_url}b24/oauth/callback/", params={"state": state, "code": "x", "member_id": "y"}, timeout=10
    )
    assert answer.status_code == 403


def test_a_non_ascii_state_in_a_live_flow_is_forbidden_not_a_server_error(sandbox: SandboxPortal) -> None:
    sandbox_app()
    browser = requests.Session()
    start(sandbox, browser)
    answer = browser.get(f"{sandbox.app_url}b24/oauth/callback/", params={"state": "ü" * 40}, timeout=10)
    assert answer.status_code == 403


def test_a_callback_without_a_code_is_a_bad_request(sandbox: SandboxPortal) -> None:
    browser, callback = consented(sandbox)
    answer = browser.get(altered_callback(sandbox, callback, code=None), timeout=10)
    assert answer.status_code == 400
    assert "did not send an authorization code" in answer.text


def test_a_spent_or_forged_code_is_refused_with_a_plain_message(sandbox: SandboxPortal) -> None:
    browser, callback = consented(sandbox)
    answer = browser.get(altered_callback(sandbox, callback, code="0" * 32), timeout=10)
    assert answer.status_code == 400
    assert "did not confirm the connection" in answer.text
    assert "invalid_grant" not in answer.text
    assert not Portal.objects.exists()


def test_a_code_for_another_member_id_is_refused(sandbox: SandboxPortal) -> None:
    browser, callback = consented(sandbox)
    answer = browser.get(altered_callback(sandbox, callback, member_id="пример"), timeout=10)
    assert answer.status_code == 400
    assert not Portal.objects.exists()


@pytest.mark.parametrize(
    "address",
    ["evil.example.com", "[", "http://[::1", "localhost:99999", "", "a" * 300],
    ids=["foreign host", "bracket", "broken ipv6", "bad port", "empty", "too long"],
)
def test_an_address_that_is_not_a_trusted_portal_is_shown_as_a_form_error(sandbox: SandboxPortal, address: str) -> None:
    browser = requests.Session()
    connect_url = sandbox.app_url + "b24/connect/"
    page = browser.get(connect_url, timeout=10)
    answer = browser.post(
        connect_url,
        data={"portal": address, "csrfmiddlewaretoken": csrf_token(page)},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 200
    assert 'class="errorlist' in answer.text


def test_the_connect_form_needs_its_csrf_token(sandbox: SandboxPortal) -> None:
    answer = requests.post(sandbox.app_url + "b24/connect/", data={"portal": "x.bitrix24.com"}, timeout=10)
    assert answer.status_code == 403


# --- only administrators -------------------------------------------------------------------------------


def signed_in_as(sandbox: SandboxPortal, user: int) -> requests.Session:
    """A browser signed in to the sandbox portal as `user` (the portal's user switcher)."""
    from tests.reliability.portal import PortalBrowser

    return PortalBrowser(sandbox.url, user=user).session


def connect_as(sandbox: SandboxPortal, user: int) -> requests.Response:
    browser = signed_in_as(sandbox, user)
    callback = decide(sandbox, browser, start(sandbox, browser), "allow")
    return browser.get(callback, timeout=30)


@pytest.mark.parametrize("user", [3, 5], ids=["sales rep", "read-only"])
def test_a_user_who_is_not_an_administrator_cannot_connect_and_nothing_is_stored(
    sandbox: SandboxPortal, user: int
) -> None:
    sandbox_app()
    answer = connect_as(sandbox, user)
    assert answer.status_code == 403
    assert "Only a Bitrix24 administrator can connect Deal Desk. Nothing was changed." in answer.text
    assert not Portal.objects.exists()


def needs_reauth_portal(installed: Installed) -> Portal:
    Portal.objects.filter(pk=installed.portal.pk).update(status=Portal.Status.NEEDS_REAUTH)
    return Portal.objects.get()


def test_a_non_administrator_cannot_replace_the_portals_tokens_or_lift_needs_reauth(installed: Installed) -> None:
    before = needs_reauth_portal(installed)
    answer = connect_as(installed.sandbox, 5)
    assert answer.status_code == 403
    after = Portal.objects.get()
    assert after.status == Portal.Status.NEEDS_REAUTH
    assert (after.access_token, after.refresh_token, after.token_user_id) == (
        before.access_token,
        before.refresh_token,
        before.token_user_id,
    )


def test_an_administrator_connecting_again_lifts_needs_reauth(installed: Installed) -> None:
    before = needs_reauth_portal(installed)
    answer = connect_as(installed.sandbox, 1)
    assert answer.status_code == 200, answer.text
    after = Portal.objects.get()
    assert after.status == Portal.Status.INSTALLED
    assert after.access_token != before.access_token
    assert after.token_user_id == 1
