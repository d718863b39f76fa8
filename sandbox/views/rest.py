"""The REST endpoint: /sandbox/rest/<method>[.json] and /sandbox/rest/<user>/<code>/<method>."""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.models import Portal, RequestLog
from sandbox.portal import get_portal, portal_url
from sandbox.rest import limits
from sandbox.rest.auth import oauth_caller, token_from_request, webhook_caller
from sandbox.rest.dispatch import Outcome, run_method
from sandbox.rest.errors import RestError
from sandbox.rest.params import ParamsError, request_params
from sandbox.rest.registry import Caller

log = logging.getLogger(__name__)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "origin, content-type, accept, authorization",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "X-Content-Type-Options": "nosniff",
}

DOWN_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><h1>502 Bad Gateway</h1><p>The portal is temporarily unavailable.</p></body></html>"
)


@csrf_exempt
def oauth_call(request: HttpRequest, method: str) -> HttpResponse:
    return _handle(request, method, lambda params: oauth_caller(token_from_request(request, params)))


@csrf_exempt
def webhook_call(request: HttpRequest, user_id: str, code: str, method: str) -> HttpResponse:
    return _handle(request, method, lambda params: webhook_caller(int(user_id), code))


def _handle(request: HttpRequest, method: str, authenticate: Any) -> HttpResponse:
    if request.method == "OPTIONS":
        return _with_cors(HttpResponse(status=200))
    if request.method not in ("GET", "POST"):
        return _json(Outcome(405, {"error": "ERROR_METHOD_NOT_ALLOWED", "error_description": "Method not allowed"}))
    started = time.time()
    portal = get_portal()
    fault = _injected_fault(request, portal)
    if fault is not None:
        _log_call(
            request, method, None, Outcome(fault.status_code, {"error": f"FAULT_{portal.fault.upper()}"}), started
        )
        return fault
    caller: Caller | None = None
    try:
        params = request_params(request)
        caller = authenticate(params)
        limits.take_request_slot(portal, _client_ip(request))
        outcome = run_method(method, params, caller, portal=portal, portal_url=portal_url(), started=started)
    except ParamsError as exc:
        outcome = Outcome(400, {"error": "INVALID_REQUEST", "error_description": str(exc)})
    except RestError as exc:
        outcome = Outcome(exc.status, exc.body())
    _log_call(request, method, caller, outcome, started)
    if portal.fault in APPLIED_FAULTS and _wrote(method, outcome):
        # Committed already (each method runs in its own transaction): only the answer is lost.
        if portal.fault == Portal.Fault.APPLIED_SLOW:
            time.sleep(portal.fault_delay_ms / 1000)
        elif portal.fault == Portal.Fault.APPLIED_RESET and _drop_connection(request):
            return HttpResponse(status=502)
        else:  # applied_down; applied_reset where the socket cannot be reached (gunicorn): a 502 page
            if portal.fault == Portal.Fault.APPLIED_DOWN:
                Portal.objects.filter(pk=portal.pk).update(fault=Portal.Fault.DOWN_HTML)
            return HttpResponse(DOWN_PAGE, status=502, content_type="text/html; charset=utf-8")
    response = _json(outcome)
    if caller is not None and caller.app is not None:
        response["X-Bitrix-Rest-Application"] = caller.app.client_id
    return response


# A write that reached the portal and lost its answer: a timeout or a dropped connection after it ran.
APPLIED_FAULTS = (Portal.Fault.APPLIED_SLOW, Portal.Fault.APPLIED_RESET, Portal.Fault.APPLIED_DOWN)
READ_VERBS = frozenset({"get", "list", "fields", "current", "admin", "info", "search", "scope", "methods"})


def _wrote(method: str, outcome: Outcome) -> bool:
    """Whether the call ran a writing method (a batch: any of its commands), judged by the verb."""
    names = list(outcome.meta.get("batch_methods", [])) if method.lower() == "batch" else [method]
    return any(str(name).lower().rsplit(".", 1)[-1] not in READ_VERBS for name in names)


def _injected_fault(request: HttpRequest, portal: Portal) -> HttpResponse | None:
    if portal.fault in APPLIED_FAULTS:
        return None  # acted on after the method ran (_handle)
    if portal.fault_delay_ms:
        time.sleep(portal.fault_delay_ms / 1000)
    if portal.fault == Portal.Fault.LIMIT:
        return _json(Outcome(503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}))
    if portal.fault == Portal.Fault.DOWN_RESET and _drop_connection(request):
        return HttpResponse(status=502)
    if portal.fault in (Portal.Fault.DOWN_HTML, Portal.Fault.DOWN_RESET):
        return HttpResponse(DOWN_PAGE, status=502, content_type="text/html; charset=utf-8")
    return None


def _drop_connection(request: HttpRequest) -> bool:
    """Close the client's socket without an answer, where the WSGI server lets us reach it.

    Works under Django's development and test servers (wsgiref); elsewhere the caller falls
    back to a 502 page (see docs/sandbox.md).
    """
    wsgi_input = request.META.get("wsgi.input")
    # Django's LimitedStream keeps the socket file as `stream` in older versions, and only as the
    # owner of its bound `_read` in newer ones.
    stream = getattr(wsgi_input, "stream", None) or getattr(getattr(wsgi_input, "_read", None), "__self__", None)
    raw = getattr(getattr(stream, "raw", None), "_sock", None)
    if not isinstance(raw, socket.socket):
        return False
    try:
        raw.shutdown(socket.SHUT_RDWR)
    except OSError:
        return False
    return True


def _client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


def _log_call(request: HttpRequest, method: str, caller: Caller | None, outcome: Outcome, started: float) -> None:
    batch_methods: list[str] = list(outcome.meta.get("batch_methods", []))
    RequestLog.objects.create(
        method=method.lower(),
        batch_size=len(batch_methods),
        batch_methods=batch_methods,
        caller=caller.label if caller else "anonymous",
        user_id=caller.user.pk if caller else None,
        http_status=outcome.status,
        error=outcome.error_code,
        duration_ms=(time.time() - started) * 1000,
        client_ip=_client_ip(request),
    )


def _json(outcome: Outcome) -> HttpResponse:
    response = HttpResponse(
        json.dumps(outcome.body, ensure_ascii=False, default=str),
        status=outcome.status,
        content_type="application/json; charset=utf-8",
    )
    return _with_cors(response)


def _with_cors(response: HttpResponse) -> HttpResponse:
    for name, value in CORS_HEADERS.items():
        response[name] = value
    return response
