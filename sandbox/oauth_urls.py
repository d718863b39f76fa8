"""The sandbox's OAuth server, included by sandbox/urls.py under "oauth/"."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path

from sandbox.views import oauth

app_name = "oauth"

urlpatterns: list[URLPattern | URLResolver] = [
    path("authorize/", oauth.authorize, name="authorize"),
    path("token/", oauth.token, name="token"),
    # server_endpoint is this server's "<root>/rest/", as Bitrix24's is https://oauth.bitrix.info/rest/
    # beside https://oauth.bitrix.info/oauth/token/; clients that derive the token address from it
    # (the official JavaScript SDK: server_endpoint without "rest/", plus "oauth/token/") find it here.
    path("oauth/token/", oauth.token, name="token_beside_rest"),
    re_path(r"^rest/app\.info(?:\.json)?/?$", oauth.app_info, name="app_info"),
]
