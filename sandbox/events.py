"""Outbound events: form-encoded POSTs to the handlers apps bound with event.bind.

As Bitrix24 (bitrix24-protocol.md §6.2, deals-api-spec.md §10): delivered in the background after
the change is committed, once, without retries; nothing is delivered to an app that has not
finished installing; `auth` carries a token for the user who caused the event, or no token when
no user did (automation). Event names are upper-case on the wire.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sandbox.models import App, EventBinding, EventDelivery, User
from sandbox.portal import client_endpoint, get_portal, portal_host, server_endpoint
from sandbox.rest.php import http_build_query
from sandbox.tokens import issue_tokens

log = logging.getLogger(__name__)
DELIVERY_TIMEOUT = 10.0
USER_AGENT = "Bitrix24 Webhook Engine"


def auth_block(app: App, user: User | None, *, with_refresh: bool = False) -> dict[str, str]:
    block: dict[str, str] = {}
    if user is not None:
        access, refresh = issue_tokens(app=app, user=user)
        block.update(
            access_token=access.token,
            expires=str(int(access.expires_at.timestamp())),
            expires_in=str(settings.SANDBOX_ACCESS_TOKEN_TTL),
            scope=app.scope,
            user_id=str(user.pk),
        )
        if with_refresh:
            block["refresh_token"] = refresh.token
    block.update(
        domain=portal_host(),
        server_endpoint=server_endpoint(),
        status=app.status,
        client_endpoint=client_endpoint(),
        member_id=get_portal().member_id,
        application_token=app.application_token,
    )
    if user is None:
        block.pop("status")
    return block


# Events whose auth block carries a refresh token (protocol §6.2).
WITH_REFRESH = {"ONAPPINSTALL", "ONAPPUPDATE", "ONOFFLINEEVENT", "ONAPPTEST"}


def queue_event(event: str, data: dict[str, Any], *, user: User | None, app: App | None = None) -> None:
    """Deliver `event` to every installed app bound to it (or only to `app`), after the commit."""
    name = event.upper()
    bindings = EventBinding.objects.select_related("app").filter(
        event=name, offline=False, app__state=App.State.INSTALLED
    )
    if app is not None:
        bindings = bindings.filter(app=app)
    for binding in bindings:
        payload = {
            "event": name,
            "event_handler_id": str(binding.pk),
            "data": data,
            "ts": str(int(time.time())),
            "auth": auth_block(binding.app, _token_user(binding, user), with_refresh=name in WITH_REFRESH),
        }
        send_later(binding.handler, payload, binding=binding)


def _token_user(binding: EventBinding, user: User | None) -> User | None:
    if user is None:
        return None
    if binding.auth_type:
        return User.objects.filter(pk=binding.auth_type).first() or user
    return user


def send_later(handler: str, payload: dict[str, Any], *, binding: EventBinding | None = None) -> None:
    delivery = EventDelivery.objects.create(
        binding=binding, event=str(payload.get("event", "")), handler=handler, payload=payload
    )
    transaction.on_commit(lambda: _dispatch(delivery.pk), using="sandbox")


def _dispatch(delivery_id: int) -> None:
    if settings.SANDBOX_EVENTS_SYNC:
        deliver(delivery_id)
        return
    threading.Thread(target=deliver, args=(delivery_id,), daemon=True, name=f"event-{delivery_id}").start()


def deliver(delivery_id: int) -> None:
    delivery = EventDelivery.objects.get(pk=delivery_id)
    # Form-encoded as PHP's http_build_query writes an array (docs/sandbox.md, "Form decoding").
    body = http_build_query(delivery.payload)
    status: int | None = None
    error = ""
    try:
        response = requests.post(
            delivery.handler,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
            timeout=DELIVERY_TIMEOUT,
            allow_redirects=False,
        )
        status = response.status_code
    except requests.RequestException as exc:
        # No retries: the event is dropped, as Bitrix24's queue does.
        error = type(exc).__name__
        log.info("event %s to %s failed: %s", delivery.event, delivery.handler, error)
    EventDelivery.objects.filter(pk=delivery_id).update(delivered_at=timezone.now(), status_code=status, error=error)
