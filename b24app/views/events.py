"""The event endpoint: verify, confirm with the portal, dispatch (protocol §6); a second copy of an
uninstall or a deletion is acknowledged and not acted on again (b24app.events.first_delivery)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from b24app import phpform
from b24app.errors import B24Error
from b24app.events import (
    EventRefused,
    event_confirmed,
    event_dispatch,
    event_parse,
    event_verify,
    first_delivery,
)
from b24app.install import InstallRefused, portal_install_from_event

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def events(request: HttpRequest) -> HttpResponse:
    try:
        payload = phpform.decode(request.body.decode("utf-8"))
        event = event_parse(payload)
    except (ValueError, EventRefused):  # bad UTF-8, too deep (FormError), too many fields (parse_qsl)
        log.warning("event refused: unreadable body")
        return HttpResponse("Not an event", status=400, content_type="text/plain")
    if event.name == "ONAPPINSTALL":
        return _install_event(event.auth)
    try:
        portal = event_verify(event)
    except EventRefused as exc:
        log.warning("event %s refused: %s", event.name, exc)
        return HttpResponse("Event not accepted", status=403, content_type="text/plain")
    if not event_confirmed(portal, event):
        # A forged (or premature) uninstall or deletion: the portal says otherwise; nothing changes.
        log.warning("event %s for %s not confirmed by the portal", event.name, portal.member_id)
        return HttpResponse("Event not accepted", status=403, content_type="text/plain")
    if not first_delivery(portal, event):
        return HttpResponse("Duplicate", status=200, content_type="text/plain")
    event_dispatch(portal, event)
    return HttpResponse("OK", status=200, content_type="text/plain")


def _install_event(auth: dict[str, object]) -> HttpResponse:
    try:
        portal_install_from_event(auth=dict(auth))
    except InstallRefused as exc:
        log.warning("ONAPPINSTALL refused: %s", exc)
        return HttpResponse("Event not accepted", status=403, content_type="text/plain")
    except B24Error as exc:
        log.warning("ONAPPINSTALL could not be completed: %s", exc)
        return HttpResponse("Portal unavailable", status=502, content_type="text/plain")
    return HttpResponse("OK", status=200, content_type="text/plain")
