"""Keeps the sandbox portal's tables in their own database alias."""

from __future__ import annotations

from typing import Any

from django.db.models import Model

SANDBOX_APP = "sandbox"
SANDBOX_DB = "sandbox"


class SandboxRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return SANDBOX_DB if model._meta.app_label == SANDBOX_APP else None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return SANDBOX_DB if model._meta.app_label == SANDBOX_APP else None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        sandbox1 = obj1._meta.app_label == SANDBOX_APP
        sandbox2 = obj2._meta.app_label == SANDBOX_APP
        return sandbox1 == sandbox2

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if app_label == SANDBOX_APP:
            return db == SANDBOX_DB
        return db != SANDBOX_DB
