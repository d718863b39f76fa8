"""Field helpers shared by the sandbox's models: Bitrix24's Y/N flags."""

from __future__ import annotations

from django.db import models


class YesNo(models.TextChoices):
    YES = "Y", "Yes"
    NO = "N", "No"


def yn_field(default: str = "N") -> models.CharField[str, str]:
    return models.CharField(max_length=1, choices=YesNo.choices, default=default)
