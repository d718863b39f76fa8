"""The app's Content-Security-Policy, through Django's built-in CSP.

settings.SECURE_CSP is the policy; django.middleware.csp.ContentSecurityPolicyMiddleware makes
the per-request nonce (`csp_nonce` in templates). Two parts are known only when answering, so the
header is built here (django.utils.csp.build_policy) and the built-in middleware, finding it set,
leaves it alone:
- scripts may also come from where BX24.js is served (trust.bx24_js_url(): the official library,
  or the sandbox portal's copy, whose address tests and `make run` choose);
- `frame-ancestors` is the portal's origin on the pages a portal frames (the deal tab, the layout
  page, the install page), else 'none'.

The sandbox portal is another site that only shares the process (b24app/urls.py); its answers get
a policy of their own (SANDBOX_POLICY), as a real portal's do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csp import get_nonce
from django.utils.csp import CSP, build_policy

from b24app import trust

HEADER = str(CSP.HEADER_ENFORCE)  # a plain str: WSGI servers refuse str subclasses as header names
SANDBOX_NAMESPACE = "sandbox"
SANDBOX_POLICY = {"object-src": [CSP.NONE], "base-uri": [CSP.NONE]}


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL; a scheme-relative one (//host/...) is taken as https."""
    parts = urlsplit(url)
    return f"{parts.scheme or 'https'}://{parts.netloc}"


def app_policy(*, frame_ancestors: str | None = None) -> dict[str, list[str]]:
    base = cast(dict[str, list[str]], settings.SECURE_CSP)
    config = {directive: list(values) for directive, values in base.items()}
    bx24 = trust.bx24_js_url()
    # A relative BX24_JS_URL is the app's own ('self'); an empty host must never become "https:".
    if urlsplit(bx24).netloc and origin_of(bx24) not in config.get("script-src", []):
        config["script-src"] = [*config.get("script-src", []), origin_of(bx24)]
    if frame_ancestors:
        config["frame-ancestors"] = [frame_ancestors]
    return config


def framed_by(response: HttpResponse, origin: str) -> HttpResponse:
    """A page the portal at `origin` frames: only it may frame it (X-Frame-Options is lifted).

    Marked on the response, like Django's xframe_options_exempt; the middleware writes the header.
    """
    response.csp_frame_ancestors = origin  # type: ignore[attr-defined]
    response.xframe_options_exempt = True
    return response


def _sandbox(request: HttpRequest) -> bool:
    match = request.resolver_match
    return match is not None and SANDBOX_NAMESPACE in match.namespaces


class AppPolicyMiddleware:
    """Every answer of the app carries the whole policy: pages, partials, refusals, errors, JSON.

    Listed after Django's CSP middleware, so that one still makes the nonce and then finds the
    header already set.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER in response:
            return response
        if _sandbox(request):
            # The portal's pages use inline styles, as Bitrix24's own do; they get only what
            # costs them nothing, and the app's policy is never stretched to fit them.
            response[HEADER] = build_policy(SANDBOX_POLICY)
        else:
            config = app_policy(frame_ancestors=getattr(response, "csp_frame_ancestors", None))
            response[HEADER] = build_policy(config, get_nonce(request))
        return response
