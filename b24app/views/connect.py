"""Connecting a portal from outside Bitrix24: the OAuth authorization-code flow.

Shape after allauth and healthchecks: the state is popped from the session once; a missing or
wrong state is 403; a cancelled consent is a message; an unexpected provider answer is logged
and the admin sees a plain message.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from b24app import trust
from b24app.connect import ConnectRefused, NotAdministrator, portal_connect
from b24app.errors import B24Error
from b24app.oauth import authorization_url

log = logging.getLogger(__name__)
STATE_KEY = "b24_oauth_state"


class PortalAddressForm(forms.Form):
    portal = forms.CharField(
        label="Your Bitrix24 address", max_length=255, help_text="For example: mycompany.bitrix24.com"
    )

    def clean_portal(self) -> str:
        raw = self.cleaned_data["portal"].strip()
        try:
            host = urlsplit(raw if "://" in raw else f"//{raw}").netloc.lower()
        except ValueError:  # e.g. "[" reads as a broken IPv6 address
            host = ""
        endpoint = trust.client_endpoint_for(host) if host else None
        if endpoint is None:
            raise forms.ValidationError("That is not a Bitrix24 address this app can connect to.")
        return endpoint


@require_http_methods(["GET", "POST"])
def connect(request: HttpRequest) -> HttpResponse:
    form = PortalAddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        state = secrets.token_urlsafe(24)
        request.session[STATE_KEY] = state
        return HttpResponseRedirect(authorization_url(form.cleaned_data["portal"], state))
    return render(request, "b24app/connect.html", {"form": form})


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    expected = request.session.pop(STATE_KEY, None)
    state = request.GET.get("state", "")
    # Bytes: compare_digest refuses str with non-ASCII letters, and the state comes from the URL.
    if not expected or not secrets.compare_digest(str(expected).encode(), state.encode()):
        return render(
            request,
            "b24app/connect_result.html",
            {"ok": False, "message": "This link has expired. Please start again."},
            status=403,
        )
    if request.GET.get("error"):
        return render(
            request,
            "b24app/connect_result.html",
            {"ok": False, "message": "You cancelled the connection. Nothing was changed."},
        )
    code = request.GET.get("code", "")
    member_id = request.GET.get("member_id", "")
    if not code or not member_id:
        return render(
            request,
            "b24app/connect_result.html",
            {"ok": False, "message": "Bitrix24 did not send an authorization code."},
            status=400,
        )
    try:
        portal = portal_connect(code=code, member_id=member_id)
    except NotAdministrator as exc:
        log.warning("OAuth callback refused for %s: %s", member_id[:40], exc)
        message = "Only a Bitrix24 administrator can connect Deal Desk. Nothing was changed."
        return render(request, "b24app/connect_result.html", {"ok": False, "message": message}, status=403)
    except (ConnectRefused, B24Error) as exc:
        log.warning("OAuth callback failed for %s: %s", member_id[:40], exc)
        return render(
            request,
            "b24app/connect_result.html",
            {"ok": False, "message": "Bitrix24 did not confirm the connection. Please try again."},
            status=400,
        )
    return render(request, "b24app/connect_result.html", {"ok": True, "portal": portal})
