"""OAuth tokens of the sandbox portal: issuing, rotating and checking them.

Access tokens live SANDBOX_ACCESS_TOKEN_TTL (3600 s); refresh tokens are single use and, as
the older docs say, spending one also ends the access token issued with it
(bitrix24-protocol.md §2.4).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from sandbox.models import AccessToken, App, RefreshToken, User
from sandbox.portal import client_endpoint, get_portal, portal_host, server_endpoint


def new_token() -> str:
    return secrets.token_hex(16)


def issue_tokens(*, app: App, user: User, scope: str | None = None) -> tuple[AccessToken, RefreshToken]:
    now = timezone.now()
    access = AccessToken.objects.create(
        token=new_token(),
        app=app,
        user=user,
        scope=scope or app.scope,
        expires_at=now + timedelta(seconds=settings.SANDBOX_ACCESS_TOKEN_TTL),
    )
    refresh = RefreshToken.objects.create(
        token=new_token(),
        app=app,
        user=user,
        scope=access.scope,
        access_token=access,
        expires_at=now + timedelta(seconds=settings.SANDBOX_REFRESH_TOKEN_TTL),
    )
    return access, refresh


def token_response(access: AccessToken, refresh: RefreshToken) -> dict[str, Any]:
    """The OAuth server's answer for both grants (protocol §2.3); `domain` is the OAuth server's."""
    expires = int(access.expires_at.timestamp())
    return {
        "access_token": access.token,
        "expires": expires,
        "expires_in": settings.SANDBOX_ACCESS_TOKEN_TTL,
        "scope": access.scope,
        "domain": portal_host(),
        "server_endpoint": server_endpoint(),
        "status": access.app.status,
        "client_endpoint": client_endpoint(),
        "member_id": get_portal().member_id,
        "user_id": access.user_id,
        "refresh_token": refresh.token,
    }


def expire_all_tokens() -> int:
    """Fault injection: every access token expires now (refresh tokens still work)."""
    return AccessToken.objects.filter(expires_at__gt=timezone.now()).update(expires_at=timezone.now())
