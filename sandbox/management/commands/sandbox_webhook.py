"""`manage.py sandbox_webhook --user N`: print an inbound webhook URL of the sandbox portal."""

from __future__ import annotations

import secrets
import string
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandbox.models import User, Webhook

# Bitrix24 webhook codes are 16 lower-case letters and digits.
CODE_ALPHABET = string.ascii_lowercase + string.digits
CODE_LENGTH = 16


class Command(BaseCommand):
    help = (
        "Print a webhook base URL (<SANDBOX_PORTAL_URL>rest/<user_id>/<code>/) acting as the "
        "given sandbox user. Reuses the user's webhook (with the same scope when --scope is "
        "given) and creates one otherwise."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", type=int, required=True, help="Id of the sandbox user.")
        parser.add_argument(
            "--scope",
            help='Comma-separated scopes, e.g. "crm,user" (default: any existing webhook, '
            "or crm,user,user_brief for a new one).",
        )
        parser.add_argument(
            "--https",
            action="store_true",
            help="Print the base on the sandbox's HTTPS address (SANDBOX_HTTPS_URL), REST at the root, "
            "as the official SDKs expect.",
        )
        parser.add_argument(
            "--database",
            default="sandbox",
            help='Database alias of the sandbox portal (default "sandbox").',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        using: str = options["database"]
        user = User.objects.using(using).filter(pk=options["user"]).first()
        if user is None:
            known = ", ".join(str(pk) for pk in User.objects.using(using).values_list("pk", flat=True))
            hint = f"known users: {known}" if known else "the portal has no users, run sandbox_seed"
            raise CommandError(f"No user {options['user']} on the sandbox portal ({hint}).")
        scope = _normalise_scope(options["scope"]) if options["scope"] is not None else None
        webhook, created = webhook_for(user, scope=scope, using=using)
        verb = "Created" if created else "Reusing"
        self.stderr.write(f"{verb} webhook #{webhook.pk} of {user.full_name}, scope {webhook.scope}")
        base: str = settings.SANDBOX_PORTAL_URL
        if options["https"]:
            if not settings.SANDBOX_HTTPS_URL:
                raise CommandError("SANDBOX_HTTPS_URL is empty: the sandbox has no HTTPS address.")
            base = settings.SANDBOX_HTTPS_URL
        base = base if base.endswith("/") else base + "/"
        self.stdout.write(f"{base}rest/{user.pk}/{webhook.code}/")


def _normalise_scope(raw: str) -> str:
    scopes = [s.strip() for s in raw.split(",") if s.strip()]
    if not scopes:
        raise CommandError("--scope needs at least one scope, e.g. --scope crm,user")
    return ",".join(dict.fromkeys(scopes))


def webhook_for(user: User, *, scope: str | None, using: str) -> tuple[Webhook, bool]:
    existing = Webhook.objects.using(using).filter(user=user).order_by("pk")
    if scope is not None:
        existing = existing.filter(scope=scope)
    webhook = existing.first()
    if webhook is not None:
        return webhook, False
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    fields: dict[str, Any] = {"user": user, "code": code, "title": f"Webhook of {user.full_name}"}
    if scope is not None:
        fields["scope"] = scope
    return Webhook.objects.using(using).create(**fields), True
