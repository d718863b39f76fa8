"""Who is calling: an OAuth access token (auth / access_token / Bearer) or an inbound webhook.

Order of checks follows the portal's OAuth auth (bitrix24-protocol.md §2.7).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from sandbox.models import AccessToken, App, User, Webhook
from sandbox.rest import errors
from sandbox.rest.errors import RestError
from sandbox.rest.registry import Caller


def token_from_request(request: HttpRequest, params: dict[str, Any]) -> str:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    for name in ("auth", "access_token"):
        value = params.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def oauth_caller(token: str) -> Caller:
    if not token:
        raise errors.no_auth()
    access = AccessToken.objects.select_related("app", "user").filter(token=token).first()
    if access is None:
        raise errors.invalid_token()
    if access.app.state == App.State.UNINSTALLED or access.app.state == App.State.NOT_INSTALLED:
        # The portal's own check (rest lib/oauth/auth.php): an inactive app row is APPLICATION_NOT_FOUND,
        # before the token's expiry is looked at, so even an expired token of a removed app says so
        # (bitrix24-uninstall.md).
        raise errors.application_not_found()
    if access.revoked or access.expires_at <= timezone.now():
        raise errors.expired_token()
    if not access.user.active:
        raise RestError("authorization_error", "Unable to authorize user", 401)
    scopes = frozenset(s for s in access.scope.split(",") if s)
    return Caller(user=access.user, scopes=scopes, app=access.app, token=access)


def webhook_caller(user_id: int, code: str) -> Caller:
    hook = Webhook.objects.select_related("user").filter(user_id=user_id, code=code).first()
    if hook is None:
        raise errors.no_auth()
    user: User = hook.user
    if not user.active:
        raise RestError("authorization_error", "Unable to authorize user", 401)
    scopes = frozenset(s for s in hook.scope.split(",") if s)
    return Caller(user=user, scopes=scopes, webhook=hook)


_SCOPE_ALIASES = {"user": {"user", "user_brief", "user_basic"}}


def scope_allows(method_scope: str, scopes: frozenset[str]) -> bool:
    if method_scope == "basic":
        return True
    return bool(_SCOPE_ALIASES.get(method_scope, {method_scope}) & scopes)
