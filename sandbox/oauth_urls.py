"""The sandbox's OAuth server, included by sandbox/urls.py under "oauth/"."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path

from sandbox.views import oauth

app_name = "oauth"

urlpatterns: list[URLPattern | URLResolver] = [
    path("authorize/", oauth.authorize, name="authorize"),
    path("token/", oauth.token, name="token"),
    re_path(r"^rest/app\.info(?:\.json)?/?$", oauth.app_info, name="app_info"),
]
