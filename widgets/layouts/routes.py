"""The decorator stacks every layout page endpoint wears, named once.

Actions are POSTs; reads answer GET (htmx, token in a header) and POST (a plain form, token in its
body). All are csrf_exempt: they are framed cross-site by the portal, where cookies (and so
Django's CSRF cookie) cannot be relied on; the signed widget token each request must carry plays
that role (house style rule 11). All need an "admin" widget token and the server-side admin check.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from widgets.common.auth import WidgetRequest, widget_view
from widgets.layouts.present import View, layout_endpoint, workspace_failure

Failure = Callable[[WidgetRequest, str], HttpResponse]


def layout_action(failure: Failure = workspace_failure) -> Callable[[View], View]:
    """A button that changes something: POST only; Bitrix24 failures answered by `failure`."""

    def decorate(view: View) -> View:
        return csrf_exempt(require_POST(widget_view("admin")(layout_endpoint(failure)(view))))

    return decorate


def layout_read(view: View) -> View:
    """A read: GET, or POST so that a plain form carries the widget token in its body, not the URL."""
    return csrf_exempt(require_http_methods(["GET", "POST"])(widget_view("admin")(layout_endpoint()(view))))
