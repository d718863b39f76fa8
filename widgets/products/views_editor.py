"""The deal tab's views once it is open: the editors' posts, catalog search, and the polls that keep it current.

Split from widgets.products.views (the placement, the opening and reloading of the tab), whose
helpers they share. As there, an htmx request gets the partial it swaps and the same URL without
htmx answers with the whole tab page; POSTs carry the widget token.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap

from b24app import trust
from b24app.errors import AuthorizationLost, B24Error, InvalidToken
from b24app.models import Portal
from widgets.common.auth import StateInvalid, WidgetRequest, widget_view
from widgets.common.freshness import (
    TAB_HEADER,
    Freshness,
    OwnSave,
    freshness_check,
    freshness_keep_editing,
    own_save,
    poll_seconds,
    tab_id_of,
)
from widgets.contacts.present import ContactsView, contacts_view
from widgets.contacts.state import contacts_read, contacts_sign
from widgets.products.actions import ROWS_SAVING, editor_post
from widgets.products.editor import drafts_of
from widgets.products.forms import DealVersionForm, SearchForm, TooManyFields, editor_input, form_data
from widgets.products.present import Hit, Results, products_view, tab_page_context
from widgets.products.services import deal_tab_load, product_search, refdata_for
from widgets.products.signing import state_read
from widgets.products.state import TabState
from widgets.products.views import TEMPLATE, htmx, in_widget_language, page_of, placement_url, version_now

log = logging.getLogger(__name__)


def saving(request: WidgetRequest, deal_id: int, wanted: bool) -> Any:
    """A context noting this tab's own coming change of the deal (widgets.common.freshness), when saving."""
    if not wanted:
        return nullcontext(OwnSave())
    tab = tab_id_of(request.headers.get(TAB_HEADER))
    return own_save(portal_id=request.portal.pk, deal_id=deal_id, user_id=request.widget.user_id, tab=tab)


@csrf_exempt  # the widget token in the header or the form is this form's CSRF protection
@require_POST
@widget_view("tab")
@in_widget_language
def tab_rows(request: WidgetRequest, deal_id: int) -> HttpResponse:
    """Every button of the product editor, and the recalculation after each edited cell."""
    try:
        posted = editor_input(form_data(request))
    except TooManyFields:
        posted = None
    if posted is None:
        return HttpResponseBadRequest("Bad request", content_type="text/plain")
    with saving(request, deal_id, posted.action[0] in ROWS_SAVING) as own:
        try:
            outcome = editor_post(portal=request.portal, user_token=request.user_token, deal_id=deal_id, posted=posted)
        except StateInvalid:
            return HttpResponseForbidden("Forbidden", content_type="text/plain")
        # Only a save that updated the deal is followed by its ONCRMDEALUPDATE (widgets.common.freshness).
        own.wrote = outcome.editor.saved and outcome.editor.deal_touched
    current = outcome.current or outcome.state
    loaded = posted.controls.cleaned_data.get("cstate") or ""
    cstate = _contacts_version(request, deal_id, loaded, current) if outcome.editor.saved else loaded
    context = tab_page_context(
        deal_id=deal_id,
        widget_token=request.widget_token,
        lang=request.widget.lang,
        state=current,
        editor=outcome.editor,
        reauth=request.portal.status == Portal.Status.NEEDS_REAUTH,
        placement_url=placement_url(request.widget.lang),
        oob=htmx(request),
        contacts_token=cstate,
    )
    # The contacts form in the page takes the new version too (an out-of-band swap of its `cstate`).
    context["contacts_version"] = cstate if cstate != loaded else ""
    if not htmx(request):
        contacts = _contacts_as_loaded(request, deal_id, cstate, readonly=outcome.editor.mode == "readonly")
        page = {**context, "contacts": contacts, "fresh": Freshness("same", version_now(request, deal_id))}
        return render(request, TEMPLATE, {**page, "poll_seconds": poll_seconds(), "bx24_js": trust.bx24_js_url()})
    if outcome.recalc:
        # Only the computed cells change; the inputs stay as they are while someone types.
        return reswap(render(request, TEMPLATE + "#computed", context), "none")
    return render(request, TEMPLATE + "#editor", context)


def _contacts_version(request: WidgetRequest, deal_id: int, token: str, current: TabState | None) -> str:
    """The contacts' signed state with the deal's DATE_MODIFY after this tab's own rows save.

    Without it the contacts save's guard would fail on the tab's own write and cost a second
    request. The bindings stay as loaded, so that save still compares them with Bitrix24's.
    """
    if not token or current is None or not current.deal.date_modify:
        return token
    try:
        state = contacts_read(token, deal_id=deal_id, **_ids(request))
    except StateInvalid:
        return token  # the section offers to reload the tab
    if state.date_modify == current.deal.date_modify:
        return token
    return contacts_sign(replace(state, date_modify=current.deal.date_modify))


