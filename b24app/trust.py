"""Which addresses the app trusts as portals and as the OAuth server.

Nothing taken from a request decides where a secret or a token goes: endpoints must match these
patterns, and the OAuth server comes from settings only.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings

OFFICIAL_OAUTH_SERVER = "https://oauth.bitrix.info/"
OFFICIAL_BX24_JS = "//api.bitrix24.com/api/v1/"
# Bitrix24 cloud portals: <name>.bitrix24.<zone>, e.g. acme.bitrix24.com, acme.bitrix24.com.br.
_CLOUD_HOST = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.bitrix24\.(?:[a-z]{2,3}|com\.[a-z]{2})$")


def sandbox_url() -> str:
    url: str = settings.SANDBOX_PORTAL_URL
    return url if url.endswith("/") else url + "/"


def oauth_server() -> str:
    """Base URL of the OAuth server (token endpoint at oauth/token/, its REST at rest/)."""
    configured: str = settings.B24_OAUTH_SERVER
    if configured:
        return configured if configured.endswith("/") else configured + "/"
    return sandbox_url() if settings.B24_SANDBOX else OFFICIAL_OAUTH_SERVER


def token_url() -> str:
    return oauth_server() + "oauth/token/"


def oauth_rest_url() -> str:
    """The OAuth server's REST base: app.info there tells whose token this is (protocol §2.6)."""
    if settings.B24_SANDBOX and not settings.B24_OAUTH_SERVER:
        return sandbox_url() + "oauth/rest/"
    return oauth_server() + "rest/"


def bx24_js_url() -> str:
    configured: str = settings.BX24_JS_URL
    if configured:
        return configured
    return sandbox_url() + "bx24.js" if settings.B24_SANDBOX else OFFICIAL_BX24_JS


def trusted_portal_host(host: str) -> bool:
    host = host.lower().strip()
    if _CLOUD_HOST.match(host):
        return True
    if host in {h.lower() for h in settings.B24_EXTRA_PORTAL_HOSTS}:
        return True
    return bool(settings.B24_SANDBOX) and host == urlsplit(sandbox_url()).netloc.lower()


def trusted_client_endpoint(url: str) -> bool:
    """A portal's REST base: https://<trusted host>/rest/ (plain http only for the sandbox)."""
    parts = urlsplit(url)
    if not trusted_portal_host(parts.netloc):
        return False
    if parts.query or parts.fragment:
        return False
    if settings.B24_SANDBOX and parts.netloc.lower() == urlsplit(sandbox_url()).netloc.lower():
        return url == sandbox_url() + "rest/"
    return parts.scheme == "https" and parts.path == "/rest/"


def client_endpoint_for(host: str) -> str | None:
    """The REST base of a portal named by its host, if the host is trusted."""
    host = host.lower().strip()
    if not trusted_portal_host(host):
        return None
    if settings.B24_SANDBOX and host == urlsplit(sandbox_url()).netloc.lower():
        return sandbox_url() + "rest/"
    return f"https://{host}/rest/"


def portal_base_for(client_endpoint: str) -> str:
    """https://acme.bitrix24.com/ from https://acme.bitrix24.com/rest/ (the sandbox keeps /sandbox/)."""
    return client_endpoint[: -len("rest/")] if client_endpoint.endswith("rest/") else client_endpoint
