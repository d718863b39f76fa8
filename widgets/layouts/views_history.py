"""The layout page's history (compare, roll back, export) and its people (personal layouts, access)."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from widgets.common.auth import WidgetRequest
from widgets.layouts import people as layout_people
from widgets.layouts import services
from widgets.layouts.batch import Target
from widgets.layouts.catalog import catalog_cached
from widgets.layouts.diff import layout_diff
from widgets.layouts.forms import AccessForm, DiffForm, ExportForm, LayoutVersionForm, UserSearchForm
from widgets.layouts.present import (
    PAGE,
    access_list,
    is_htmx,
    layout_page_context,
    render_workspace,
    workspace_failure,
)
from widgets.layouts.routes import layout_action, layout_read
from widgets.layouts.schema import LayoutInvalid, layout_to_api
from widgets.layouts.services import NotLayoutAdmin, Workspace, version_layout, version_target
from widgets.templatetags.layout_notes import version_note

EXPORT_FORMAT = "deal-desk.card-layout"


def read_params(request: HttpRequest) -> QueryDict:
    """The parameters of a read that comes as a GET (htmx, token in the header) or a plain POST form."""
    return request.POST if request.method == "POST" else request.GET


@layout_action()
def rollback(request: WidgetRequest) -> HttpResponse:
    """Send an earlier version again; the rollback is a version of its own."""
    ctx = services.layout_admin_context(portal=request.portal, user_token=request.user_token)
    form = LayoutVersionForm(request.POST)
    if not form.is_valid():
        return workspace_failure(request, _("Pick a version from the history to roll back to."))
    try:
        version = services.layout_rollback(ctx=ctx, version_id=form.cleaned_data["version"])
    except LayoutInvalid as exc:
        problems = " ".join(p.message for p in exc.problems[:3])
        message = _("That version cannot be sent as it is: %(problems)s Nothing was sent.") % {"problems": problems}
        return workspace_failure(request, message)
    target, layout = version_target(version), version_layout(version)
    ws = Workspace(ctx.catalog, target, layout, saved=version.layout is not None)
    restored = version_note(version.note.removeprefix("rolled back to "))
    message = _("Rolled back: version %(n)s restores %(what)s.") % {"n": version.number, "what": restored}
    return render_workspace(request, layout_page_context(request, ws=ws, message=message))


@layout_read
def diff(request: WidgetRequest) -> HttpResponse:
    """What changed between two versions, as a list of sentences."""
    ctx = services.layout_admin_context(portal=request.portal, user_token=request.user_token)
    form = DiffForm(read_params(request))
    if not form.is_valid():
        return workspace_failure(request, _("Pick two versions to compare."))
    old = services.layout_version_get(portal=request.portal, version_id=form.cleaned_data["a"])
    new = services.layout_version_get(portal=request.portal, version_id=form.cleaned_data["b"])
    changes = layout_diff(version_layout(old), version_layout(new), label=ctx.catalog.label)
    diff = {"old": old, "new": new, "changes": changes}
    if is_htmx(request):
        return render(request, PAGE + "#diff", {"diff": diff, "widget_token": request.widget_token})
    ws = services.layout_workspace_load(
        portal=request.portal, user_token=request.user_token, target=version_target(new)
    )
    return render(request, PAGE, layout_page_context(request, ws=ws, diff=diff))


@layout_read
def export_json(request: WidgetRequest) -> HttpResponse:
    """A JSON file of the saved layout (or of one version): a download, changes nothing."""
    form = ExportForm(read_params(request))
    if not form.is_valid():
        return workspace_failure(request, _("That export link is not valid. Reload the page."))
    if form.cleaned_data.get("version"):
        ctx = services.layout_admin_context(portal=request.portal, user_token=request.user_token)
        version = services.layout_version_get(portal=request.portal, version_id=form.cleaned_data["version"])
        target, layout, label = version_target(version), version_layout(version), f"v{version.number}"
        catalog = ctx.catalog
    else:
        cached = catalog_cached(request.portal)
        target = form.target(cached.default_funnel.id if cached else 0)
        ws = services.layout_workspace_load(portal=request.portal, user_token=request.user_token, target=target)
        layout, label, catalog = ws.layout, "saved", ws.catalog
    funnel = catalog.funnel(target.category_id)
    funnel_name = funnel.name if funnel else str(target.category_id)
    response = HttpResponse(
        json.dumps(export_payload(target, funnel_name, layout_to_api(layout)), ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    filename = f"card-layout-{slugify(funnel_name) or target.category_id}-{label}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def export_payload(target: Target, funnel_name: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "formatVersion": 1,
        "funnel": {"id": target.category_id, "name": funnel_name},
        "scope": target.scope,
        "exportedAt": timezone.now().isoformat(timespec="seconds"),
        "data": data,
    }
    if target.personal:
        payload["userId"] = target.user_id
    return payload


@layout_read
def users(request: WidgetRequest) -> HttpResponse:
    """People found by name (user.get FIND), for a personal layout or for access to this page."""
    ctx = services.layout_admin_context(portal=request.portal, user_token=request.user_token)
    form = UserSearchForm(read_params(request))
    term = (form.cleaned_data.get("q") or "").strip() if form.is_valid() else ""
    people = layout_people.layout_users_find(ctx=ctx, term=term) if len(term) >= 2 else []
    target = form.target(ctx.catalog.default_funnel.id) if form.is_valid() else Target(ctx.catalog.default_funnel.id)
    context: dict[str, Any] = {"people": people, "q": term, "searched": len(term) >= 2, "target": target}
    if is_htmx(request):
        return render(request, PAGE + "#people_found", {**context, "widget_token": request.widget_token})
    ws = services.layout_workspace_load(portal=request.portal, user_token=request.user_token, target=target)
    return render(request, PAGE, {**layout_page_context(request, ws=ws), **context})


@layout_action()
def access(request: WidgetRequest) -> HttpResponse:
    """Who besides portal administrators may use this page; only administrators change it."""
    ctx = services.layout_admin_context(portal=request.portal, user_token=request.user_token)
    # https://apidocs.bitrix24.com/api-reference/common/users/user-admin.html: asked every time,
    # so the extra list can never extend itself.
    if ctx.client.result("user.admin") is not True:
        raise NotLayoutAdmin("only administrators change who may use the layout page")
    form = AccessForm(request.POST)
    message = ""
    if form.is_valid():
        data = form.cleaned_data
        layout_people.layout_access_change(portal=request.portal, add=data.get("add"), remove=data.get("remove"))
        message = _("Saved: the list of people allowed on this page.")
    target = form.target(ctx.catalog.default_funnel.id) if form.is_valid() else Target(ctx.catalog.default_funnel.id)
    if is_htmx(request):
        context = {"access": access_list(request), "access_message": message, "target": target}
        return render(request, PAGE + "#people", {**context, "widget_token": request.widget_token})
    ws = services.layout_workspace_load(portal=request.portal, user_token=request.user_token, target=target)
    return render(request, PAGE, layout_page_context(request, ws=ws, access_message=message))
