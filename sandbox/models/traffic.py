"""What the portal counts about REST traffic: the request log, rate buckets and operating time."""

from __future__ import annotations

from django.db import models


class RequestLog(models.Model):
    """Every REST call the portal answered, so a person (and a test) sees what each click costs."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    method = models.CharField(max_length=150)
    batch_size = models.PositiveIntegerField(default=0)  # commands in a batch, 0 otherwise
    batch_methods = models.JSONField(default=list)
    caller = models.CharField(max_length=150)  # client_id, "webhook:<id>" or "anonymous"
    user_id = models.PositiveIntegerField(null=True, blank=True)
    http_status = models.PositiveIntegerField()
    error = models.CharField(max_length=100, blank=True)
    duration_ms = models.FloatField(default=0)
    client_ip = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["-id"]


class RateBucket(models.Model):
    """Leaky bucket state per (portal, client IP) for QUERY_LIMIT_EXCEEDED."""

    key = models.CharField(max_length=200, unique=True)
    level = models.FloatField(default=0)
    updated = models.FloatField(default=0)  # unix time of the last drain


class OperatingUsage(models.Model):
    """Seconds spent per (app or webhook, method) in one-minute buckets, for OPERATION_TIME_LIMIT."""

    key = models.CharField(max_length=200)
    method = models.CharField(max_length=150)
    minute = models.PositiveBigIntegerField()  # unix minute
    seconds = models.FloatField(default=0)

    class Meta:
        unique_together = [("key", "method", "minute")]
