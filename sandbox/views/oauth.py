"""The sandbox's OAuth server: what oauth.bitrix.info and <portal>/oauth/authorize/ do for a real portal.

- /oauth/authorize/  the portal's consent page; Allow sends the browser to the app's registered
  redirect_uri with a 30-second, single-use code (bitrix24-protocol.md §2.1).
- /oauth/token/      both grants, GET or POST, answering exactly §2.3 or an error of §2.5.
  Refresh tokens are single use; spending one ends the access token issued with it (§2.4).
- /oauth/rest/app.info  lets an app check a token it was handed (§2.6).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox.models import AccessToken, App, AuthCode, RefreshToken, User
from sandbox.portal import client_endpoint, get_portal, portal_host, portal_url
from sandbox.rest.auth import token_from_request
from sandbox.rest.dispatch import time_block
from sandbox.tokens import issue_tokens, token_response

CODE_TTL = timedelta(seconds=30)  # settings/oauth/index.md: "valid for 30 seconds"
TEMPLATE = "sandbox/oauth_authorize.html"
SESSION_USER = "sandbox_user_id"  # set by the portal UI's user switcher
AUTHORIZABLE = (App.State.INSTALLED, App.State.INSTALLING)


class OAuthError(Exception):
    """An OAuth-server error: {"error", "error_description"} with its own HTTP status (§2.5)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> JsonResponse:
        return JsonResponse({"error": self.error, "error_description": self.description}, status=self.status)


# --- authorize -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    """Consent page (GET) and the Allow / Deny decision (POST, told apart by the button's name)."""
    data = request.POST if request.method == "POST" else request.GET
    client_id, state = data.get("client_id", ""), data.get("state", "")
    app = App.objects.filter(client_id=client_id).first() if client_id else None
    if app is None or app.state not in AUTHORIZABLE:
        # Docs: the portal shows the error itself and never redirects to the app.
        return _page(request, status=400, error="The application is not installed on this portal.")
    user = _portal_user(request)
    if user is None:
        return _page(request, status=400, error="The signed-in portal user is unknown or inactive.")
    if request.method == "GET":
        return _page(request, app=app, user=user, state=state, client_id=client_id)
    if "deny" in request.POST:
        if not app.redirect_uri:
            return _page(request, app=app, notice="Access was not granted.")
        return HttpResponseRedirect(with_query(app.redirect_uri, {"error": "access_denied", "state": state}))
    code = auth_code_create(app=app, user=user)
    if not app.redirect_uri:
        # An app registered without a redirect_uri: the portal shows the code for the user to
        # paste into the app (settings/oauth/index.md).
        return _page(request, app=app, code=code)
    return HttpResponseRedirect(with_query(app.redirect_uri, _code_params(app, code, state)))


def auth_code_create(*, app: App, user: User) -> str:
    code = secrets.token_hex(16)
    AuthCode.objects.create(code=code, app=app, user=user, expires_at=timezone.now() + CODE_TTL)
    return code


def _code_params(app: App, code: str, state: str) -> dict[str, str]:
    return {
        "code": code,
        "state": state,
        "domain": portal_host(),
        "member_id": get_portal().member_id,
        "scope": ",".join(app.scopes),
        # The OAuth server lives under the portal's own host in the sandbox (see token_response).
        "server_domain": portal_host(),
    }


def _portal_user(request: HttpRequest) -> User | None:
    try:
        user_id = int(request.session.get(SESSION_USER, 1))
    except (TypeError, ValueError):
        return None
    return User.objects.filter(pk=user_id, active=True).first()


def with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _page(request: HttpRequest, *, status: int = 200, **context: Any) -> HttpResponse:
    if "app" in context:
        context["scopes"] = context["app"].scopes
    return render(request, TEMPLATE, context, status=status)


# --- token -----------------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def token(request: HttpRequest) -> JsonResponse:
    """Both grants, from the query string or a form body (the body wins)."""
    params = {**request.GET.dict(), **request.POST.dict()}
    try:
        return JsonResponse(token_exchange(params))
    except OAuthError as exc:
        return exc.response()


GRANT_PARAM = {"authorization_code": "code", "refresh_token": "refresh_token"}


