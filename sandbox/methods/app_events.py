"""The app platform's event methods: event.bind, event.unbind, event.get and events.

Behaviour follows bitrix24-protocol.md §6.1, checked against the portal's source
(modules/rest/lib/api/event.php): the order of checks, the error codes and texts are the server's.
Shared checks and PHP-isms live in sandbox/methods/apps.py.
"""

from __future__ import annotations

from typing import Any

from sandbox.events import queue_event
from sandbox.methods.apps import (
    AUTH_PARAMS,
    DEFAULT_LANG,
    EVENTS,
    ONLINE_ONLY_EVENTS,
    access_denied,
    argument_error,
    argument_null,
    check_handler_url,
    granted_scopes,
    listed_scopes,
    php_intval,
    require_app,
    text_param,
)
from sandbox.models import EventBinding
from sandbox.rest.errors import RestError
from sandbox.rest.registry import Call, rest_method


def event_type(call: Call) -> str:
    kind = text_param(call, "EVENT_TYPE").lower()
    if kind not in ("", "online", "offline"):
        raise argument_error("Value must be one of {online|offline}", "EVENT_TYPE")
    return kind or "online"


def _event_and_handler(call: Call, doing: str) -> tuple[str, bool, str]:
    """EVENT (upper-case), whether it is offline, and HANDLER ("" for an offline event, which only
    an administrator may bind or unbind), as event.bind and event.unbind read them."""
    name = text_param(call, "EVENT").upper()
    if not name:
        raise argument_null("EVENT")
    offline = event_type(call) == "offline"
    handler = text_param(call, "HANDLER")
    if offline:
        if not call.user.is_admin:
            raise access_denied(f"Offline events {doing} requires administrator access rights")
        handler = ""
    elif not handler:
        raise argument_null("HANDLER")
    return name, offline, handler


@rest_method("event.bind", scope="basic", app_only=True)
def event_bind(call: Call) -> bool:
    app, user = require_app(call), call.user
    auth_type = max(php_intval(call.param("AUTH_TYPE", 0)), 0)
    if auth_type and not user.is_admin and auth_type != user.pk:
        raise access_denied("Event binding with AUTH_TYPE requires administrator access rights")
    if not auth_type and not user.is_admin:
        auth_type = user.pk  # a non-admin's handlers always run with their own token
    name, offline, handler = _event_and_handler(call, "binding")
    if offline:
        auth_type = 0
    if handler:
        check_handler_url(handler)
    if EVENTS.get(name) not in granted_scopes(call):
        raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)
    if offline and name in ONLINE_ONLY_EVENTS:
        raise RestError("ERROR_ARGUMENT", "Offline event cannot be registered for this event.", 400)
    connector = text_param(call, "AUTH_CONNECTOR")[:100]
    binding = {"app": app, "event": name, "handler": handler, "auth_type": auth_type, "connector_id": connector}
    if EventBinding.objects.filter(**binding).exists():
        raise RestError("ERROR_CORE", "Unable to set event handler: Handler already binded", 400)
    EventBinding.objects.create(offline=offline, **binding)
    return True


@rest_method("event.unbind", scope="basic", app_only=True)
def event_unbind(call: Call) -> dict[str, int]:
    app, user = require_app(call), call.user
    name, offline, handler = _event_and_handler(call, "unbinding")
    rows = EventBinding.objects.filter(app=app, event=name, handler=handler)
    if offline:
        rows = rows.filter(connector_id=text_param(call, "AUTH_CONNECTOR")[:100])
    elif call.has("AUTH_TYPE"):
        auth_type = php_intval(call.param("AUTH_TYPE"))
        if not user.is_admin and auth_type != user.pk:
            raise access_denied("Event unbinding with AUTH_TYPE requires administrator access rights")
        rows = rows.filter(auth_type=auth_type)
    elif not user.is_admin:
        rows = rows.filter(auth_type=user.pk)
    count = rows.count()
    rows.delete()
    return {"count": count}


@rest_method("event.get", scope="basic", app_only=True)
def event_get(call: Call) -> list[dict[str, Any]]:
    app = require_app(call)
    rows = EventBinding.objects.filter(app=app).order_by("id")
    if not call.user.is_admin:
        rows = rows.filter(auth_type=call.user.pk)
    result: list[dict[str, Any]] = []
    for row in rows:
        if row.handler:
            # USER_ID comes straight from the database row, so it is a string on the wire.
            result.append({"event": row.event, "handler": row.handler, "auth_type": str(row.auth_type), "offline": 0})
        else:
            result.append({"event": row.event, "connector_id": row.connector_id, "offline": 1})
    return result


@rest_method("events", scope="basic", app_only=True)
def events(call: Call) -> list[str]:
    scopes = listed_scopes(call)
    return [name for name, scope in EVENTS.items() if scopes is None or scope in scopes]


@rest_method("event.test", scope="basic", app_only=True)
def event_test(call: Call) -> int:
    """Fires ONAPPTEST with the call's own parameters in data.QUERY (api/event.php eventTest)."""
    require_app(call)
    query = {k: v for k, v in call.params.items() if k.lower() not in AUTH_PARAMS}
    queue_event("ONAPPTEST", {"QUERY": query, "LANGUAGE_ID": DEFAULT_LANG}, user=call.user, app=call.caller.app)
    return 1
