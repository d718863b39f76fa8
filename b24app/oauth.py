"""OAuth with the Bitrix24 OAuth server: code exchange, race-safe refresh, token sources.

requests-oauthlib does the HTTP of the exchange; the locking is ours. A refresh token is single
use, so two workers refreshing at once would log the portal out: every refresh runs under a row
lock (select_for_update in one transaction) and first checks whether another worker already
refreshed — then it just takes the new pair. The client secret goes only to the configured OAuth
server, in a POST body, never in a URL. Docs: https://apidocs.bitrix24.com/settings/oauth/index.html
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from oauthlib.oauth2 import InvalidGrantError, OAuth2Error
from requests_oauthlib import OAuth2Session

from b24app import trust
from b24app.client import Grant, request_timeout
from b24app.errors import AuthorizationLost, B24Error, PortalUnavailable
from b24app.models import Portal, UserToken, expires_soon

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_at: datetime
    client_endpoint: str
    member_id: str
    user_id: int | None
    scope: str


def _session() -> OAuth2Session:
    if urlsplit(trust.token_url()).scheme == "http" and settings.B24_SANDBOX:
        # The sandbox's OAuth server runs on plain http on this machine only.
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    return OAuth2Session(client_id=settings.B24_CLIENT_ID)


def _token_set(token: dict[str, Any]) -> TokenSet:
    expires = token.get("expires")
    if isinstance(expires, int | float) and expires > 0:
        expires_at = datetime.fromtimestamp(float(expires), tz=UTC)
    else:
        expires_at = timezone.now() + timedelta(seconds=int(token.get("expires_in") or 3600))
    user_id = token.get("user_id")
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=str(token.get("refresh_token") or ""),
        expires_at=expires_at,
        client_endpoint=str(token.get("client_endpoint") or ""),
        member_id=str(token.get("member_id") or ""),
        user_id=int(str(user_id)) if str(user_id or "").isdigit() else None,
        scope=str(token.get("scope") or ""),
    )


def _oauth_call(fn: Any, **kwargs: Any) -> TokenSet:
    try:
        token = fn(trust.token_url(), timeout=request_timeout(), **kwargs)
    except InvalidGrantError as exc:
        raise AuthorizationLost("invalid_grant", exc.description or "Refresh token refused") from exc
    except OAuth2Error as exc:
        # invalid_client / NOT_INSTALLED / wrong_client: nothing a retry fixes.
        raise AuthorizationLost(exc.error or "oauth_error", exc.description or "OAuth server refused") from exc
    except requests.RequestException as exc:
        raise PortalUnavailable("OAUTH_UNAVAILABLE", "The OAuth server could not be reached") from exc
    except (KeyError, ValueError) as exc:
        log.warning("unexpected OAuth server answer: %s", type(exc).__name__)
        raise B24Error("OAUTH_UNEXPECTED", "Unexpected answer from the OAuth server") from exc
    tokens = _token_set(token)
    if tokens.client_endpoint and not trust.trusted_client_endpoint(tokens.client_endpoint):
        raise B24Error("UNTRUSTED_ENDPOINT", "The OAuth server named an untrusted portal")
    return tokens


def exchange_code(code: str) -> TokenSet:
    """authorization_code grant (https://apidocs.bitrix24.com/settings/oauth/index.html)."""
    session = _session()
    return _oauth_call(
        session.fetch_token,
        code=code,
        client_secret=settings.B24_CLIENT_SECRET,
        include_client_id=True,
        method="POST",
    )


def exchange_refresh(refresh_token: str) -> TokenSet:
    """refresh_token grant (https://apidocs.bitrix24.com/settings/oauth/auto-renewal.html)."""
    session = _session()
    return _oauth_call(
        session.refresh_token,
        refresh_token=refresh_token,
        client_id=settings.B24_CLIENT_ID,
        client_secret=settings.B24_CLIENT_SECRET,
    )


def authorization_url(client_endpoint: str, state: str) -> str:
    """Where to send an admin to consent: https://<portal>/oauth/authorize/?client_id=…&state=…"""
    base = trust.portal_base_for(client_endpoint)
    url, _ = _session().authorization_url(base + "oauth/authorize/", state=state)
    return str(url)


# --- single-flight refresh -----------------------------------------------------------------------


def _refresh_row(model: type[models.Model], pk: int, stale_access: str, member_id: str) -> Grant:
    lost: AuthorizationLost | None = None
    with transaction.atomic():
        row: Any = model.objects.select_for_update().get(pk=pk)  # type: ignore[attr-defined]
        portal: Portal = row if isinstance(row, Portal) else row.portal
        if row.access_token != stale_access and not expires_soon(row.expires_at, margin=10):
            # Another thread or process refreshed while we waited for the lock: use its pair.
            return Grant(row.access_token, portal.client_endpoint)
        try:
            tokens = exchange_refresh(row.refresh_token)
        except AuthorizationLost as exc:
            lost = exc
            if isinstance(row, Portal) and row.status == Portal.Status.INSTALLED:
                # Only an installed portal needs an administrator again; an uninstalled one stays so.
                row.status = Portal.Status.NEEDS_REAUTH
                row.save(update_fields=["status", "updated_at"])
        else:
            if tokens.member_id and tokens.member_id != member_id:
                raise B24Error("MEMBER_MISMATCH", "The OAuth server answered for another portal")
            row.access_token = tokens.access_token
            row.refresh_token = tokens.refresh_token or row.refresh_token
            row.expires_at = tokens.expires_at
            row.refreshed_at = timezone.now()
            row.save()
            return Grant(row.access_token, portal.client_endpoint)
    log.warning("refresh refused for portal %s: %s", member_id, lost)
    if lost is None:  # both branches above return or set it: reaching here without it is a bug
        raise RuntimeError("token refresh ended with neither a grant nor a refusal")
    raise lost


class PortalTokens:
    """The app's own tokens of a portal (the installing administrator's), for background work."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.limiter_key = portal.member_id

    def current(self) -> Grant:
        if self.portal.status != Portal.Status.INSTALLED:
            # needs_reauth, or uninstalled: its tokens are gone and its events refused.
            raise AuthorizationLost(self.portal.status, "The portal must be installed or authorized again")
        if expires_soon(self.portal.expires_at):
            return self.refresh(Grant(self.portal.access_token, self.portal.client_endpoint))
        return Grant(self.portal.access_token, self.portal.client_endpoint)

    def refresh(self, stale: Grant) -> Grant:
        grant = _refresh_row(Portal, self.portal.pk, stale.access_token, self.portal.member_id)
        self.portal.refresh_from_db()
        return grant

    def moved(self, new_endpoint: str) -> None:
        portal_moved(self.portal, new_endpoint)


class UserTokens:
    """A portal user's own tokens, so every call carries that user's Bitrix24 rights."""

    def __init__(self, token: UserToken) -> None:
        self.token = token
        self.limiter_key = token.portal.member_id

    def current(self) -> Grant:
        if expires_soon(self.token.expires_at):
            return self.refresh(Grant(self.token.access_token, self.token.portal.client_endpoint))
        return Grant(self.token.access_token, self.token.portal.client_endpoint)

    def refresh(self, stale: Grant) -> Grant:
        grant = _refresh_row(UserToken, self.token.pk, stale.access_token, self.token.portal.member_id)
        self.token.refresh_from_db()
        return grant

    def moved(self, new_endpoint: str) -> None:
        portal_moved(self.token.portal, new_endpoint)


@dataclass
class OneOffTokens:
    """Tokens handed to us in a request, not stored yet (install and placement verification)."""

    access_token: str
    client_endpoint: str
    limiter_key: str

    def current(self) -> Grant:
        return Grant(self.access_token, self.client_endpoint)

    def refresh(self, stale: Grant) -> Grant:
        raise AuthorizationLost("expired_token", "The token sent with the request has expired")

    def moved(self, new_endpoint: str) -> None:
        self.client_endpoint = new_endpoint


def portal_moved(portal: Portal, new_endpoint: str) -> None:
    """The portal answered from a new address (protocol §3.1): remember it."""
    if not trust.trusted_client_endpoint(new_endpoint):
        return
    Portal.objects.filter(pk=portal.pk).update(
        client_endpoint=new_endpoint, domain=urlsplit(new_endpoint).netloc, updated_at=timezone.now()
    )
    portal.client_endpoint = new_endpoint
    portal.domain = urlsplit(new_endpoint).netloc
