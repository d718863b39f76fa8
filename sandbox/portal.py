"""The portal's identity and settings: one Portal row, its public address, its limits."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.conf import settings

from sandbox.models import Portal


def get_portal() -> Portal:
    portal = Portal.objects.first()
    if portal is None:
        portal, _ = Portal.objects.get_or_create(defaults={"member_id": secrets.token_hex(16)}, pk=1)
    return portal


def portal_url() -> str:
    """The portal's public base URL, ending in "/sandbox/" (settings.SANDBOX_PORTAL_URL)."""
    url: str = settings.SANDBOX_PORTAL_URL
    return url if url.endswith("/") else url + "/"


def portal_host() -> str:
    """host[:port] as Bitrix24 sends it in DOMAIN."""
    return urlsplit(portal_url()).netloc


def portal_is_https() -> bool:
    return urlsplit(portal_url()).scheme == "https"


def client_endpoint() -> str:
    return portal_url() + "rest/"


def server_endpoint() -> str:
    """The OAuth server's REST base (oauth.bitrix.info/rest/ in the cloud)."""
    return portal_url() + "oauth/rest/"


def limits_enabled(portal: Portal) -> bool:
    if portal.limits_enabled is not None:
        return portal.limits_enabled
    return bool(settings.SANDBOX_LIMITS_ENABLED)


def rate_limit(portal: Portal) -> tuple[float, int]:
    rate = portal.rate_limit if portal.rate_limit is not None else settings.SANDBOX_RATE_LIMIT
    burst = portal.rate_burst if portal.rate_burst is not None else settings.SANDBOX_RATE_BURST
    return float(rate), int(burst)