def token_exchange(params: dict[str, str]) -> dict[str, Any]:
    grant_type = _required(params, "grant_type")
    if grant_type not in GRANT_PARAM:
        raise OAuthError("invalid_request", f'Unsupported "grant_type" value "{grant_type}"')
    client_id = _required(params, "client_id")
    client_secret = _required(params, "client_secret")
    grant = _required(params, GRANT_PARAM[grant_type])
    app = client_check(client_id=client_id, client_secret=client_secret)
    with transaction.atomic(using="sandbox"):
        if grant_type == "authorization_code":
            user, scope = auth_code_spend(app=app, code=grant), app.scope
        else:
            spent = refresh_token_spend(app=app, token=grant)
            user, scope = spent.user, spent.scope
        access, refresh = issue_tokens(app=app, user=user, scope=scope)
    return token_response(access, refresh)


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise OAuthError("invalid_request", f'No "{name}" parameter found')
    return value


def client_check(*, client_id: str, client_secret: str) -> App:
    app = App.objects.filter(client_id=client_id).first()
    if app is None:
        # The one OAuth error that comes with HTTP 200 ([PY] BitrixOauthWrongClient).
        raise OAuthError("wrong_client", "Wrong client", 200)
    if not constant_time_compare(client_secret, app.client_secret):
        raise OAuthError("invalid_client", "Invalid client credentials")
    if app.state == App.State.UNINSTALLED:
        raise OAuthError("NOT_INSTALLED", "Application not installed", 401)
    if app.state not in AUTHORIZABLE:
        raise OAuthError("invalid_client", "Application is not installed on the portal")
    return app


def auth_code_spend(*, app: App, code: str) -> User:
    """A code works once, within 30 s, for the app it was issued to."""
    row = AuthCode.objects.select_for_update().filter(code=code, app=app).first()
    if row is None or row.used or row.expires_at <= timezone.now():
        raise OAuthError("invalid_grant", "Invalid authorization code")
    # Compare-and-set, so two exchanges of one code cannot both pass even without row locks.
    if AuthCode.objects.filter(pk=row.pk, used=False).update(used=True) != 1:
        raise OAuthError("invalid_grant", "Invalid authorization code")
    return row.user


def refresh_token_spend(*, app: App, token: str) -> RefreshToken:
    """Single use: spend the refresh token and end the access token issued with it (§2.4)."""
    now = timezone.now()
    row = RefreshToken.objects.select_for_update().filter(token=token, app=app).first()
    if row is None or row.used_at is not None or row.revoked or row.expires_at <= now:
        raise OAuthError("invalid_grant", "Invalid refresh token")
    spent = RefreshToken.objects.filter(pk=row.pk, used_at__isnull=True, revoked=False).update(used_at=now)
    if spent != 1:
        raise OAuthError("invalid_grant", "Invalid refresh token")
    if row.access_token_id is not None:
        AccessToken.objects.filter(pk=row.access_token_id).update(revoked=True)
    return row


# --- app.info on the OAuth server ------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def app_info(request: HttpRequest) -> JsonResponse:
    """§2.6: who a token belongs to and the app's install on this portal."""
    started = time.time()
    params = {**request.GET.dict(), **request.POST.dict()}
    try:
        access = _valid_token(token_from_request(request, params))
    except OAuthError as exc:
        return exc.response()
    result = app_info_result(access)
    finished = time.time()
    return JsonResponse({"result": result, "time": time_block(started, finished, finished - started, None)})


def _valid_token(raw: str) -> AccessToken:
    if not raw:
        raise OAuthError("NO_AUTH_FOUND", "Wrong authorization data", 401)
    access = AccessToken.objects.select_related("app").filter(token=raw).first()
    if access is None:
        # [PY]: the OAuth server's app.info answers invalid_client for an unknown token.
        raise OAuthError("invalid_client", "Unable to get application by token")
    if access.app.state == App.State.UNINSTALLED:
        raise OAuthError("NOT_INSTALLED", "Application not installed", 401)
    if access.revoked or access.expires_at <= timezone.now():
        raise OAuthError("expired_token", "The access token provided has expired", 401)
    return access


def app_info_result(access: AccessToken) -> dict[str, Any]:
    app = access.app
    return {
        "client_id": app.client_id,
        "scope": access.scope,
        "expires": access.expires_at.astimezone(UTC).isoformat(timespec="seconds"),
        "user_id": access.user_id,
        "install": {
            "installed": app.is_installed,
            "version": app.version,
            "status": app.status,
            "scope": app.scope,
            "domain": portal_host(),
            "uri": portal_url(),
            "client_endpoint": client_endpoint(),
            "member_id": get_portal().member_id,
            "member_type": "PORTAL",
        },
    }