def page_with_contacts(request: WidgetRequest, deal_id: int, contacts: ContactsView) -> dict[str, Any]:
    """The page around the contacts section (widgets.contacts.views) without htmx: the products as
    last loaded (their signed state).

    Raises StateInvalid for a products state that is not ours.
    """
    token = contacts.products_token
    state = state_read(token, deal_id=deal_id, **_ids(request)) if token else None
    editor = None
    if state is not None:
        mode = "readonly" if contacts.mode == "readonly" else "edit"
        editor = products_view(state=state, drafts=drafts_of(state.rows, state.deal.currency), mode=mode)
    context = tab_page_context(
        deal_id=deal_id,
        widget_token=request.widget_token,
        lang=request.widget.lang,
        state=state,
        editor=editor,
        reauth=request.portal.status == Portal.Status.NEEDS_REAUTH,
        placement_url=placement_url(request.widget.lang),
        contacts=contacts,
        fresh=Freshness("same", version_now(request, deal_id)),
        poll_seconds=poll_seconds(),
    )
    return {**context, "bx24_js": trust.bx24_js_url()}


def _ids(request: WidgetRequest) -> dict[str, int]:
    return {"portal_id": request.portal.pk, "user_id": request.widget.user_id}


def page_loaded(request: WidgetRequest, deal_id: int) -> dict[str, Any]:
    """The whole tab page loaded from Bitrix24 again, for a request without htmx."""
    known = version_now(request, deal_id)
    loaded = deal_tab_load(portal=request.portal, user_token=request.user_token, deal_id=deal_id)
    return page_of(request, loaded, known)


def _contacts_as_loaded(request: WidgetRequest, deal_id: int, token: str, *, readonly: bool) -> ContactsView | None:
    """The contacts section of a whole page sent after a products post (no htmx): as last loaded."""
    try:
        state = contacts_read(token, portal_id=request.portal.pk, user_id=request.widget.user_id, deal_id=deal_id)
    except StateInvalid:
        return None  # the section offers to reload the tab
    return contacts_view(state=state, mode="readonly" if readonly else "edit")


@require_GET
@widget_view("tab")
@in_widget_language
def tab_products(request: WidgetRequest, deal_id: int) -> HttpResponse:
    """Catalog search as you type: up to ten products for the listbox."""
    form = SearchForm(request.GET)
    query, currency = (form.cleaned_data["q"], form.cleaned_data["cur"]) if form.is_valid() else ("", "")
    results = _search(request, query, currency)
    if htmx(request):
        context = {"results": results, "deal_id": deal_id, "widget_token": request.widget_token}
        return render(request, TEMPLATE + "#results", context)
    known = version_now(request, deal_id)
    loaded = deal_tab_load(portal=request.portal, user_token=request.user_token, deal_id=deal_id)
    return render(request, TEMPLATE, page_of(request, loaded, known, results=results))


def _search(request: WidgetRequest, query: str, deal_currency: str) -> Results:
    if len(query) < 2:
        return Results(q="")  # too short to search, or to name a product: the list stays closed
    refdata = refdata_for(portal_id=request.portal.pk)
    units = {796: translation.gettext("pcs"), 166: translation.gettext("kg"), 163: translation.gettext("g")}
    units.update({112: translation.gettext("l"), 6: translation.gettext("m")})
    try:
        found = product_search(user_token=request.user_token, query=query, measure_names=units)
    except (AuthorizationLost, InvalidToken):
        return Results(q=query, error=True, session=True)
    except B24Error as exc:
        log.info("catalog search failed: %s", exc.code)
        return Results(q=query, error=True)
    hits = [
        Hit(
            token=hit.token,
            name=hit.choice.name,
            price=refdata.currency(hit.choice.currency).money(hit.choice.price),
            currency=hit.choice.currency,
            other_currency=bool(deal_currency) and hit.choice.currency != deal_currency,
        )
        for hit in found
    ]
    return Results(q=query, hits=hits)


@require_GET
@widget_view("tab")
def tab_ping(request: WidgetRequest, deal_id: int) -> HttpResponse:
    """Nothing but a renewed token (in the X-Widget-Token header), while the tab stays open."""
    return HttpResponse(status=204)


@require_GET
@widget_view("tab")
@in_widget_language
def tab_version(request: WidgetRequest, deal_id: int) -> HttpResponse:
    """Has the deal changed since the tab showed it? Read from the cache only: never a REST call.

    204 when there is nothing new to show; otherwise the notice (or a quiet poller that knows the
    newer version, after the tab's own save came back as an event).
    """
    form = DealVersionForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("Bad request", content_type="text/plain")
    fresh = freshness_check(
        portal_id=request.portal.pk,
        deal_id=deal_id,
        user_id=request.widget.user_id,
        tab=tab_id_of(request.headers.get(TAB_HEADER)),
        known=form.cleaned_data["v"],
        shown=form.cleaned_data["shown"] or 0,
    )
    if fresh.state == "same":
        return HttpResponse(status=204)
    context = {"fresh": fresh, "deal_id": deal_id, "poll_seconds": poll_seconds()}
    return render(request, TEMPLATE + "#freshness", context)


@csrf_exempt  # the widget token in the header is this post's CSRF protection
@require_POST
@widget_view("tab")
@in_widget_language
def tab_keep_editing(request: WidgetRequest, deal_id: int) -> HttpResponse:
    """Keep editing, on the changed-elsewhere notice: the tab takes the deal's version as seen.

    A POST: it is the person's action on the tab, not a read (house style rule 10).
    """
    fresh = freshness_keep_editing(portal_id=request.portal.pk, deal_id=deal_id)
    context = {"fresh": fresh, "deal_id": deal_id, "poll_seconds": poll_seconds()}
    return render(request, TEMPLATE + "#freshness", context)
