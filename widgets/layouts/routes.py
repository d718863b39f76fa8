"""The decorator stacks every layout page endpoint wears, named once.

Actions are POSTs; reads answer GET (htmx, token in a header) and POST (a plain form, token in its
body). All are csrf_exempt: they are framed cross-site by the portal, where cookies (and so
Django's CSRF cookie) cannot be relied on; the signed widget token each request must carry plays
that role (house style rule 11). All need an "admin" widget token and the server-side admin check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from widgets.common.auth import WidgetRequest, widget_view
from widgets.layouts import services
from widgets.layouts.batch import Target
from widgets.layouts.catalog import Catalog
from widgets.layouts.forms import EditorForm
from widgets.layouts.present import View, editor_failure, editor_state, layout_endpoint, workspace_failure
from widgets.layouts.schema import Layout
from widgets.layouts.services import AdminContext

Failure = Callable[[WidgetRequest, str], HttpResponse]


def layout_action(failure: Failure = workspace_failure) -> Callable[[View], View]:
    """A button that changes something: POST only; Bitrix24 failures answered by `failure`."""

    def decorate(view: View) -> View:
        return csrf_exempt(require_POST(widget_view("admin")(layout_endpoint(failure)(view))))

    return decorate


def layout_read(view: View) -> View:
    """A read: GET, or POST so that a plain form carries the widget token in its body, not the URL."""
    return csrf_exempt(require_http_methods(["GET", "POST"])(widget_view("admin")(layout_endpoint()(view))))


EditorView = Callable[[WidgetRequest, AdminContext, EditorForm, Target, Layout], HttpResponse]
FormMaker = Callable[[WidgetRequest, Catalog], EditorForm]


def editor_action(make_form: FormMaker) -> Callable[[EditorView], View]:
    """A button of the editor: a layout_action that reads the admin context and the editor's posted
    state (the working layout and its target) first, and answers for a form it cannot use."""

    def decorate(view: EditorView) -> View:
        @functools.wraps(view)
        def wrapped(request: WidgetRequest) -> HttpResponse:
            ctx = services.layout_admin_context(portal=request.portal, user_token=request.user_token)
            state = editor_state(request, ctx.catalog, make_form(request, ctx.catalog))
            if isinstance(state, HttpResponse):
                return state
            form, target, layout = state
            return view(request, ctx, form, target, layout)

        return layout_action(editor_failure)(wrapped)

    return decorate
