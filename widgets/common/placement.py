"""The placement POST: what the portal sends when it opens an app page or tab (protocol §5.2).

It arrives cross-site from a browser, so nothing in it is trusted: the portal is looked up by
member_id among our installations, APPLICATION_TOKEN (when sent) must match the stored one, and
AUTH_ID is only believed once the stored client_endpoint — never DOMAIN from the request —
accepts it (the caller's first batch does that, costing no extra request).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from b24app import portal_form
from b24app.models import Portal, UserToken
from widgets.common.i18n import django_language


class PlacementRefused(Exception):
    pass


class PlacementMalformed(PlacementRefused):
    """A field no genuine portal sends (b24app.portal_form): a bad request, not a refusal."""


# The fields of the portal's POST, kept on an error page so Retry can post them again: the page
# was opened with them, and the portal will not send them a second time (protocol §5.2).
# APPLICATION_TOKEN is not among them: it is the app's event credential, and a page must never
# echo it back (placement_portal accepts a POST without it; AUTH_ID is what gets verified).
RETRY_FIELDS = (
    *("AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID", "member_id", "status", "PLACEMENT", "PLACEMENT_OPTIONS"),
    *("SERVER_ENDPOINT", "APPLICATION_SCOPE"),
)


def placement_retry_fields(request: HttpRequest) -> list[tuple[str, str]]:
    return [(name, request.POST[name]) for name in RETRY_FIELDS if name in request.POST]


@dataclass(frozen=True)
class PlacementPost:
    auth_id: str
    refresh_id: str
    auth_expires: int
    member_id: str
    application_token: str
    placement: str
    options: dict[str, Any] = field(default_factory=dict)
    lang: str = "en"


def placement_parse(request: HttpRequest) -> PlacementPost:
    post = request.POST
    auth_id, member_id = post.get("AUTH_ID", ""), post.get("member_id", "")
    if not auth_id or not member_id or len(auth_id) > 200 or len(member_id) > 64:
        raise PlacementRefused("missing AUTH_ID or member_id")
    try:
        # The install handler reads the same fields with the same parser (b24app.portal_form).
        options = portal_form.options_parse(post.get("PLACEMENT_OPTIONS"))
        expires = portal_form.expires_in_parse(post.get("AUTH_EXPIRES"))
    except portal_form.PortalFieldError as exc:
        raise PlacementMalformed(str(exc)) from exc
    return PlacementPost(
        auth_id=auth_id,
        refresh_id=post.get("REFRESH_ID", ""),
        auth_expires=expires,
        member_id=member_id,
        application_token=post.get("APPLICATION_TOKEN", ""),
        placement=post.get("PLACEMENT", ""),
        options=options,
        lang=django_language(request.GET.get("LANG")),  # Bitrix24's code, as a Django locale
    )


def placement_portal(post: PlacementPost) -> Portal:
    portal = Portal.objects.filter(member_id=post.member_id).first()
    if portal is None or portal.status == Portal.Status.UNINSTALLED:
        raise PlacementRefused("unknown portal")
    # Bytes, not str: compare_digest refuses non-ASCII str, and this value comes from the browser.
    sent, stored = post.application_token.encode(), (portal.application_token or "").encode()
    if post.application_token and not hmac.compare_digest(sent, stored):
        raise PlacementRefused("application token mismatch")
    return portal


def user_token_store(*, portal: Portal, user_id: int, post: PlacementPost) -> UserToken:
    """Keep the user's own tokens (encrypted), so later calls carry that user's rights.

    A portal sends the same AUTH_ID on every opening within its hour: when the stored tokens are
    already these, nothing is written (no lock, no encryption; issue 17, server cost per open).
    """
    kept = UserToken.objects.filter(portal=portal, user_id=user_id).first()
    if kept is not None and kept.access_token == post.auth_id and kept.refresh_token == post.refresh_id:
        return kept
    if kept is not None and _tokens_update(kept, post):
        return kept
    with transaction.atomic():
        token, _ = UserToken.objects.select_for_update().get_or_create(
            portal=portal,
            user_id=user_id,
            defaults={"access_token": post.auth_id, "expires_at": timezone.now()},
        )
        token.access_token = post.auth_id
        token.refresh_token = post.refresh_id or token.refresh_token
        token.expires_at = _expires_at(post)
        token.save()
    return token


def _expires_at(post: PlacementPost) -> datetime:
    return timezone.now() + timedelta(seconds=post.auth_expires - 30)  # 60 s..a day, parsed


def _tokens_update(token: UserToken, post: PlacementPost) -> bool:
    """Write the placement's tokens over the row just read: one UPDATE of those columns, no lock.

    As the locked read-then-save did, the last placement to arrive wins; a missing REFRESH_ID
    leaves the stored refresh token as it is in the database. False: the row is gone (reinstall).
    """
    changes: dict[str, Any] = {"access_token": post.auth_id, "expires_at": _expires_at(post)}
    if post.refresh_id:
        changes["refresh_token"] = post.refresh_id
    # update() encrypts as save() does (the field's get_prep_value) but skips auto_now: set it here.
    if not UserToken.objects.filter(pk=token.pk).update(**changes, updated_at=timezone.now()):
        return False
    for name, value in changes.items():
        setattr(token, name, value)
    return True
