"""Opening the layout page from the portal's app menu (PLACEMENT=DEFAULT): a first paint at once,
then the fill.

The portal's POST is answered at once with the page's frame and a skeleton, before any REST
request, so a slow portal shows "loading" instead of a blank frame (as the deal tab does,
widgets.common.opening). AUTH_ID is not believed yet, so the skeleton shows nothing of the
portal: it carries the placement's fields (as Retry does) and a one-time opening token (in a
header, never a URL), and its htmx load POSTs both to `open_page`, which runs the one opening
request (services.layout_admin_open) and answers the workspace. Without htmx (a plain Retry, a
test) the fill answers the whole page.
"""

from __future__ import annotations

import logging
from typing import cast

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from b24app import views as b24app_views
from b24app.errors import B24Error
from b24app.models import Portal
from widgets.common.auth import TOKEN_HEADER, WidgetIdentity, WidgetRequest, frame_for_portal, widget_token_mint
from widgets.common.failures import failure_reason
from widgets.common.opening import opening_accept, opening_page, opening_render, placement_link
from widgets.common.placement import (
    PlacementMalformed,
    PlacementPost,
    PlacementRefused,
    placement_parse,
    placement_portal,
    placement_retry_fields,
)
from widgets.layouts import services
from widgets.layouts.present import PAGE, layout_page_context, refused, render_workspace
from widgets.layouts.services import NotLayoutAdmin

log = logging.getLogger(__name__)


def _framed(response: HttpResponse, portal: Portal | None) -> HttpResponse:
    """Framable by the portal the POST named, when it named one we know; by nobody otherwise."""
    return frame_for_portal(response, portal) if portal else response


def _placement(request: HttpRequest) -> tuple[PlacementPost, Portal] | HttpResponse:
    """The placement's fields and its portal, or the polite refusal to answer instead."""
    portal: Portal | None = None
    try:
        post = placement_parse(request)
        portal = placement_portal(post)
    except PlacementRefused as exc:
        log.warning("layout page refused: %s", exc)
        response = refused(request, reason="unverified", status=400 if isinstance(exc, PlacementMalformed) else 403)
        return _framed(response, portal)
    if portal.status != Portal.Status.INSTALLED:
        return frame_for_portal(refused(request, reason="reauth", status=200), portal)
    return post, portal


def _placement_opened(request: HttpRequest) -> tuple[PlacementPost, Portal] | HttpResponse:
    """The fill's placement, once the one-time token its first paint minted for it is spent."""
    placed = _placement(request)
    if isinstance(placed, HttpResponse):
        return placed
    post, portal = placed
    refusal = opening_accept(request, portal_id=portal.pk, auth_id=post.auth_id, member_id=portal.member_id)
    return refusal or placed


@csrf_exempt  # the portal's cross-site form POST carries no CSRF token (protocol §5.3)
@require_http_methods(["GET", "POST"])
def main_page(request: HttpRequest) -> HttpResponse:
    """GET: the landing page. POST from the portal's app menu: the layout page's first paint."""
    if request.method == "GET":
        return b24app_views.home(request)
    placed = _placement(request)
    if isinstance(placed, HttpResponse):
        return placed
    post, portal = placed
    context = {
        "opening": opening_page(
            request, portal_id=portal.pk, auth_id=post.auth_id, start="layout_home", fill="layout_open"
        ),
    }
    return opening_render(request, PAGE, context, portal=portal)


@csrf_exempt  # the one-time opening token (a header) and the portal's AUTH_ID are this post's proof
@require_POST
def open_page(request: HttpRequest) -> HttpResponse:
    """Fill the first paint: verify AUTH_ID, check the admin and read the layout, in one request."""
    placed = _placement_opened(request)
    if isinstance(placed, HttpResponse):
        return placed
    post, portal = placed
    try:
        opened = services.layout_admin_open(post=post, portal=portal)
    except PlacementRefused as exc:
        log.warning("layout page refused: %s", exc)
        return frame_for_portal(refused(request, reason="unverified", status=403), portal)
    except NotLayoutAdmin:
        # A page the person is meant to read (200): a 403 would show in the portal's console as a failure.
        return frame_for_portal(refused(request, status=200), portal)
    except B24Error as exc:
        log.warning("layout page: Bitrix24 failed on open: %s", exc)
        retry = {
            "placement_retry": placement_retry_fields(request),
            "placement_url": placement_link(request, "layout_home"),  # Retry opens the page again, from its start
            "failure": failure_reason(exc),  # what happened, not always "did not answer" (a 502 answers at once)
        }
        return frame_for_portal(refused(request, reason="unavailable", status=200, extra=retry), portal)
    identity = WidgetIdentity(portal.pk, opened.user_token.user_id, None, "admin", post.lang)
    widget = cast(WidgetRequest, request)
    widget.portal, widget.widget, widget.user_token = portal, identity, opened.user_token
    widget.widget_token = widget_token_mint(identity=identity)
    response = render_workspace(widget, layout_page_context(widget, ws=opened.workspace))
    response[TOKEN_HEADER] = widget.widget_token  # layout-admin.js puts it in the page's hx-headers
    return frame_for_portal(response, portal)
