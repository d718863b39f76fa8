"""The contacts section's views: the editor's POST and the contact search (widgets/deal_tab.html#contacts).

Like the products editor (widgets.products.views), an htmx request gets the partial it swaps and the
same URL without htmx answers with the whole tab page. POSTs carry the widget token, which is what
protects them in the portal's cross-site iframe.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from widgets.common.auth import StateInvalid, WidgetRequest, widget_view
from widgets.contacts.actions import ContactsOutcome, contact_results, contacts_post
from widgets.contacts.forms import ContactSearchForm, contacts_input
from widgets.products.views import TEMPLATE, htmx, in_widget_language
from widgets.products.views_editor import page_loaded, page_with_contacts


@csrf_exempt  # the widget token in the header or the form is this form's CSRF protection
@require_POST
@widget_view("tab")
@in_widget_language
def tab_contacts(request: WidgetRequest, deal_id: int) -> HttpResponse:
    """Every button of the contacts editor: add, create, remove, make primary, move, save."""
    ids = {"portal_id": request.portal.pk, "user_id": request.widget.user_id}
    try:
        posted = contacts_input(request.POST, **ids)
        if posted is None:
            return HttpResponseBadRequest("Bad request", content_type="text/plain")
        # No own change is expected: Bitrix24 sends no ONCRMDEALUPDATE for binding changes (nor moves
        # DATE_MODIFY), so counting one would swallow the next change made elsewhere
        # (bitrix24-batch.md "Ids, and what a write changes"; widgets.common.freshness).
        outcome = contacts_post(portal=request.portal, user_token=request.user_token, deal_id=deal_id, posted=posted)
        if htmx(request):
            return render(request, TEMPLATE + "#contacts", _context(request, deal_id, outcome, oob=True))
        return render(request, TEMPLATE, page_with_contacts(request, deal_id, outcome.view))
    except StateInvalid:
        return HttpResponseForbidden("Forbidden", content_type="text/plain")


def _context(request: WidgetRequest, deal_id: int, outcome: ContactsOutcome, *, oob: bool) -> dict[str, Any]:
    return {
        "deal_id": deal_id,
        "widget_token": request.widget_token,
        "contacts": outcome.view,
        "oob": oob,
        "LANGUAGE_CODE": request.widget.lang,
    }


@require_GET
@widget_view("tab")
@in_widget_language
def tab_contact_search(request: WidgetRequest, deal_id: int) -> HttpResponse:
    """Contact search as you type: up to ten contacts for the listbox (crm.contact.list)."""
    form = ContactSearchForm(request.GET)
    query = form.cleaned_data["cq"] if form.is_valid() else ""
    linked = {int(v) for v in request.GET.get("linked", "").split(",") if v.isascii() and v.isdigit() and len(v) < 12}
    results = contact_results(user_token=request.user_token, query=query, linked=linked, portal_id=request.portal.pk)
    if htmx(request):
        return render(request, TEMPLATE + "#contact_results", {"cresults": results, "deal_id": deal_id})
    page = page_loaded(request, deal_id)
    if page.get("contacts") is not None:
        page["contacts"].results = results
    return render(request, TEMPLATE, page)
