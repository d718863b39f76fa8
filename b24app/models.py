"""Installations of Deal Desk (one Portal per Bitrix24 portal) and their OAuth tokens.

Every token is encrypted at rest (b24app.fields.EncryptedTextField).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

from b24app.fields import EncryptedTextField


class Portal(models.Model):
    class Status(models.TextChoices):
        INSTALLED = "installed", "Installed"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"
        UNINSTALLED = "uninstalled", "Uninstalled"

    member_id = models.CharField(max_length=64, unique=True)
    domain = models.CharField(max_length=255)
    client_endpoint = models.URLField(max_length=300)
    server_endpoint = models.URLField(max_length=300)
    application_token = EncryptedTextField(blank=True)
    scope = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.INSTALLED)
    # The app's own tokens (the installing administrator's), for background work.
    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    token_user_id = models.PositiveIntegerField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    installed_at = models.DateTimeField(null=True, blank=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.INSTALLED


class UserToken(models.Model):
    """A portal user's own tokens, from a placement POST: calls made for them carry their rights."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="user_tokens")
    user_id = models.PositiveIntegerField()
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField(blank=True)
    expires_at = models.DateTimeField()
    refreshed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        unique_together = [("portal", "user_id")]

    def __str__(self) -> str:
        return f"user {self.user_id} on {self.portal_id}"


def expires_soon(expires_at: datetime | None, *, margin: int = 60) -> bool:
    return expires_at is None or expires_at <= timezone.now() + timedelta(seconds=margin)
