"""Each user's colour theme (light, dark or auto), kept on our server.

Bitrix24 tells an app nothing about the portal's theme (bitrix24-look.md §2), so the tab does what
b24ui does: "auto" follows prefers-color-scheme, and the user may pick light or dark. The choice
is a row of ours keyed by portal and user rather than a Bitrix24 user option (user.option.set):
reading it then costs no REST request on every tab open, and saving it none either (the portal
allows 2 requests a second per app). The page's <html data-theme> is rendered from it, so the
first paint has the right colours. Every page of a user reads it, so it is kept in the shared cache
too (written through on save): a cache read costs a fraction of a database query (issue 17, CPU per open).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from b24app.models import Portal, UserToken
from widgets.common.auth import WidgetTokenInvalid, frame_for_portal, token_from_request, widget_token_read
from widgets.models import ThemeChoice

log = logging.getLogger(__name__)

THEMES = ("auto", "light", "dark")
THEME_CACHE_SECONDS = 24 * 3600


def _theme_key(portal_id: int, user_id: int) -> str:
    return f"dealdesk:theme:{portal_id}:{user_id}"


def theme_get(*, portal_id: int, user_id: int) -> str:
    key = _theme_key(portal_id, user_id)
    theme = cache.get(key)
    if theme is None:
        stored = ThemeChoice.objects.filter(portal_id=portal_id, user_id=user_id).values_list("theme", flat=True)
        theme = stored.first() or "auto"
        cache.set(key, theme, THEME_CACHE_SECONDS)
    return theme if theme in THEMES else "auto"


def theme_set(*, portal_id: int, user_id: int, theme: str) -> None:
    ThemeChoice.objects.update_or_create(portal_id=portal_id, user_id=user_id, defaults={"theme": theme})
    cache.set(_theme_key(portal_id, user_id), theme, THEME_CACHE_SECONDS)


def theme_context(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the signed-in widget user's theme, for <html data-theme>."""
    widget = getattr(request, "widget", None)
    if widget is None:
        return {"theme": "auto"}
    return {"theme": theme_get(portal_id=widget.portal_id, user_id=widget.user_id)}


@csrf_exempt  # inside the portal's frame: the signed widget token is the proof (house style §11)
@require_POST
def theme_save(request: HttpRequest) -> HttpResponse:
    """Remember the user's choice (from the tab or the layout page); the page already shows it."""
    try:
        identity = widget_token_read(token_from_request(request))
    except WidgetTokenInvalid as exc:
        log.info("theme change refused: %s", exc)
        return HttpResponseForbidden("Forbidden", content_type="text/plain")
    portal = Portal.objects.filter(pk=identity.portal_id, status=Portal.Status.INSTALLED).first()
    # The same proof as every widget request: a signed token of a user this portal connected.
    if portal is None or not UserToken.objects.filter(portal=portal, user_id=identity.user_id).exists():
        return HttpResponseForbidden("Forbidden", content_type="text/plain")
    theme = request.POST.get("theme", "")
    if theme not in THEMES:
        return HttpResponseBadRequest("Bad request", content_type="text/plain")
    theme_set(portal_id=portal.pk, user_id=identity.user_id, theme=theme)
    return frame_for_portal(HttpResponse(status=204), portal)
