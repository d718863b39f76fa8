from __future__ import annotations

from django.urls import path

from b24app.views import connect, events, health, install

app_name = "b24"

urlpatterns = [
    path("install/", install.install, name="install"),
    path("events/", events.events, name="events"),
    path("connect/", connect.connect, name="connect"),
    path("oauth/callback/", connect.callback, name="oauth_callback"),
    path("health/", health.health, name="health"),
]
