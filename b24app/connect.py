"""Storing the tokens of an administrator who connected a portal through the authorization-code flow."""

from __future__ import annotations

import hmac

from django.db import transaction
from django.utils import timezone

from b24app import trust
from b24app.client import B24Client
from b24app.errors import B24Error
from b24app.install import token_verify
from b24app.models import Portal
from b24app.oauth import OneOffTokens, exchange_code


class ConnectRefused(Exception):
    pass


class NotAdministrator(ConnectRefused):
    """The person who consented is no portal administrator: their token may not run the portal's work."""


def portal_connect(*, code: str, member_id: str) -> Portal:
    """Store the tokens of an administrator who consented; anyone else changes nothing.

    The portal's own tokens run its background work and lift `needs_reauth`, so, as for an install
    (b24app.install), only a portal administrator's connection may replace them.
    """
    tokens = exchange_code(code)
    if not hmac.compare_digest(tokens.member_id.encode(), member_id.encode()):  # bytes: non-ASCII is allowed
        raise ConnectRefused("the code was issued for another portal")
    try:
        verified = token_verify(access_token=tokens.access_token, member_id=member_id)
        # https://apidocs.bitrix24.com/api-reference/common/users/user-admin.html
        one_off = B24Client(OneOffTokens(tokens.access_token, verified.client_endpoint, member_id), max_retries=1)
        is_admin = one_off.result("user.admin")
    except B24Error as exc:
        raise ConnectRefused(f"token not confirmed: {exc.code}") from exc
    if is_admin is not True:
        raise NotAdministrator(f"user {tokens.user_id} is not an administrator")
    with transaction.atomic():
        portal, _ = Portal.objects.select_for_update().get_or_create(
            member_id=member_id, defaults={"domain": verified.domain, "client_endpoint": verified.client_endpoint}
        )
        portal.domain = verified.domain or portal.domain
        portal.client_endpoint = verified.client_endpoint
        portal.server_endpoint = trust.oauth_rest_url()
        portal.access_token = tokens.access_token
        portal.refresh_token = tokens.refresh_token
        portal.expires_at = tokens.expires_at
        portal.token_user_id = tokens.user_id
        portal.scope = tokens.scope or portal.scope
        portal.refreshed_at = timezone.now()
        portal.status = Portal.Status.INSTALLED
        portal.save()
    return portal
