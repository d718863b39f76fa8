"""Storing the tokens of an admin who connected a portal through the authorization-code flow."""

from __future__ import annotations

import hmac

from django.db import transaction
from django.utils import timezone

from b24app import trust
from b24app.errors import B24Error
from b24app.install import token_verify
from b24app.models import Portal
from b24app.oauth import exchange_code


class ConnectRefused(Exception):
    pass


def portal_connect(*, code: str, member_id: str) -> Portal:
    tokens = exchange_code(code)
    if not hmac.compare_digest(tokens.member_id.encode(), member_id.encode()):  # bytes: non-ASCII is allowed
        raise ConnectRefused("the code was issued for another portal")
    try:
        verified = token_verify(access_token=tokens.access_token, member_id=member_id)
    except B24Error as exc:
        raise ConnectRefused(f"token not confirmed: {exc.code}") from exc
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
