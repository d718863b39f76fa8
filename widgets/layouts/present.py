"""What every view of the layout page shares: refusal, failures, and the template context.

The page is one template (widgets/layout_admin.html) with inline partials: `workspace` (all of
it but the page frame), `editor`, `diff`, `people`, `import`, `failure`. htmx requests get a
partial, plain form posts the whole page.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_htmx.http import reswap, retarget

from b24app import trust
from b24app.errors import (
    AccessDenied,
    AuthorizationLost,
    B24Error,
    InvalidToken,
    OutcomeUnknown,
    PortalUnavailable,
    RateLimited,
)
from widgets.common.auth import WidgetRequest
from widgets.common.failures import failure_reason
from widgets.layouts.batch import Target
from widgets.layouts.catalog import PALETTE_HIDDEN, Catalog, FieldInfo, catalog_cached, user_name
from widgets.layouts.confirm import NotApplied
from widgets.layouts.editor import sections_retitle
from widgets.layouts.forms import EditorForm, TargetForm
from widgets.layouts.schema import Layout, layout_problems, layout_to_api
from widgets.layouts.services import NotLayoutAdmin, UnknownTarget, Workspace, layout_admin_extra_ids, layout_versions

log = logging.getLogger(__name__)

PAGE = "widgets/layout_admin.html"
REFUSED = "widgets/layout_refused.html"
View = Callable[..., HttpResponse]


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def refused(
    request: HttpRequest, *, reason: str = "not_admin", status: int = 403, extra: dict[str, Any] | None = None
) -> HttpResponse:
    """The polite page for people who may not change card layouts; nothing was sent for them."""
    context = {"reason": reason, **(extra or {})}
    if is_htmx(request):
        response = render(request, REFUSED + "#refused", context, status=status)
        response["X-Layout-Refused"] = "1"  # layout-admin.js swaps this 403 in, unlike others
        return reswap(retarget(response, "#workspace"), "outerHTML")
    return render(request, REFUSED, {**context, "bx24_js": trust.bx24_js_url()}, status=status)


def failure_text(exc: B24Error) -> str:
    """What a person can do about a Bitrix24 failure (never the exception's own text)."""
    if isinstance(exc, AuthorizationLost | InvalidToken):
        return _("Your Bitrix24 session has ended. Close this page and open Deal Desk again from the app menu.")
    if isinstance(exc, AccessDenied):
        return _("Bitrix24 refused: your account may not change this layout.")
    if isinstance(exc, NotApplied):
        return _("Bitrix24 did not answer in time. Deal Desk read the layout again: nothing was changed; try again.")
    if isinstance(exc, OutcomeUnknown):
        # Never "nothing was changed": the portal may have applied it and lost only the answer.
        return _(
            "Bitrix24 did not answer in time, so Deal Desk cannot tell whether the change was saved. "
            "Reload the page to see what Bitrix24 holds now."
        )
    if isinstance(exc, RateLimited | PortalUnavailable):
        return _("%(reason)s Nothing was changed; try again in a moment.") % {"reason": failure_reason(exc)}
    return _("Bitrix24 did not accept the request. Nothing was changed; try again.")


def page_url(target: Target | None) -> str:
    """layout_page for a target. Never with the widget token: htmx sends it in a header."""
    query: dict[str, Any] = {}
    if target is not None:
        query["category"] = target.category_id
        if target.personal:
            query.update(scope="P", user=target.user_id)
    return reverse("widgets:layout_page") + "?" + urlencode(query)


def workspace_failure(request: WidgetRequest, message: str) -> HttpResponse:
    """A read (or the admin check) failed: say so where the workspace was, with a Retry."""
    form = TargetForm(request.GET if request.method == "GET" else request.POST)
    target = form.target(0) if form.is_valid() and form.cleaned_data.get("category") is not None else None
    context = {
        "failure": message,
        "retry_url": page_url(target),
        "widget_token": request.widget_token,
        "bx24_js": trust.bx24_js_url(),
    }
    if is_htmx(request):
        return reswap(retarget(render(request, PAGE + "#failure", context), "#workspace"), "outerHTML")
    return render(request, PAGE, context)


def layout_endpoint(
    failure: Callable[[WidgetRequest, str], HttpResponse] = workspace_failure,
) -> Callable[[View], View]:
    """Refuse non-administrators and turn Bitrix24 failures into a message with Retry (status 200)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: WidgetRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except NotLayoutAdmin:
                return refused(request)
            except UnknownTarget as exc:
                log.info("layout page: %s is not there", exc)
                return failure(request, _("That funnel or version is not there any more. Reload to see what is."))
            except B24Error as exc:
                log.warning("layout page: Bitrix24 failed: %s", exc)
                return failure(request, failure_text(exc))

        return wrapped

    return decorate


# --- what the templates show ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRow:
    section: int
    index: int
    name: str
    label: str
    known: bool
    always: bool
    problems: list[str]


@dataclass(frozen=True)
class SectionRow:
    index: int
    name: str
    title: str
    fields: list[FieldRow]
    problems: list[str]
    last: bool


@dataclass(frozen=True)
class LayoutEditorView:
    target: Target
    layout: Layout
    layout_json: str
    sections: list[SectionRow]
    palette: list[tuple[str, list[FieldInfo]]]
    problems: list[str]
    mode: str = "edit"  # or "preview"
    origin: str = ""
    baseline: str = ""  # the layout as last read or saved, to tell whether there are unsaved changes
    message: str = ""
    notice: str = ""
    error: str = ""
    focus: str = ""  # the id of the control to focus after this render (keyboard users keep their place)
    target_section: int | None = None
    copy_choices: list[tuple[int, str]] = field(default_factory=list)
    copy_selected: list[int] = field(default_factory=list)
    retry_action: str = ""  # the save button to offer again after a Bitrix24 failure

    @property
    def dirty(self) -> bool:
        return self.layout_json != self.baseline


_GROUPS = (
    ("card", gettext_lazy("Card blocks")),
    ("deal", gettext_lazy("Deal fields")),
    ("custom", gettext_lazy("Custom fields")),
)


def layout_editor_view(
    *,
    catalog: Catalog,
    target: Target,
    layout: Layout,
    mode: str = "edit",
    baseline: str | None = None,
    **extra: Any,
) -> LayoutEditorView:
    problems = layout_problems(layout, known_fields=catalog.known)
    known = catalog.known
    sections = [
        SectionRow(
            index=i,
            name=section.name,
            title=section.title,
            fields=[
                FieldRow(
                    section=i,
                    index=j,
                    name=element.name,
                    label=catalog.label(element.name) if element.name in known else element.name,
                    known=element.name in known,
                    always=bool(element.option_flags),
                    problems=[p.message for p in problems if p.section == i and p.element == j],
                )
                for j, element in enumerate(section.elements)
            ],
            problems=[p.message for p in problems if p.section == i and p.element is None],
            last=i == len(layout.sections) - 1,
        )
        for i, section in enumerate(layout.sections)
    ]
    placed = set(layout.field_names())
    palette = [
        (title, sorted((f for f in catalog.fields if f.kind == kind and _offered(f, placed)), key=lambda f: f.label))
        for kind, title in _GROUPS
    ]
    copy_choices = [(f.id, f.name) for f in catalog.funnels if f.id != target.category_id]
    layout_json = layout_json_text(layout)
    return LayoutEditorView(
        target=target,
        layout=layout,
        layout_json=layout_json,
        baseline=layout_json if baseline is None else baseline,
        sections=sections,
        palette=[(str(title), fields) for title, fields in palette if fields],
        problems=[p.message for p in problems],
        mode=mode,
        copy_choices=copy_choices,
        **extra,
    )


def edit_focus(op: str, before: Layout, after: Layout) -> str:
    """Where keyboard focus goes after an edit: the same control on the item that moved, the
    palette button of a field just removed, the title of a section just added."""
    kind, _colon, rest = op.partition(":")
    numbers = [int(n) for n in rest.split(":") if n.isdigit()]
    try:
        if kind == "field_add":
            return f"f-{rest}-up"
        if kind == "field_remove":
            return f"p-{before.sections[numbers[0]].elements[numbers[1]].name}"
        if kind in ("field_up", "field_down", "field_always"):
            name = before.sections[numbers[0]].elements[numbers[1]].name
            return f"f-{name}-{kind.removeprefix('field_')}"
        if kind == "section_add":
            return f"t-{after.sections[-1].name}"
        if kind == "section_remove":
            return "new-title"
        if kind in ("section_up", "section_down"):
            return f"s-{before.sections[numbers[0]].name}-{kind.removeprefix('section_')}"
    except IndexError:
        return ""
    return ""


def layout_json_text(layout: Layout) -> str:
    return json.dumps(layout_to_api(layout), ensure_ascii=False, separators=(",", ":"))


def _offered(info: FieldInfo, placed: set[str]) -> bool:
    return info.name not in placed and not info.deprecated and info.name not in PALETTE_HIDDEN


def layout_page_context(
    request: WidgetRequest, *, ws: Workspace, editor: LayoutEditorView | None = None, **extra: Any
) -> dict[str, Any]:
    """Everything the page (or its workspace partial) shows for one funnel's layout."""
    portal, target = request.portal, ws.target
    message = extra.pop("message", "")
    editor = editor or layout_editor_view(
        catalog=ws.catalog, target=target, layout=ws.layout, message=message, notice=ws.notice
    )
    versions = layout_versions(portal=portal, target=target)
    # Each row can show what it changed against the version before it.
    history = [(v, versions[i + 1] if i + 1 < len(versions) else None) for i, v in enumerate(versions)]
    return {
        "widget_token": request.widget_token,
        "bx24_js": trust.bx24_js_url(),
        "ws": ws,
        "target": target,
        "funnels": ws.catalog.funnels,
        "funnel": ws.catalog.funnel(target.category_id),
        "owner_name": user_name(portal, target.user_id) if target.personal else "",
        "editor": editor,
        "versions": versions,
        "history": history,
        "access": access_list(request),
        **extra,
    }


def access_list(request: WidgetRequest) -> list[tuple[int, str]]:
    return [(uid, user_name(request.portal, uid)) for uid in layout_admin_extra_ids(portal=request.portal)]


def render_workspace(request: WidgetRequest, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    template = PAGE + "#workspace" if is_htmx(request) else PAGE
    return render(request, template, context, status=status)


# --- the editor's own state, posted with every button ----------------------------------------------------


def render_editor(request: WidgetRequest, catalog: Catalog, editor: LayoutEditorView) -> HttpResponse:
    if is_htmx(request):
        context = {"editor": editor, "widget_token": request.widget_token, "target": editor.target}
        return render(request, PAGE + "#editor", context)
    ws = Workspace(catalog, editor.target, editor.layout, saved=False)
    return render(request, PAGE, layout_page_context(request, ws=ws, editor=editor))


EditorState = tuple[EditorForm, Target, Layout]


def editor_state(request: WidgetRequest, catalog: Catalog, form: EditorForm) -> EditorState | HttpResponse:
    """The working layout and target from the editor form, or the answer to give instead."""
    valid = form.is_valid()
    data = form.cleaned_data
    if "layout" not in data or any(k in form.errors for k in ("category", "scope", "user", "__all__")):
        # Not something a person typed: a tampered or truncated form. Start again from Bitrix24.
        return workspace_failure(request, _("The editor could not read the layout it was sent. Reload to start again."))
    target = form.target(catalog.default_funnel.id)
    if catalog.funnel(target.category_id) is None:
        raise UnknownTarget(f"funnel {target.category_id}")
    layout = data["layout"]
    if valid:
        return form, target, layout
    error = next(str(e) for errors in form.errors.values() for e in errors)
    layout = sections_retitle(layout, form.titles())
    editor = layout_editor_view(
        catalog=catalog,
        target=target,
        layout=layout,
        origin=data.get("origin") or "",
        baseline=data.get("baseline") or "",
        error=error,
    )
    return render_editor(request, catalog, editor)


def editor_failure(request: WidgetRequest, message: str) -> HttpResponse:
    """Bitrix24 failed during an editor action: keep the person's work on screen, offer Retry."""
    catalog = catalog_cached(request.portal)
    form = EditorForm(request.POST)
    if catalog is None or not form.is_valid():
        return workspace_failure(request, message)
    target = form.target(catalog.default_funnel.id)
    layout = sections_retitle(form.cleaned_data["layout"], form.titles())
    action = request.POST.get("action", "")
    editor = layout_editor_view(
        catalog=catalog,
        target=target,
        layout=layout,
        origin=form.cleaned_data.get("origin") or "",
        baseline=form.cleaned_data.get("baseline") or "",
        error=message,
        retry_action=action if action in ("save", "everyone", "reset") else "",
    )
    return render_editor(request, catalog, editor)
