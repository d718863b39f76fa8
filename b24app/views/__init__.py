"""The app's own pages outside Bitrix24."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Where a person lands when opening the app's address directly, outside the portal."""
    context = {
        "sandbox": settings.B24_SANDBOX,
        "portal_url": settings.SANDBOX_PORTAL_URL if settings.B24_SANDBOX else "",
    }
    return render(request, "b24app/home.html", context)
