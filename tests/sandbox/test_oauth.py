"""The sandbox's OAuth server over real HTTP: consent page, code flow, refresh rotation, errors."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from django.utils import timezone

from tests.conftest import SandboxPortal

TOKEN_KEYS = {
    "access_token",
    "expires",
    "expires_in",
    "scope",
    "domain",
    "server_endpoint",
    "status",
    "client_endpoint",
    "member_id",
    "user_id",
    "refresh_token",
}


def app_row() -> Any:
    from sandbox.models import App

    return App.objects.get()


def consent_page(sandbox: SandboxPortal, browser: requests.Session, state: str = "st4te") -> requests.Response:
    return browser.get(f"{sandbox.url}oauth/authorize/", params={"client_id": app_row().client_id, "state": state})


def csrf_token(page: requests.Response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def press(sandbox: SandboxPortal, browser: requests.Session, button: str, state: str = "st4te") -> requests.Response:
    page = consent_page(sandbox, browser, state)
    form = {"client_id": app_row().client_id, "state": state, button: "1", "csrfmiddlewaretoken": csrf_token(page)}
    return browser.post(f"{sandbox.url}oauth/authorize/", data=form, allow_redirects=False)


def authorize(sandbox: SandboxPortal, browser: requests.Session | None = None) -> dict[str, str]:
    """Allow on the consent page and return the query the app's redirect_uri receives."""
    sandbox.install_app()
    response = press(sandbox, browser or requests.Session(), "allow")
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(app_row().redirect_uri)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def token_url(sandbox: SandboxPortal) -> str:
    return f"{sandbox.url}oauth/token/"


def token_request(
    sandbox: SandboxPortal, grant_type: str, grant: tuple[str, str], overrides: dict[str, str]
) -> requests.Response:
    """A GET to /oauth/token/ for the app: the grant's (name, value) after the app's id and
    secret, any of which `overrides` replaces (an empty value leaves a parameter blank)."""
    app = app_row()
    params = {
        "grant_type": grant_type,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        grant[0]: grant[1],
        **overrides,
    }
    return requests.get(token_url(sandbox), params=params, timeout=10)


def exchange(sandbox: SandboxPortal, code: str, **overrides: str) -> requests.Response:
    return token_request(sandbox, "authorization_code", ("code", code), overrides)


def refresh(sandbox: SandboxPortal, refresh_token: str, **overrides: str) -> requests.Response:
    return token_request(sandbox, "refresh_token", ("refresh_token", refresh_token), overrides)


def tokens(sandbox: SandboxPortal) -> dict[str, Any]:
    response = exchange(sandbox, authorize(sandbox)["code"])
    assert response.status_code == 200, response.text
    return dict(response.json())


