from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern, URLResolver, include, path

from b24app import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("b24/", include("b24app.urls_b24")),
    path("", include("widgets.urls")),
]

if settings.B24_SANDBOX:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
