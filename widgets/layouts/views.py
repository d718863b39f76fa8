"""The card layout editor (the app's main page, PLACEMENT=DEFAULT, opens in views_open).

Every endpoint needs an "admin" widget token (widgets.common.auth) AND passes the
server-side admin check of widgets.layouts.services. They are csrf_exempt: they are framed
cross-site by the portal, where cookies (and so Django's CSRF cookie) cannot be relied on; the
signed widget token each request must carry plays that role (house style rule 11).
"""

from __future__ import annotations

import logging

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET
from django_htmx.http import reswap, retarget

from widgets.common.auth import (
    WidgetRequest,
    widget_view,
)
from widgets.layouts import services
from widgets.layouts.batch import Target
from widgets.layouts.catalog import Catalog, catalog_cached
from widgets.layouts.editor import LayoutOpError, layout_edit_apply, sections_retitle
from widgets.layouts.forms import CopyForm, EditorForm, ImportForm, SaveForm, TargetForm
from widgets.layouts.present import (
    PAGE,
    edit_focus,
    editor_failure,
    is_htmx,
    layout_editor_view,
    layout_endpoint,
    layout_page_context,
    render_editor,
    render_workspace,
    workspace_failure,
)
from widgets.layouts.routes import editor_action, layout_action
from widgets.layouts.schema import (
    Layout,
    LayoutInvalid,
    Problem,
    layout_check,
    layout_default,
    layout_json_load,
    layout_problems,
)
from widgets.layouts.services import AdminContext, UnknownTarget, Workspace
from widgets.templatetags.layout_notes import ALL_USERS

log = logging.getLogger(__name__)


@require_GET
@widget_view("admin")
@layout_endpoint()
def page(request: WidgetRequest) -> HttpResponse:
    """One funnel's layout (everyone's, or one person's), freshly read from Bitrix24."""
    form = TargetForm(request.GET)
    if not form.is_valid():
        return workspace_failure(request, _("That link does not point to a layout. Pick a funnel on the left."))
    cached = catalog_cached(request.portal)
    target = form.target(cached.default_funnel.id if cached else 0)
    ws = services.layout_workspace_load(portal=request.portal, user_token=request.user_token, target=target)
    return render_workspace(request, layout_page_context(request, ws=ws))


@editor_action(lambda request, catalog: EditorForm(request.POST))
def edit(request: WidgetRequest, ctx: AdminContext, form: EditorForm, target: Target, before: Layout) -> HttpResponse:
    """One editor button: add, remove, move, rename, drag and drop, preview. Nothing is sent."""
    edit = form.edit_request()
    layout, message, error = before, "", ""
    try:
        layout, message = layout_edit_apply(before, edit, known=ctx.catalog.known, label=ctx.catalog.label)
    except LayoutOpError as exc:
        error = str(exc)
    editor = layout_editor_view(
        catalog=ctx.catalog,
        target=target,
        layout=layout,
        mode="preview" if edit.op == "preview" else "edit",
        origin=form.cleaned_data.get("origin") or "",
        baseline=form.cleaned_data.get("baseline") or "",
        message=message,
        error=error,
        focus="" if error else edit_focus(edit.op, before, layout),
        target_section=edit.target_section,
    )
    return render_editor(request, ctx.catalog, editor)


@editor_action(lambda request, catalog: SaveForm(request.POST))
def save(request: WidgetRequest, ctx: AdminContext, form: EditorForm, target: Target, layout: Layout) -> HttpResponse:
    """Save, Save for everyone (forceCommonScopeForAll) or Reset: told apart by the button."""
    layout = sections_retitle(layout, form.titles())
    action, origin = form.cleaned_data["action"], form.cleaned_data.get("origin") or ""
    if action == "reset":
        services.layout_reset(ctx=ctx, target=target)
        if target.personal:  # they see the common layout again: show that one, as it is now
            ws = services.layout_workspace_load(portal=request.portal, user_token=request.user_token, target=target)
            return render_workspace(request, layout_page_context(request, ws=ws, message=PERSONAL_REMOVED))
        ws = Workspace(ctx.catalog, target, layout_default(), saved=False)
        return render_workspace(request, layout_page_context(request, ws=ws, message=RESET_DONE))
    if layout_problems(layout, known_fields=ctx.catalog.known) or (action == "everyone" and target.personal):
        baseline = form.cleaned_data.get("baseline") or ""
        editor = layout_editor_view(
            catalog=ctx.catalog, target=target, layout=layout, origin=origin, baseline=baseline, error=PROBLEMS_FIRST
        )
        return render_editor(request, ctx.catalog, editor)
    # Notes are stored in English and translated when shown (widgets.templatetags.layout_notes).
    note = ("imported" if origin == "imported" else "saved") + (ALL_USERS if action == "everyone" else "")
    version = services.layout_save(ctx=ctx, target=target, layout=layout, note=note, for_everyone=action == "everyone")
    ws = Workspace(ctx.catalog, target, layout, saved=True)
    return render_workspace(request, layout_page_context(request, ws=ws, message=saved_message(version.number, action)))


