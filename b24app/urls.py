from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("b24/", include("b24app.urls_b24")),
    path("", include("widgets.urls")),
]

if settings.B24_SANDBOX:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
