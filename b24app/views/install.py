"""The install handler: the portal opens it in an iframe with PLACEMENT=DEFAULT (protocol §1.2)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from b24app import csp, trust
from b24app.errors import B24Error
from b24app.install import InstallRefused, InstallRequest, portal_install
from b24app.portal_form import expires_in_or_default

log = logging.getLogger(__name__)
REQUIRED = ("AUTH_ID", "REFRESH_ID", "member_id")


@csrf_exempt  # a cross-site form POST from the portal, without a CSRF token
@require_POST
def install(request: HttpRequest) -> HttpResponse:
    missing = [name for name in REQUIRED if not request.POST.get(name)]
    if missing:
        log.warning("install refused: missing %s", ", ".join(missing))
        return _refused(request, _("This page is opened by Bitrix24 when an administrator installs Deal Desk."), 400)
    install_request = InstallRequest(
        access_token=request.POST["AUTH_ID"],
        refresh_token=request.POST["REFRESH_ID"],
        # The token is verified with the OAuth server anyway: an odd lifetime only means the usual hour.
        expires_in=expires_in_or_default(request.POST.get("AUTH_EXPIRES")),
        member_id=request.POST["member_id"],
        domain=request.GET.get("DOMAIN", ""),
        application_token=request.POST.get("APPLICATION_TOKEN", ""),
    )
    try:
        result = portal_install(request=install_request)
    except InstallRefused as exc:
        log.warning("install refused for member_id %s: %s", install_request.member_id[:40], exc)
        return _refused(request, _("Deal Desk could not verify this installation with Bitrix24."), 403)
    except B24Error as exc:
        log.warning("install failed for %s: %s", install_request.member_id[:40], exc)
        return _refused(request, _("Bitrix24 did not answer as expected. Please try installing again."), 502)
    response = render(
        request,
        "b24app/install_done.html",
        {
            "result": result,
            "bx24_js": trust.bx24_js_url(),
        },
    )
    return csp.framed_by(response, csp.origin_of(result.portal.client_endpoint))


def _refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """The refusal shows inside the portal's installer frame if DOMAIN names a trusted portal
    (it says nothing secret); otherwise nobody may frame it."""
    response = render(request, "b24app/install_refused.html", {"message": message}, status=status)
    endpoint = trust.client_endpoint_for(request.GET.get("DOMAIN", ""))
    return csp.framed_by(response, csp.origin_of(endpoint)) if endpoint else response
