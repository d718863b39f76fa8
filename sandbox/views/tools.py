"""Portal-wide pieces: who is signed in, the request log, fault injection and bx24.js.

The sandbox has no login: the top bar's switcher stores the chosen user id in the session, so a
person can look at the portal (and the app's tabs) as an administrator, a rep or a read-only user.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox.models import Portal, RequestLog, User
from sandbox.portal import get_portal, limits_enabled, rate_limit
from sandbox.tokens import expire_all_tokens

USER_SESSION_KEY = "sandbox_user_id"
DEFAULT_USER_ID = 1
LOG_ROWS = 200
BX24_JS = Path(__file__).resolve().parent.parent / "static" / "sandbox" / "bx24.js"


class PortalNotSeeded(LookupError):
    pass


def current_user(request: HttpRequest) -> User:
    """The user chosen in the switcher; user 1 (the administrator) until someone switches."""
    user_id = request.session.get(USER_SESSION_KEY, DEFAULT_USER_ID)
    user = User.objects.filter(pk=user_id, active=True).first()
    if user is None:
        user = User.objects.filter(pk=DEFAULT_USER_ID).first() or User.objects.order_by("id").first()
    if user is None:
        raise PortalNotSeeded("The sandbox portal has no users yet: run `manage.py sandbox_seed`.")
    return user


def render_portal(
    request: HttpRequest,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    nav: str = "",
    status: int = 200,
) -> HttpResponse:
    """Render a portal page with what the top bar needs."""
    try:
        user = current_user(request)
    except PortalNotSeeded as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain; charset=utf-8")
    page = {
        "portal_user": user,
        "portal_users": User.objects.filter(active=True),
        "portal": get_portal(),
        "nav": nav,
        **(context or {}),
    }
    return render(request, template, page, status=status)


def not_found(request: HttpRequest, message: str) -> HttpResponse:
    return render_portal(request, "sandbox/404.html", {"message": message}, status=404)


class SwitchUserForm(forms.Form):
    user_id = forms.TypedChoiceField(coerce=int, choices=())
    next = forms.CharField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        users = User.objects.filter(active=True)
        self.fields["user_id"].choices = [(u.pk, u.full_name) for u in users]  # type: ignore[attr-defined]


@require_POST
def switch_user(request: HttpRequest) -> HttpResponse:
    form = SwitchUserForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the portal's users.")
        return redirect("sandbox:home")
    request.session[USER_SESSION_KEY] = form.cleaned_data["user_id"]
    user = current_user(request)
    messages.success(request, f"You are now {user.full_name} ({user.get_role_display()}).")
    target = form.cleaned_data["next"]
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return redirect(target)
    return redirect("sandbox:home")


# --- Request log ---------------------------------------------------------------------------------


def log_row(row: RequestLog) -> dict[str, Any]:
    return {
        "id": row.pk,
        "time": row.created_at.isoformat(timespec="milliseconds"),
        "method": row.method,
        "batch_size": row.batch_size,
        "batch_methods": list(row.batch_methods),
        "caller": row.caller,
        "user_id": row.user_id,
        "http_status": row.http_status,
        "error": row.error,
        "duration_ms": round(row.duration_ms, 2),
    }


@require_GET
def request_log(request: HttpRequest) -> HttpResponse:
    names = {u.pk: u.full_name for u in User.objects.all()}
    rows = [(row, names.get(row.user_id or 0, "")) for row in RequestLog.objects.order_by("-id")[:LOG_ROWS]]
    return render_portal(request, "sandbox/log.html", {"rows": rows, "limit": LOG_ROWS}, nav="log")


@require_GET
def request_log_json(request: HttpRequest) -> HttpResponse:
    """The log for tests and benchmarks: ?since_id=N gives the calls after N, oldest first."""
    since_raw = request.GET.get("since_id", "")
    try:
        since_id = int(since_raw) if since_raw else None
    except ValueError:
        return JsonResponse({"error": "since_id must be an integer"}, status=400)
    if since_id is None:
        rows = list(reversed(RequestLog.objects.order_by("-id")[:LOG_ROWS]))
    else:
        rows = list(RequestLog.objects.filter(id__gt=since_id).order_by("id")[:LOG_ROWS])
    last_id = rows[-1].pk if rows else (since_id or 0)
    return JsonResponse({"rows": [log_row(r) for r in rows], "last_id": last_id})


@require_POST
def request_log_clear(request: HttpRequest) -> HttpResponse:
    count, _ = RequestLog.objects.all().delete()
    messages.success(request, f"Cleared {count} logged calls.")
    return redirect("sandbox:log")


# --- Faults --------------------------------------------------------------------------------------

LIMIT_CHOICES = [("", "As in settings"), ("on", "On"), ("off", "Off")]


class FaultsForm(forms.Form):
    fault = forms.ChoiceField(choices=Portal.Fault.choices, required=False)
    fault_delay_ms = forms.IntegerField(min_value=0, max_value=60_000, label="Delay before every answer (ms)")
    limits = forms.ChoiceField(choices=LIMIT_CHOICES, required=False, label="Rate limits")
    rate_limit = forms.FloatField(min_value=0.001, required=False, label="Rate (requests drained per second)")
    rate_burst = forms.IntegerField(min_value=1, required=False, label="Burst (bucket size)")
    older_placement_commands = forms.BooleanField(
        required=False, label="Older portal: setScroll and reloadWindow are ignored inside a placement"
    )
    older_placement_form = forms.BooleanField(
        required=False, label="Older portal: no SERVER_ENDPOINT, APPLICATION_TOKEN, APPLICATION_SCOPE in the form"
    )


# The version switches: off = the current cloud, on = what older portals do (docs/sandbox.md).
VERSION_SWITCHES = ("older_placement_commands", "older_placement_form")


def _faults_initial(portal: Portal) -> dict[str, Any]:
    limits = "" if portal.limits_enabled is None else ("on" if portal.limits_enabled else "off")
    return {
        "fault": portal.fault,
        "fault_delay_ms": portal.fault_delay_ms,
        "limits": limits,
        "rate_limit": portal.rate_limit,
        "rate_burst": portal.rate_burst,
        **{name: getattr(portal, name) for name in VERSION_SWITCHES},
    }


def fault_state(portal: Portal) -> dict[str, Any]:
    rate, burst = rate_limit(portal)
    return {
        "fault": portal.fault,
        "delay_ms": portal.fault_delay_ms,
        "limits_enabled": limits_enabled(portal),
        "limits_override": portal.limits_enabled,
        "rate": rate,
        "burst": burst,
        "rate_override": portal.rate_limit,
        "burst_override": portal.rate_burst,
        **{name: getattr(portal, name) for name in VERSION_SWITCHES},
    }


@require_http_methods(["GET", "POST"])
def faults(request: HttpRequest) -> HttpResponse:
    portal = get_portal()
    if request.method == "POST" and request.POST.get("action") == "expire_tokens":
        count = expire_all_tokens()
        messages.success(request, f"Expired {count} access tokens: the next call with any of them gets expired_token.")
        return redirect("sandbox:faults")
    form = FaultsForm(request.POST or None, initial=_faults_initial(portal))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        portal.fault = data["fault"] or Portal.Fault.NONE
        portal.fault_delay_ms = data["fault_delay_ms"]
        portal.limits_enabled = {"on": True, "off": False}.get(data["limits"])
        portal.rate_limit = data["rate_limit"]
        portal.rate_burst = data["rate_burst"]
        for name in VERSION_SWITCHES:
            setattr(portal, name, data[name])
        portal.save()
        messages.success(request, f"Saved. The REST endpoint now: {_describe(portal)}.")
        return redirect("sandbox:faults")
    context = {"form": form, "state": fault_state(portal), "description": _describe(portal)}
    return render_portal(request, "sandbox/faults.html", context, nav="faults")


def _describe(portal: Portal) -> str:
    what = Portal.Fault(portal.fault).label if portal.fault else "answers normally"
    rate, burst = rate_limit(portal)
    limits = f"limits on ({rate:g}/s, burst {burst})" if limits_enabled(portal) else "limits off"
    delay = f", {portal.fault_delay_ms} ms delay" if portal.fault_delay_ms else ""
    older = [label for name, label in _SWITCH_LABELS.items() if getattr(portal, name)]
    version = f"; app frames as an older portal ({', '.join(older)})" if older else ""
    return f"{what}{delay}, {limits}{version}"


_SWITCH_LABELS = {
    "older_placement_commands": "setScroll/reloadWindow ignored in placements",
    "older_placement_form": "no SERVER_ENDPOINT/APPLICATION_TOKEN/APPLICATION_SCOPE",
}


class FaultsJsonError(ValueError):
    pass


@csrf_exempt
@require_http_methods(["GET", "POST"])
def faults_json(request: HttpRequest) -> HttpResponse:
    """Fault injection for tests: POST {fault, delay_ms, limits_enabled, rate, burst, expire_tokens,
    older_placement_commands, older_placement_form}.

    CSRF-exempt on purpose: it exists only while the sandbox is mounted (settings.B24_SANDBOX).
    Keys left out keep their value; null resets an override to the settings' value.
    """
    portal = get_portal()
    if request.method == "GET":
        return JsonResponse(fault_state(portal))
    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise FaultsJsonError("the body must be a JSON object")
        expired = _apply_faults(portal, body)
    except (ValueError, FaultsJsonError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    state = fault_state(portal)
    if expired is not None:
        state["expired_tokens"] = expired
    return JsonResponse(state)


def _apply_faults(portal: Portal, body: dict[str, Any]) -> int | None:
    if "fault" in body:
        fault = body["fault"] or ""
        if fault not in Portal.Fault.values:
            raise FaultsJsonError(f"fault must be one of {sorted(Portal.Fault.values)}")
        portal.fault = fault
    if "delay_ms" in body:
        portal.fault_delay_ms = _number(body["delay_ms"], int, "delay_ms", minimum=0) or 0
    if "limits_enabled" in body:
        value = body["limits_enabled"]
        if value is not None and not isinstance(value, bool):
            raise FaultsJsonError("limits_enabled must be true, false or null")
        portal.limits_enabled = value
    if "rate" in body:
        portal.rate_limit = _number(body["rate"], float, "rate", minimum=0.001)
    if "burst" in body:
        portal.rate_burst = _number(body["burst"], int, "burst", minimum=1)
    for name in VERSION_SWITCHES:
        if name in body:
            if not isinstance(body[name], bool):
                raise FaultsJsonError(f"{name} must be true or false")
            setattr(portal, name, body[name])
    portal.save()
    return expire_all_tokens() if body.get("expire_tokens") is True else None


def _number(value: Any, kind: type[int] | type[float], name: str, *, minimum: float) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultsJsonError(f"{name} must be a number or null")
    if kind is int and value != int(value):
        raise FaultsJsonError(f"{name} must be a whole number")
    if value < minimum:
        raise FaultsJsonError(f"{name} must be at least {minimum:g}")
    return kind(value)


# --- The app-side library --------------------------------------------------------------------


@require_GET
def bx24_js(request: HttpRequest) -> HttpResponse:
    """The sandbox's BX24.js, loadable from the app's own (other) site."""
    try:
        source = BX24_JS.read_text(encoding="utf-8")
        status = 200
    except FileNotFoundError:
        source = "/* bx24.js is missing from sandbox/static/sandbox/ */\n"
        status = 404
    response = HttpResponse(source, status=status, content_type="application/javascript; charset=utf-8")
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "no-cache"
    return response