def assert_error(response: requests.Response, status: int, error: str, description: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    if description is not None:
        assert body["error_description"] == description


# --- the consent page ------------------------------------------------------------------------


def test_the_consent_page_shows_the_app_its_scopes_and_the_signed_in_user(sandbox: SandboxPortal) -> None:
    sandbox.install_app()
    page = consent_page(sandbox, requests.Session())
    assert page.status_code == 200
    assert "Deal Desk" in page.text
    for scope in ("crm", "placement", "user_brief"):
        assert f"<li>{scope}</li>" in page.text
    assert "(user 1)" in page.text
    assert '<button type="submit" name="allow"' in page.text
    assert '<button type="submit" name="deny"' in page.text


def test_the_full_code_flow_ends_with_a_token_that_calls_rest(sandbox: SandboxPortal) -> None:
    from sandbox.models import Portal

    query = authorize(sandbox)
    assert set(query) == {"code", "state", "domain", "member_id", "scope", "server_domain"}
    assert query["state"] == "st4te"
    assert query["domain"] == urlsplit(sandbox.url).netloc
    assert query["member_id"] == Portal.objects.get().member_id
    assert query["scope"] == "crm,placement,user_brief"

    response = exchange(sandbox, query["code"])
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == TOKEN_KEYS
    assert body["expires_in"] == 3600 and isinstance(body["expires"], int)
    assert body["user_id"] == 1
    assert body["client_endpoint"] == f"{sandbox.url}rest/"
    assert body["member_id"] == query["member_id"]
    me = sandbox.call("user.current", token=body["access_token"])
    assert me.json()["result"]["ID"] == "1"


def test_the_scope_in_the_redirect_is_comma_separated_and_url_encoded(sandbox: SandboxPortal) -> None:
    sandbox.install_app()
    location = press(sandbox, requests.Session(), "allow").headers["Location"]
    assert "scope=crm%2Cplacement%2Cuser_brief" in location


def test_the_token_belongs_to_the_user_signed_in_to_the_portal(sandbox: SandboxPortal) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session["sandbox_user_id"] = 3
    session.create()
    assert session.session_key is not None
    browser = requests.Session()
    browser.cookies.set("sessionid", session.session_key)
    sandbox.install_app()
    assert "(user 3)" in consent_page(sandbox, browser).text
    body = exchange(sandbox, authorize(sandbox, browser)["code"]).json()
    assert body["user_id"] == 3
    assert sandbox.call("user.current", token=body["access_token"]).json()["result"]["ID"] == "3"


def test_a_redirect_uri_in_the_request_is_ignored_for_the_registered_one(sandbox: SandboxPortal) -> None:
    sandbox.install_app()
    browser = requests.Session()
    extra = {"response_type": "code", "redirect_uri": "https://evil.example.com/", "scope": "crm"}
    page = browser.get(
        f"{sandbox.url}oauth/authorize/", params={"client_id": app_row().client_id, "state": "s", **extra}
    )
    assert page.status_code == 200
    form = {"client_id": app_row().client_id, "state": "s", "allow": "1", "csrfmiddlewaretoken": csrf_token(page)}
    response = browser.post(f"{sandbox.url}oauth/authorize/", data={**form, **extra}, allow_redirects=False)
    assert response.headers["Location"].startswith(app_row().redirect_uri + "?code=")


def test_deny_sends_the_user_back_with_access_denied_and_the_state(sandbox: SandboxPortal) -> None:
    from sandbox.models import AuthCode

    sandbox.install_app()
    response = press(sandbox, requests.Session(), "deny", state="keep-me")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query == {"error": ["access_denied"], "state": ["keep-me"]}
    assert not AuthCode.objects.exists()


def test_an_unknown_client_id_gets_the_portals_error_page_and_no_redirect(sandbox: SandboxPortal) -> None:
    response = requests.get(
        f"{sandbox.url}oauth/authorize/",
        params={"client_id": "app.nope.1", "state": "s"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "not installed" in response.text


def test_an_app_that_is_not_installed_cannot_be_authorized(sandbox: SandboxPortal) -> None:
    response = consent_page(sandbox, requests.Session())  # the seeded app is not installed
    assert response.status_code == 400
    assert "<form" not in response.text


def test_allow_without_the_csrf_token_is_refused(sandbox: SandboxPortal) -> None:
    sandbox.install_app()
    response = requests.post(
        f"{sandbox.url}oauth/authorize/",
        data={"client_id": app_row().client_id, "allow": "1"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 403


def test_an_app_without_redirect_uri_shows_the_code_on_the_page(sandbox: SandboxPortal) -> None:
    app = sandbox.install_app()
    app.redirect_uri = ""
    app.save()
    response = press(sandbox, requests.Session(), "allow")
    assert response.status_code == 200
    code = re.search(r'id="auth-code">([0-9a-f]+)<', response.text)
    assert code
    assert exchange(sandbox, code.group(1)).status_code == 200


# --- the authorization code ------------------------------------------------------------------


def test_an_authorization_code_works_only_once(sandbox: SandboxPortal) -> None:
    code = authorize(sandbox)["code"]
    assert exchange(sandbox, code).status_code == 200
    assert_error(exchange(sandbox, code), 400, "invalid_grant")


def test_an_authorization_code_expires_after_thirty_seconds(sandbox: SandboxPortal) -> None:
    from sandbox.models import AuthCode

    code = authorize(sandbox)["code"]
    row = AuthCode.objects.get(code=code)
    assert timedelta(seconds=29) < row.expires_at - timezone.now() <= timedelta(seconds=30)
    AuthCode.objects.filter(code=code).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(exchange(sandbox, code), 400, "invalid_grant")


def test_an_unknown_code_is_invalid_grant(sandbox: SandboxPortal) -> None:
    sandbox.install_app()
    assert_error(exchange(sandbox, "0" * 32), 400, "invalid_grant")


def test_the_token_endpoint_also_takes_a_form_post(sandbox: SandboxPortal) -> None:
    app = app_row()
    code = authorize(sandbox)["code"]
    form = {
        "grant_type": "authorization_code",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "code": code,
    }
    response = requests.post(token_url(sandbox), data=form, timeout=10)
    assert response.status_code == 200
    assert set(response.json()) == TOKEN_KEYS


# --- client errors ---------------------------------------------------------------------------


def test_a_wrong_secret_is_invalid_client_400(sandbox: SandboxPortal) -> None:
    code = authorize(sandbox)["code"]
    assert_error(exchange(sandbox, code, client_secret="wrong"), 400, "invalid_client")


def test_an_unknown_client_id_is_wrong_client_with_http_200(sandbox: SandboxPortal) -> None:
    code = authorize(sandbox)["code"]
    response = exchange(sandbox, code, client_id="app.unknown.123")
    assert_error(response, 200, "wrong_client")
    assert "access_token" not in response.json()


def test_missing_parameters_are_invalid_request_naming_the_parameter(sandbox: SandboxPortal) -> None:
    sandbox.install_app()
    assert_error(exchange(sandbox, ""), 400, "invalid_request", 'No "code" parameter found')
    assert_error(refresh(sandbox, ""), 400, "invalid_request", 'No "refresh_token" parameter found')
    assert_error(refresh(sandbox, "x", client_id=""), 400, "invalid_request", 'No "client_id" parameter found')
    assert_error(refresh(sandbox, "x", client_secret=""), 400, "invalid_request", 'No "client_secret" parameter found')
    assert_error(refresh(sandbox, "x", grant_type=""), 400, "invalid_request", 'No "grant_type" parameter found')
    assert_error(refresh(sandbox, "x", grant_type="password"), 400, "invalid_request")


def test_a_removed_app_gets_not_installed_401(sandbox: SandboxPortal) -> None:
    from sandbox.models import App

    code = authorize(sandbox)["code"]
    App.objects.update(state=App.State.UNINSTALLED)
    assert_error(exchange(sandbox, code), 401, "NOT_INSTALLED", "Application not installed")


def test_an_app_never_installed_is_invalid_client(sandbox: SandboxPortal) -> None:
    from sandbox.models import App

    code = authorize(sandbox)["code"]
    App.objects.update(state=App.State.NOT_INSTALLED)
    assert_error(exchange(sandbox, code), 400, "invalid_client")


# --- refresh ---------------------------------------------------------------------------------


def test_refresh_rotates_both_tokens_and_the_old_ones_stop_working(sandbox: SandboxPortal) -> None:
    first = tokens(sandbox)
    response = refresh(sandbox, first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert set(second) == TOKEN_KEYS
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["user_id"] == 1 and second["scope"] == first["scope"]

    assert_error(refresh(sandbox, first["refresh_token"]), 400, "invalid_grant")
    old = sandbox.call("user.current", token=first["access_token"])
    assert (old.status_code, old.json()["error"]) == (401, "expired_token")
    assert sandbox.call("user.current", token=second["access_token"]).status_code == 200
    assert refresh(sandbox, second["refresh_token"]).status_code == 200


def test_the_token_address_derived_from_server_endpoint_refreshes_as_on_bitrix24(sandbox: SandboxPortal) -> None:
    """Bitrix24's server_endpoint is https://oauth.bitrix.info/rest/ and its token endpoint
    https://oauth.bitrix.info/oauth/token/; b24jssdk's OAuth client refreshes at server_endpoint
    without "rest/" plus "oauth/token/", so the sandbox answers there too."""
    first = tokens(sandbox)
    endpoint = first["server_endpoint"]
    assert endpoint.endswith("/rest/")
    app = app_row()
    params = {
        "grant_type": "refresh_token",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "refresh_token": first["refresh_token"],
    }
    response = requests.get(endpoint.removesuffix("rest/") + "oauth/token/", params=params, timeout=10)
    assert response.status_code == 200, response.text
    assert sandbox.call("user.current", token=response.json()["access_token"]).status_code == 200


def test_an_expired_refresh_token_is_invalid_grant(sandbox: SandboxPortal) -> None:
    from sandbox.models import RefreshToken

    first = tokens(sandbox)
    RefreshToken.objects.filter(token=first["refresh_token"]).update(expires_at=timezone.now())
    assert_error(refresh(sandbox, first["refresh_token"]), 400, "invalid_grant")


def test_a_refresh_token_with_the_wrong_secret_is_not_spent(sandbox: SandboxPortal) -> None:
    first = tokens(sandbox)
    assert_error(refresh(sandbox, first["refresh_token"], client_secret="nope"), 400, "invalid_client")
    assert refresh(sandbox, first["refresh_token"]).status_code == 200


def test_ten_concurrent_refreshes_of_one_token_let_exactly_one_through(sandbox: SandboxPortal) -> None:
    first = tokens(sandbox)
    start = threading.Barrier(10)
    results: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def spend() -> None:
        start.wait()
        response = refresh(sandbox, first["refresh_token"])
        with lock:
            results.append((response.status_code, response.json()))

    threads = [threading.Thread(target=spend) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winners = [body for status, body in results if status == 200]
    losers = [body for status, body in results if status != 200]
    assert len(results) == 10
    assert len(winners) == 1
    assert {(b["error"]) for b in losers} == {"invalid_grant"}
    assert sandbox.call("user.current", token=winners[0]["access_token"]).status_code == 200


# --- app.info on the OAuth server ------------------------------------------------------------


def test_oauth_server_app_info_describes_the_token_and_the_install(sandbox: SandboxPortal) -> None:
    body = tokens(sandbox)
    response = requests.get(f"{sandbox.url}oauth/rest/app.info", params={"auth": body["access_token"]}, timeout=10)
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["client_id"] == app_row().client_id
    assert result["scope"] == "crm,placement,user_brief"
    assert result["user_id"] == 1
    assert result["expires"].endswith("+00:00")
    install = result["install"]
    assert install["installed"] is True and install["version"] == 1 and install["status"] == "L"
    assert install["domain"] == urlsplit(sandbox.url).netloc
    assert install["client_endpoint"] == body["client_endpoint"]
    assert install["member_id"] == body["member_id"]
    assert "time" in response.json()
    with_slash = requests.post(f"{sandbox.url}oauth/rest/app.info/", data={"auth": body["access_token"]}, timeout=10)
    assert with_slash.json()["result"] == result


def test_oauth_server_app_info_refuses_missing_unknown_and_spent_tokens(sandbox: SandboxPortal) -> None:
    url = f"{sandbox.url}oauth/rest/app.info"
    assert_error(requests.get(url, timeout=10), 401, "NO_AUTH_FOUND")
    assert_error(requests.get(url, params={"auth": "f" * 32}, timeout=10), 400, "invalid_client")
    first = tokens(sandbox)
    refresh(sandbox, first["refresh_token"])
    assert_error(requests.get(url, params={"auth": first["access_token"]}, timeout=10), 401, "expired_token")
