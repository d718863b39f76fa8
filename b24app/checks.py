"""Deploy checks (`manage.py check --deploy`): what settings.py refuses at start, checked again.

Settings refuse a bad FERNET_KEYS at start; this check also covers settings changed after start
(tests, a settings module of one's own) and says that without FERNET_KEYS tokens at rest are
encrypted with a key derived from SECRET_KEY, which is not for production.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from b24app.crypto import fernet_keys_problem


@register(Tags.security, deploy=True)
def fernet_keys_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    keys: list[str] = list(settings.FERNET_KEYS)
    if not keys:
        return [
            Error(
                "FERNET_KEYS is not set: tokens at rest would be encrypted with a key derived from SECRET_KEY.",
                hint='Set FERNET_KEYS to a key from: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"',
                id="b24app.E001",
            )
        ]
    problem = fernet_keys_problem(keys)
    return [Error(problem, id="b24app.E002")] if problem else []
