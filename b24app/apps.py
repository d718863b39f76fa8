from __future__ import annotations

from django.apps import AppConfig


class B24AppConfig(AppConfig):
    name = "b24app"
    verbose_name = "Bitrix24 integration"
    default_auto_field = "django.db.models.BigAutoField"
