"""The deal tab's views: parse, call one service, render (widgets/deal_tab.html and its partials).

An htmx request gets the partial it swaps; the same URL without htmx answers with the whole tab
page, so every step also works as a plain form post. POSTs carry the widget token (X-Widget-Token
header, or the widget_token field), which is what protects them: the page lives in a cross-site
iframe where cookies, and so Django's CSRF cookie, cannot be relied on.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from b24app import trust
from b24app.client import queued_seconds
from b24app.models import Portal
from widgets.common.auth import (
    TOKEN_HEADER,
    WidgetIdentity,
    WidgetRequest,
    frame_for_portal,
    widget_token_mint,
    widget_view,
)
from widgets.common.freshness import (
    Freshness,
    deal_version,
    poll_seconds,
)
from widgets.common.opening import opening_accept, opening_page, opening_render, placement_link
from widgets.common.placement import (
    PlacementMalformed,
    PlacementPost,
    PlacementRefused,
    placement_parse,
    placement_portal,
    placement_retry_fields,
)
from widgets.common.theme import theme_get
from widgets.contacts.present import contacts_view
from widgets.products.editor import drafts_of
from widgets.products.present import Results, products_view, tab_page_context
from widgets.products.services import (
    Loaded,
    TabUnavailable,
    deal_id_of,
    deal_tab_load,
    deal_tab_open,
)

log = logging.getLogger(__name__)
TEMPLATE = "widgets/deal_tab.html"
OPENING_TEMPLATE = "widgets/deal_tab_opening.html"  # the first paint: frame and skeleton
BUSY_SECONDS = 2.0  # a fill that would wait longer than this in the limiter answers "busy" and polls
POLL_MAX_SECONDS = 5.0
# What a Retry posts again when Bitrix24 did not answer the placement (the portal's own fields, §5.2).


def in_widget_language(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer in the language the portal opened the tab in (LANG, kept in the widget token)."""

    @functools.wraps(view)
    def wrapped(request: WidgetRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with translation.override(request.widget.lang):
            return view(request, *args, **kwargs)

    return wrapped


def _page(
    *,
    widget: WidgetIdentity,
    token: str,
    portal: Portal,
    loaded: Loaded,
    known: int,
    results: Results | None = None,
) -> dict[str, Any]:
    """The whole tab page as loaded from Bitrix24; `known` is the deal's version read before the load."""
    state = loaded.state
    editor = contacts = None
    if state is not None:
        mode = "readonly" if loaded.read_only else "edit"
        editor = products_view(state=state, drafts=drafts_of(state.rows, state.deal.currency), mode=mode)
        if loaded.contacts is not None:
            contacts = contacts_view(state=loaded.contacts, mode=mode)
    context = tab_page_context(
        deal_id=widget.deal_id or 0,
        widget_token=token,
        lang=widget.lang,
        state=state,
        editor=editor,
        reauth=portal.status == Portal.Status.NEEDS_REAUTH,
        problem=loaded.problem,
        results=results,
        placement_url=placement_url(widget.lang),
        contacts=contacts,
        fresh=Freshness("same", known),
        poll_seconds=poll_seconds(),
    )
    # The tab's own id (X-Deal-Tab): its saves are told apart from changes made elsewhere.
    theme = theme_get(portal_id=widget.portal_id, user_id=widget.user_id)
    return {**context, "bx24_js": trust.bx24_js_url(), "tab_session": secrets.token_hex(8), "theme": theme}


def page_of(request: WidgetRequest, loaded: Loaded, known: int, results: Results | None = None) -> dict[str, Any]:
    widget, token, portal = request.widget, request.widget_token, request.portal
    return _page(widget=widget, token=token, portal=portal, loaded=loaded, known=known, results=results)


def version_now(request: WidgetRequest, deal_id: int) -> int:
    return deal_version(portal_id=request.portal.pk, deal_id=deal_id)


def _version_before(portal: Portal, post: PlacementPost) -> int:
    """The deal's version before the placement loads it: a change during the load still shows later."""
    try:
        return deal_version(portal_id=portal.pk, deal_id=deal_id_of(post))
    except PlacementRefused:
        return 0  # deal_tab_open refuses it too


def htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def placement_url(lang: str) -> str:
    return f"{reverse('widgets:tab_placement')}?LANG={lang}"


def _placement(request: HttpRequest) -> tuple[PlacementPost, Portal] | HttpResponse:
    """The placement's fields and its stored portal (no REST request), or the 400/403 answer."""
    try:
        post = placement_parse(request)
        portal = placement_portal(post)
    except PlacementMalformed as exc:
        log.info("deal tab placement malformed: %s", exc)
        return HttpResponseBadRequest("Bad request", content_type="text/plain")
    except PlacementRefused as exc:
        log.info("deal tab placement refused: %s", exc)
        return HttpResponseForbidden("Forbidden", content_type="text/plain")
    try:
        deal_id_of(post)  # a placement that names no deal gets no skeleton either
    except PlacementRefused as exc:
        # A portal we know framed it: say so inside the frame, as a page meant to be read.
        log.info("deal tab placement refused for %s: %s", portal.member_id, exc)
        with translation.override(post.lang):
            context = {"LANGUAGE_CODE": post.lang, "placement_url": request.get_full_path(), "refused": True}
            return frame_for_portal(render(request, TEMPLATE, context, status=403), portal)
    return post, portal


@csrf_exempt  # Bitrix24 POSTs this cross-site without a CSRF token (bitrix24-protocol.md §5.2)
@require_POST
def tab_placement(request: HttpRequest) -> HttpResponse:
    """The first paint: the frame and a skeleton at once, with no REST request before it.

    AUTH_ID is not verified yet, so the skeleton shows nothing of the deal; its htmx load posts
    the placement's fields back with a one-time opening token (widgets.common.opening) to
    tab_open, which runs the one opening batch.
    """
    placed = _placement(request)
    if isinstance(placed, HttpResponse):
        return placed
    post, portal = placed
    return _opening(request, post, portal)


def _opening(request: HttpRequest, post: PlacementPost, portal: Portal, *, poll_after: float = 0) -> HttpResponse:
    """The skeleton page with a fresh opening token; `poll_after`: Bitrix24 is busy, fill after that many seconds."""
    with translation.override(post.lang):
        context = {
            "LANGUAGE_CODE": post.lang,
            "opening": opening_page(
                request, portal_id=portal.pk, auth_id=post.auth_id, start="tab_placement", fill="tab_open"
            ),
            "poll_after": f"{poll_after:.1f}" if poll_after else "",
        }
        return opening_render(request, OPENING_TEMPLATE, context, portal=portal)


@csrf_exempt  # the one-time opening token (a header) and the portal's AUTH_ID are this post's proof
@require_POST
def tab_open(request: HttpRequest) -> HttpResponse:
    """Fill the skeleton: verify AUTH_ID and load the tab in the one opening batch."""
    placed = _placement(request)
    if isinstance(placed, HttpResponse):
        return placed
    post, portal = placed
    refusal = opening_accept(request, portal_id=portal.pk, auth_id=post.auth_id, member_id=portal.member_id)
    if refusal is not None:
        return refusal
    queued = queued_seconds(portal.member_id)
    if queued > BUSY_SECONDS:
        # A long queue in the limiter: answer "busy" now and come back, rather than hold a server
        # thread (which the next user's first paint needs) while the request waits its turn.
        return _opening(request, post, portal, poll_after=min(POLL_MAX_SECONDS, queued - BUSY_SECONDS + 0.5))
    with translation.override(post.lang):
        context: dict[str, Any] = {
            "LANGUAGE_CODE": post.lang,
            "placement_url": placement_link(request, "tab_placement"),
        }
        known = _version_before(portal, post)
        try:
            opened = deal_tab_open(post=post, portal=portal)
        except PlacementRefused as exc:
            log.info("deal tab placement refused for %s: %s", portal.member_id, exc)
            return frame_for_portal(render(request, TEMPLATE, {**context, "refused": True}, status=403), portal)
        except TabUnavailable:
            retry = placement_retry_fields(request)
            return frame_for_portal(render(request, TEMPLATE, {**context, "placement_retry": retry}), portal)
        identity = WidgetIdentity(portal.pk, opened.user_id, opened.deal_id, "tab", post.lang)
        token = widget_token_mint(identity=identity)
        page = _page(widget=identity, token=token, portal=portal, loaded=opened.loaded, known=known)
        response = render(request, TEMPLATE, page)
    response[TOKEN_HEADER] = token
    # The skeleton's page keeps its <body>: deal-tab.js takes the tab's deal and id from this event.
    response["HX-Trigger"] = json.dumps({"dealtab:opened": {"deal": opened.deal_id, "tab": page["tab_session"]}})
    return frame_for_portal(response, portal)


@csrf_exempt  # a read; a plain Retry form POSTs so the widget token stays out of the URL
@require_http_methods(["GET", "POST"])
@widget_view("tab")
@in_widget_language
def tab_show(request: WidgetRequest, deal_id: int) -> HttpResponse:
    """The tab again: Retry after a failure, Reload after a change elsewhere, or the whole page without htmx."""
    known = version_now(request, deal_id)
    loaded = deal_tab_load(portal=request.portal, user_token=request.user_token, deal_id=deal_id)
    return render(request, TEMPLATE + "#tab" if htmx(request) else TEMPLATE, page_of(request, loaded, known))
