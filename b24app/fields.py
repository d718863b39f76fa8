"""A text field stored encrypted (b24app.crypto) and read back as plain text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from b24app import crypto

if TYPE_CHECKING:
    from django.db.models.expressions import Combinable

    # django-stubs makes fields generic (what is set, what is read); Django's classes are not
    # subscriptable at run time, so the parameters exist for mypy only.
    _TextField = models.TextField[str | Combinable, str]
else:
    _TextField = models.TextField


class EncryptedTextField(_TextField):
    description = "Text encrypted at rest with Fernet"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value))
