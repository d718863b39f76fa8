"""The URLconf of the sandbox's HTTPS address (sandbox.https.PortalHostMiddleware picks it).

There the portal sits at the root of its host, as a Bitrix24 portal does: REST at /rest/<method>
(OAuth) and /rest/<user>/<code>/<method> (webhooks), the OAuth server at /oauth/, and the portal's
pages. The same views as under /sandbox/ on the plain-HTTP address.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("sandbox.urls")),
]
