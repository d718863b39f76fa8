from __future__ import annotations

import logging

from django.apps import AppConfig


class B24AppConfig(AppConfig):
    name = "b24app"
    verbose_name = "Bitrix24 integration"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from b24app import checks  # noqa: F401  (registers the deploy checks)

        if settings.PRODUCTION and settings.B24_SANDBOX:
            logging.getLogger("b24app").warning(
                "B24_SANDBOX is on in production: the sandbox portal is served under /sandbox/ with demo "
                "users and no real security. Turn it off unless this is a demo deployment."
            )
