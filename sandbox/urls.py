from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path

from sandbox.views import rest

app_name = "sandbox"

urlpatterns: list[URLPattern | URLResolver] = [
    path("oauth/", include("sandbox.oauth_urls")),
    re_path(
        r"^rest/(?P<user_id>\d+)/(?P<code>[A-Za-z0-9]+)/(?P<method>[A-Za-z0-9_.]+?)(?:\.json)?/?$",
        rest.webhook_call,
        name="webhook",
    ),
    re_path(r"^rest/(?P<method>[A-Za-z0-9_.]+?)(?:\.json)?/?$", rest.oauth_call, name="rest"),
    path("", include("sandbox.ui_urls")),
]
