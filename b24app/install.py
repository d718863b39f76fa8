"""Installing Deal Desk on a portal: verify before trusting, store, bind, in one batch.

The install POST (PLACEMENT=DEFAULT, bitrix24-protocol.md §1.2) and ONAPPINSTALL (§1.3) arrive
from a browser or the network: nothing in them is believed until the OAuth server confirms the
token belongs to this app on that portal, and the portal confirms the user is an administrator.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from b24app import trust
from b24app.client import B24Client, oauth_app_info
from b24app.errors import B24Error
from b24app.models import Portal
from b24app.oauth import OneOffTokens, PortalTokens
from b24app.portal_form import MAX_EXPIRES_IN, expires_in_or_default

log = logging.getLogger(__name__)

DEAL_TAB_PLACEMENT = "CRM_DEAL_DETAIL_TAB"
DEAL_TAB_PATH = "deal-tab/"
EVENTS_PATH = "b24/events/"
EVENTS = ("ONCRMDEALUPDATE", "ONCRMDEALDELETE", "ONCRMDEALMOVETOCATEGORY", "ONAPPUNINSTALL")
TAB_TITLES = {"en": "Deal Desk", "ru": "Deal Desk", "de": "Deal Desk"}


class InstallRefused(Exception):
    """The request is not a genuine install of this app by an administrator."""


@dataclass(frozen=True)
class InstallRequest:
    access_token: str
    refresh_token: str
    expires_in: int
    member_id: str
    domain: str
    application_token: str


@dataclass(frozen=True)
class VerifiedToken:
    client_endpoint: str
    domain: str
    member_id: str
    user_id: int | None
    scope: str


@dataclass(frozen=True)
class InstallResult:
    portal: Portal
    placement_bound: bool
    events_bound: tuple[str, ...]
    problems: tuple[str, ...]


def token_verify(*, access_token: str, member_id: str) -> VerifiedToken:
    """Ask the OAuth server whose token this is; refuse anything not ours or not that portal's."""
    info = oauth_app_info(access_token, trust.oauth_rest_url())
    answered = info.get("install")
    install: dict[str, Any] = answered if isinstance(answered, dict) else {}
    client_id = str(info.get("client_id", ""))
    if not hmac.compare_digest(client_id.encode(), settings.B24_CLIENT_ID.encode()):
        raise InstallRefused("token issued to another application")
    # Bytes: compare_digest refuses str with non-ASCII letters, and member_id comes from the request.
    if not hmac.compare_digest(str(install.get("member_id", "")).encode(), member_id.encode()):
        raise InstallRefused("token belongs to another portal")
    endpoint = str(install.get("client_endpoint", ""))
    if not trust.trusted_client_endpoint(endpoint):
        raise InstallRefused(f"untrusted portal endpoint {endpoint!r}")
    user_id = info.get("user_id")
    return VerifiedToken(
        client_endpoint=endpoint,
        domain=str(install.get("domain", "")),
        member_id=member_id,
        user_id=int(str(user_id)) if str(user_id or "").isdigit() else None,
        scope=str(install.get("scope") or info.get("scope") or ""),
    )


def portal_install(*, request: InstallRequest) -> InstallResult:
    try:
        verified = token_verify(access_token=request.access_token, member_id=request.member_id)
    except B24Error as exc:
        raise InstallRefused(f"token not accepted by the OAuth server: {exc.code}") from exc
    if request.domain and request.domain.lower() != verified.domain.lower():
        # A genuine portal names itself in DOMAIN; nothing is ever sent to that address anyway.
        raise InstallRefused(f"DOMAIN {request.domain[:100]!r} is not the portal the token belongs to")
    one_off = B24Client(OneOffTokens(request.access_token, verified.client_endpoint, request.member_id))
    try:
        is_admin = one_off.result("user.admin")
    except B24Error as exc:
        raise InstallRefused(f"portal refused the token: {exc.code}") from exc
    if is_admin is not True:
        raise InstallRefused("only a portal administrator can install the app")
    portal = _portal_store(request=request, verified=verified)
    return _bind_everything(portal)


def _portal_store(*, request: InstallRequest, verified: VerifiedToken) -> Portal:
    expires_at = timezone.now() + timedelta(seconds=min(max(60, request.expires_in), MAX_EXPIRES_IN))
    with transaction.atomic():
        portal, created = Portal.objects.select_for_update().get_or_create(
            member_id=verified.member_id,
            defaults={"domain": verified.domain, "client_endpoint": verified.client_endpoint},
        )
        portal.domain = verified.domain or portal.domain
        portal.client_endpoint = verified.client_endpoint
        portal.server_endpoint = trust.oauth_rest_url()
        if request.application_token:
            portal.application_token = request.application_token
        portal.scope = verified.scope
        portal.status = Portal.Status.INSTALLED
        portal.access_token = request.access_token
        portal.refresh_token = request.refresh_token
        portal.expires_at = expires_at
        portal.token_user_id = verified.user_id
        if created or portal.uninstalled_at is not None or portal.installed_at is None:
            portal.installed_at = timezone.now()
        portal.uninstalled_at = None
        portal.save()
    log.info("portal %s installed (%s)", portal.member_id, "new" if created else "again")
    return portal


def app_url(path: str) -> str:
    base: str = settings.APP_PUBLIC_URL
    return (base if base.endswith("/") else base + "/") + path


def _bind_everything(portal: Portal) -> InstallResult:
    """One batch: unbind-then-bind pairs keep reinstalls and updates free of duplicates."""
    tab = app_url(DEAL_TAB_PATH)
    events_url = app_url(EVENTS_PATH)
    commands: dict[str, tuple[str, dict[str, Any]]] = {
        "tab_off": ("placement.unbind", {"PLACEMENT": DEAL_TAB_PLACEMENT, "HANDLER": tab}),
        "tab_on": (
            "placement.bind",
            {
                "PLACEMENT": DEAL_TAB_PLACEMENT,
                "HANDLER": tab,
                "TITLE": TAB_TITLES["en"],
                "LANG_ALL": {lang: {"TITLE": title} for lang, title in TAB_TITLES.items()},
            },
        ),
    }
    for event in EVENTS:
        commands[f"{event}_off"] = ("event.unbind", {"event": event, "handler": events_url})
        commands[f"{event}_on"] = ("event.bind", {"event": event, "handler": events_url})
    outcome = B24Client(PortalTokens(portal)).batch(commands)
    problems = tuple(
        f"{key}: {err.description or err.code}" for key, err in outcome.errors.items() if key.endswith("_on")
    )
    bound_events = tuple(e for e in EVENTS if f"{e}_on" not in outcome.errors)
    return InstallResult(
        portal=portal,
        placement_bound="tab_on" not in outcome.errors,
        events_bound=bound_events,
        problems=problems,
    )


def portal_install_from_event(*, auth: dict[str, Any]) -> InstallResult:
    """ONAPPINSTALL (scenario B): the same checks, with the event's auth block."""
    request = InstallRequest(
        access_token=str(auth.get("access_token", "")),
        refresh_token=str(auth.get("refresh_token", "")),
        expires_in=expires_in_or_default(auth.get("expires_in")),
        member_id=str(auth.get("member_id", "")),
        domain=str(auth.get("domain", "")),
        application_token=str(auth.get("application_token", "")),
    )
    if not request.access_token or not request.member_id:
        raise InstallRefused("ONAPPINSTALL without tokens")
    return portal_install(request=request)
