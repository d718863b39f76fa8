from __future__ import annotations

from django.apps import AppConfig


class WidgetsConfig(AppConfig):
    name = "widgets"
    default_auto_field = "django.db.models.BigAutoField"
