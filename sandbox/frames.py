"""How the portal embeds an app page: an iframe filled by a cross-site form POST.

Follows bitrix24-protocol.md §5.2–5.3 (the app.layout template of the rest module): the iframe
is named "HOST|SECURE|APP_SID" so BX24.js can find its parent, and a hidden form POSTs the
tokens of the user who opens the page to the handler, with DOMAIN/PROTOCOL/LANG/APP_SID in the
query string. The same values, in getInitData's shape (§5.5), go to the parent-side script
(applayout.js) as `data-init`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from sandbox.models import App, User
from sandbox.portal import get_portal, portal_host, portal_is_https, portal_url, server_endpoint
from sandbox.tokens import issue_tokens

DEFAULT_PLACEMENT = "DEFAULT"
# What the real portal puts on the iframe (app.layout template).
IFRAME_ALLOW = "geolocation *; microphone *; camera *; autoplay *;"
# Fields the current cloud adds to the form; the older app.layout template posts none of them
# (§5.2), which the faults page's "older placement form" switch reproduces.
NEWER_FORM_FIELDS = ("SERVER_ENDPOINT", "APPLICATION_TOKEN", "APPLICATION_SCOPE")
# §5.3 item 4: a placement has no title of its own, so setTitle is ignored there; older portals
# (before rest 25.800.0) also ignore setScroll and reloadWindow inside a placement.
DENIED_IN_PLACEMENTS = ("setTitle",)
DENIED_IN_OLDER_PLACEMENTS = ("setTitle", "setScroll", "reloadWindow")


@dataclass(frozen=True)
class AppFrame:
    """Everything a template needs to render one app iframe and the form that fills it."""

    app: App
    placement: str
    app_sid: str
    name: str  # the iframe's name: HOST|SECURE|APP_SID
    action: str  # handler URL with the query part of the POST
    fields: list[tuple[str, str]]  # hidden inputs of the form, in the portal's order
    init_data: dict[str, Any]  # the getInitData reply
    app_origin: str  # scheme://host[:port] of the handler: the only origin the parent trusts
    denied_commands: tuple[str, ...] = ()  # what the parent silently ignores from this frame

    @property
    def denied_attr(self) -> str:
        return " ".join(self.denied_commands)

    @property
    def init_json(self) -> str:
        return json.dumps(self.init_data, ensure_ascii=False)


def new_app_sid() -> str:
    """A fresh per-render id (32 hex), as the portal makes one for every render."""
    return secrets.token_hex(16)


def rest_path() -> str:
    """The REST base path BX24.js appends method names to (getInitData PATH): /sandbox/rest."""
    return urlsplit(portal_url()).path + "rest"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def handler_action(handler: str, query: dict[str, str]) -> str:
    """`?` or `&` depending on whether the handler already has a query (§5.3 step 2)."""
    separator = "&" if "?" in handler else "?"
    return handler + separator + urlencode(query)


def build_frame(
    *,
    app: App,
    user: User,
    handler: str,
    placement: str = DEFAULT_PLACEMENT,
    placement_options: dict[str, str] | None = None,
    install: bool = False,
    user_options: dict[str, Any] | None = None,
) -> AppFrame:
    """Issue tokens for `user` and lay out the POST the app's `handler` receives."""
    access, refresh = issue_tokens(app=app, user=user)
    app_sid = new_app_sid()
    host = portal_host()
    secure = portal_is_https()
    protocol = "1" if secure else "0"
    lang = user.lang or "en"
    expires = str(settings.SANDBOX_ACCESS_TOKEN_TTL)
    portal = get_portal()
    member_id = portal.member_id
    fields: list[tuple[str, str]] = [
        ("AUTH_ID", access.token),
        ("AUTH_EXPIRES", expires),
        ("REFRESH_ID", refresh.token),
        ("SERVER_ENDPOINT", server_endpoint()),
        ("APPLICATION_TOKEN", app.application_token),
        ("APPLICATION_SCOPE", app.scope),
        ("member_id", member_id),
        ("status", app.status),
        ("PLACEMENT", placement),
    ]
    if portal.older_placement_form:
        fields = [(name, value) for name, value in fields if name not in NEWER_FORM_FIELDS]
    # The portal renders PLACEMENT_OPTIONS only when there are options (§5.2).
    if placement_options:
        fields.append(("PLACEMENT_OPTIONS", json.dumps(placement_options, separators=(",", ":"))))
    init_data: dict[str, Any] = {
        "LANG": lang,
        "DOMAIN": host,
        "PROTOCOL": int(protocol),
        "PATH": rest_path(),
        "AUTH_ID": access.token,
        "AUTH_EXPIRES": expires,
        "REFRESH_ID": refresh.token,
        "MEMBER_ID": member_id,
        "FIRST_RUN": install,
        "IS_ADMIN": user.is_admin,
        "INSTALL": install,
        "USER_OPTIONS": dict(user_options or {}),
        "APP_OPTIONS": dict(app.app_options or {}),
        "PLACEMENT": placement,
        "PLACEMENT_OPTIONS": dict(placement_options or {}),
    }
    query = {"DOMAIN": host, "PROTOCOL": protocol, "LANG": lang, "APP_SID": app_sid}
    return AppFrame(
        app=app,
        placement=placement,
        app_sid=app_sid,
        name=f"{host}|{protocol}|{app_sid}",
        action=handler_action(handler, query),
        fields=fields,
        init_data=init_data,
        app_origin=origin_of(handler),
        denied_commands=denied_commands(placement, older=portal.older_placement_commands),
    )


def denied_commands(placement: str, *, older: bool) -> tuple[str, ...]:
    if placement == DEFAULT_PLACEMENT:
        return ()
    return DENIED_IN_OLDER_PLACEMENTS if older else DENIED_IN_PLACEMENTS


def fresh_auth(*, app: App, user: User) -> dict[str, str]:
    """The refreshAuth reply (§5.5): new tokens for the user who has the page open."""
    access, refresh = issue_tokens(app=app, user=user)
    return {
        "AUTH_ID": access.token,
        "AUTH_EXPIRES": str(settings.SANDBOX_ACCESS_TOKEN_TTL),
        "REFRESH_ID": refresh.token,
    }


FRAMES_SESSION_KEY = "sandbox_frames"
MAX_REMEMBERED_FRAMES = 50


def remember_frames(session: Any, frames: list[AppFrame]) -> None:
    """Keep APP_SID → app id for this browser, so refreshAuth and options find the app."""
    known: dict[str, int] = dict(session.get(FRAMES_SESSION_KEY, {}))
    for frame in frames:
        known[frame.app_sid] = frame.app.pk
    # Oldest first (dicts keep insertion order): drop the oldest renders past the cap.
    session[FRAMES_SESSION_KEY] = dict(list(known.items())[-MAX_REMEMBERED_FRAMES:])


def app_id_for_sid(session: Any, app_sid: str) -> int | None:
    value = session.get(FRAMES_SESSION_KEY, {}).get(app_sid)
    return int(value) if value is not None else None