PERSONAL_REMOVED = gettext_lazy("The personal layout is removed. The previous one stays in the history below.")
RESET_DONE = gettext_lazy("The card is back to the Bitrix24 default. The previous layout stays in the history below.")
PROBLEMS_FIRST = gettext_lazy("Fix the problems listed below first. Nothing was sent to Bitrix24.")


def saved_message(number: int, action: str) -> str:
    if action == "everyone":
        return _("Saved as version %(n)s. Everyone now sees this layout: personal layouts were removed.") % {
            "n": number
        }
    return _("Saved as version %(n)s. Deal cards in this funnel show it from now on.") % {"n": number}


@editor_action(lambda request, catalog: CopyForm(request.POST, funnel_choices=_funnel_choices(catalog)))
def copy(request: WidgetRequest, ctx: AdminContext, form: EditorForm, target: Target, layout: Layout) -> HttpResponse:
    """The layout in the editor to the common layout of the funnels ticked: one batch."""
    layout = sections_retitle(layout, form.titles())
    source = ctx.catalog.funnel(target.category_id)
    if source is None:  # editor_state checked the funnel; it cannot have gone since
        return editor_failure(request, _("That funnel is no longer in Bitrix24. Nothing was copied."))
    if layout_problems(layout, known_fields=ctx.catalog.known):
        return render_editor(
            request,
            ctx.catalog,
            layout_editor_view(catalog=ctx.catalog, target=target, layout=layout, error=PROBLEMS_FIRST),
        )
    result = services.layout_copy(ctx=ctx, source=source, layout=layout, funnel_ids=form.cleaned_data["funnels"])
    copied, failed = ", ".join(f.name for f in result.copied), ", ".join(f.name for f in result.failed)
    message = _("Copied to %(names)s. Each funnel keeps its previous layout in its history.") % {"names": copied}
    message = message if copied else ""
    error = _("Bitrix24 refused the copy to %(names)s.") % {"names": failed} if failed else ""
    editor = layout_editor_view(catalog=ctx.catalog, target=target, layout=layout, message=message, error=error)
    return render_editor(request, ctx.catalog, editor)


@layout_action()
def import_json(request: WidgetRequest) -> HttpResponse:
    """A JSON layout (pasted or a file), validated in full; it lands in the editor, unsent."""
    ctx = services.layout_admin_context(portal=request.portal, user_token=request.user_token)
    form = ImportForm(request.POST, request.FILES)
    try:
        if not form.is_valid():
            raise LayoutInvalid([Problem(str(e)) for errors in form.errors.values() for e in errors])
        layout = layout_check(layout_json_load(form.payload()), known_fields=ctx.catalog.known)
    except LayoutInvalid as exc:
        return import_refused(request, [p.message for p in exc.problems], text=request.POST.get("text", ""))
    target = form.target(ctx.catalog.default_funnel.id)
    if ctx.catalog.funnel(target.category_id) is None:
        raise UnknownTarget(f"funnel {target.category_id}")
    count = len(layout.sections)
    message = ngettext(
        "Imported %(count)s section. Check the layout, then Save to send it to Bitrix24.",
        "Imported %(count)s sections. Check the layout, then Save to send it to Bitrix24.",
        count,
    ) % {"count": count}
    editor = layout_editor_view(
        catalog=ctx.catalog, target=target, layout=layout, origin="imported", baseline="", message=message
    )
    response = render_workspace(
        request, layout_page_context(request, ws=Workspace(ctx.catalog, target, layout, saved=False), editor=editor)
    )
    # The import form targets itself (#import) so that its errors show there; success is bigger.
    return reswap(retarget(response, "#workspace"), "outerHTML") if is_htmx(request) else response


def _funnel_choices(catalog: Catalog) -> list[tuple[int, str]]:
    return [(f.id, f.name) for f in catalog.funnels]


def import_refused(request: WidgetRequest, problems: list[str], *, text: str) -> HttpResponse:
    """Validation errors: the import form again, with every reason; nothing was sent."""
    if is_htmx(request):
        form = TargetForm(request.POST)
        target = form.target(0) if form.is_valid() and form.cleaned_data.get("category") is not None else None
        context = {
            "import_problems": problems,
            "import_text": text if len(text) <= 20_000 else "",  # to fix and try again
            "widget_token": request.widget_token,
            "target": target,
        }
        return render(request, PAGE + "#import", context)
    return workspace_failure(request, _("Not imported; nothing was sent to Bitrix24.") + " " + " ".join(problems[:5]))
