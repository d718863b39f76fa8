"""The Marketplace page, the app page (installer or main URL) and the endpoints applayout.js calls.

Install follows scenario A of bitrix24-protocol.md §1.2: Install puts the app in INSTALLING and
opens its installer page in an iframe (PLACEMENT=DEFAULT, INSTALL=true); the app is installed
only once the installer calls BX24.installFinish(), which applayout.js turns into a POST to
`app_install_finish`.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from sandbox import install
from sandbox.frames import app_id_for_sid, build_frame, fresh_auth, remember_frames
from sandbox.models import App, User
from sandbox.views.tools import current_user, not_found, render_portal

USER_OPTIONS_SESSION_KEY = "sandbox_user_options"


def user_options(session: Any, app: App, user: User) -> dict[str, Any]:
    """BX24.userOption values (kept per browser session; the portal has no table for them yet)."""
    return dict(session.get(USER_OPTIONS_SESSION_KEY, {}).get(f"{app.pk}:{user.pk}", {}))


def _save_user_option(session: Any, app: App, user: User, name: str, value: str) -> None:
    store: dict[str, dict[str, Any]] = dict(session.get(USER_OPTIONS_SESSION_KEY, {}))
    key = f"{app.pk}:{user.pk}"
    store[key] = {**store.get(key, {}), name: value}
    session[USER_OPTIONS_SESSION_KEY] = store


@require_GET
def app_list(request: HttpRequest) -> HttpResponse:
    apps = list(App.objects.select_related("installed_by").order_by("id"))
    return render_portal(request, "sandbox/marketplace.html", {"apps": apps}, nav="marketplace")


@require_POST
def app_install(request: HttpRequest, app_id: int) -> HttpResponse:
    app = App.objects.filter(pk=app_id).first()
    if app is None:
        return not_found(request, "There is no such application.")
    try:
        install.app_install_start(app=app, user=current_user(request))
    except install.InstallError as exc:
        messages.error(request, str(exc))
        return redirect("sandbox:marketplace")
    if app.is_installed:
        messages.success(request, f"{app.name} is installed.")
        return redirect("sandbox:marketplace")
    return redirect("sandbox:app_page", app_id=app.pk)


@require_POST
def app_uninstall(request: HttpRequest, app_id: int) -> HttpResponse:
    app = App.objects.filter(pk=app_id).first()
    if app is None:
        return not_found(request, "There is no such application.")
    try:
        install.app_uninstall(app=app, user=current_user(request), clean=request.POST.get("clean") == "1")
    except install.InstallError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{app.name} is uninstalled: its tabs, event handlers and tokens are gone.")
    return redirect("sandbox:marketplace")


@require_POST
def app_install_finish(request: HttpRequest, app_id: int) -> HttpResponse:
    """setInstallFinish from the installer frame (applayout.js), answered with JSON."""
    app = App.objects.filter(pk=app_id).first()
    if app is None:
        return JsonResponse({"error": "NOT_FOUND", "error_description": "No such application"}, status=404)
    installed = request.POST.get("value", "Y") != "N"  # installFinish({value: false}) sends N
    try:
        install.app_install_finish(app=app, user=current_user(request), installed=installed)
    except install.InstallError as exc:
        return JsonResponse({"error": "INSTALL_REFUSED", "error_description": str(exc)}, status=403)
    if installed:
        messages.success(request, f"{app.name} is installed.")
    else:
        messages.warning(request, f"The installer reported that {app.name} is not installed.")
    return JsonResponse({"result": True, "state": app.state, "redirect": _app_page_url(app)})


def _app_page_url(app: App) -> str:
    return reverse("sandbox:app_page", kwargs={"app_id": app.pk}) + "?install_finished=Y"


@require_GET
def app_page(request: HttpRequest, app_id: int) -> HttpResponse:
    """The app in the portal: its installer for an admin while INSTALLING, else its main URL."""
    app = App.objects.filter(pk=app_id).first()
    if app is None:
        return not_found(request, "There is no such application.")
    user = current_user(request)
    frame = None
    notice = ""
    if app.state == App.State.INSTALLING and user.is_admin:
        frame = build_frame(
            app=app,
            user=user,
            handler=app.install_url,
            install=True,
            user_options=user_options(request.session, app, user),
        )
    elif app.state == App.State.INSTALLING:
        # What ordinary users see until the installer has finished (§1.2 A.3).
        notice = "The application is not fully installed yet. Ask your Bitrix24 administrator to finish the install."
    elif app.is_installed:
        frame = build_frame(
            app=app,
            user=user,
            handler=app.handler_url,
            user_options=user_options(request.session, app, user),
        )
    else:
        notice = f"{app.name} is not installed on this portal. Install it from the Marketplace."
    if frame is not None:
        remember_frames(request.session, [frame])
    context = {"app": app, "frame": frame, "notice": notice, "installing": frame is not None and not app.is_installed}
    return render_portal(request, "sandbox/app_page.html", context, nav="marketplace")


def _frame_app(request: HttpRequest) -> App | None:
    app_sid = str(request.POST.get("app_sid", ""))
    app_id = app_id_for_sid(request.session, app_sid)
    return App.objects.filter(pk=app_id).first() if app_id is not None else None


@require_POST
def app_refresh_auth(request: HttpRequest) -> HttpResponse:
    """refreshAuth (§5.5): fresh tokens for whoever has the page open, for the frame's app."""
    app = _frame_app(request)
    if app is None:
        return JsonResponse({"error": "WRONG_APP_SID", "error_description": "Unknown APP_SID"}, status=400)
    if app.state not in (App.State.INSTALLED, App.State.INSTALLING):
        return JsonResponse({"error": "ERROR_OAUTH", "error_description": "Application not installed"}, status=403)
    return JsonResponse(fresh_auth(app=app, user=current_user(request)))


@require_POST
def app_option(request: HttpRequest) -> HttpResponse:
    """setAppOption (admins only) / setUserOption from a frame."""
    app = _frame_app(request)
    if app is None:
        return JsonResponse({"error": "WRONG_APP_SID", "error_description": "Unknown APP_SID"}, status=400)
    user = current_user(request)
    name = str(request.POST.get("name", ""))
    value = _option_value(str(request.POST.get("value", "")))
    kind = request.POST.get("kind", "user")
    if not name or kind not in ("app", "user"):
        return JsonResponse({"error": "ERROR_ARGUMENT", "error_description": "name and kind=app|user"}, status=400)
    if kind == "app":
        if not user.is_admin:
            return JsonResponse({"error": "ACCESS_DENIED", "error_description": "Access denied!"}, status=403)
        app.app_options = {**(app.app_options or {}), name: value}
        app.save(update_fields=["app_options"])
    else:
        _save_user_option(request.session, app, user, name, value)
    return JsonResponse({"name": name, "value": value})


def _option_value(raw: str) -> Any:
    # applayout.js sends non-string values JSON-encoded; keep them as the app gave them.
    try:
        decoded = json.loads(raw)
    except ValueError:
        return raw
    return decoded if isinstance(decoded, dict | list) else raw
