from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Sandbox Bitrix24 portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers every REST method with the dispatcher.
        from sandbox import methods  # noqa: F401
