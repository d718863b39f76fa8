"""The CRM's dictionaries: currencies, deal funnels and the crm.status rows."""

from __future__ import annotations

from django.db import models

from .base import yn_field


class Currency(models.Model):
    code = models.CharField(max_length=3, primary_key=True)
    full_name = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    amount_cnt = models.PositiveIntegerField(default=1)
    sort = models.IntegerField(default=100)
    base = models.BooleanField(default=False)
    format_string = models.CharField(max_length=50)
    dec_point = models.CharField(max_length=5, default=".")
    thousands_sep = models.CharField(max_length=10, null=True, blank=True)
    decimals = models.PositiveSmallIntegerField(default=2)
    date_update = models.DateTimeField()

    class Meta:
        ordering = ["sort", "code"]


class Category(models.Model):
    """A deal funnel (crm.category, entityTypeId 2). The default funnel has id 0."""

    id = models.PositiveIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    sort = models.IntegerField(default=500)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["sort", "id"]


class Status(models.Model):
    """A row of a CRM dictionary (crm.status): deal stages per funnel, deal types, sources..."""

    entity_id = models.CharField(max_length=50)  # DEAL_STAGE, DEAL_STAGE_1, DEAL_TYPE, SOURCE ...
    status_id = models.CharField(max_length=50)  # NEW, C1:NEW, SALE ...
    name = models.CharField(max_length=200)
    name_init = models.CharField(max_length=200, blank=True)
    sort = models.IntegerField(default=10)
    system = yn_field("N")
    category_id = models.PositiveIntegerField(null=True, blank=True)
    color = models.CharField(max_length=10, blank=True)
    semantics = models.CharField(max_length=1, blank=True)  # "" in progress, S success, F failure

    class Meta:
        ordering = ["entity_id", "sort", "id"]
        unique_together = [("entity_id", "status_id")]
