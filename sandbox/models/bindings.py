"""What installed apps bound on the portal: placements, event handlers and event deliveries."""

from __future__ import annotations

from django.db import models

from .access import App


class PlacementBinding(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="placements")
    placement = models.CharField(max_length=100)
    handler = models.URLField(max_length=500)
    title = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=500, blank=True)
    group_name = models.CharField(max_length=200, blank=True)
    lang_all = models.JSONField(default=dict)
    options = models.JSONField(default=list)
    user_id = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]


class EventBinding(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="event_bindings")
    event = models.CharField(max_length=100)  # stored upper-case
    handler = models.URLField(max_length=500, blank=True)
    auth_type = models.PositiveIntegerField(default=0)
    offline = models.BooleanField(default=False)
    connector_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["id"]


class EventDelivery(models.Model):
    """One attempt to deliver an event (no retries, as Bitrix24)."""

    binding = models.ForeignKey(EventBinding, null=True, on_delete=models.SET_NULL)
    event = models.CharField(max_length=100)
    handler = models.URLField(max_length=500)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
