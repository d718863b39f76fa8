"""`manage.py sandbox_seed`: reset the sandbox portal to the demo data set."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sandbox.seed import seed_portal


class Command(BaseCommand):
    help = (
        "Wipe the sandbox portal and fill it with the demo data set (users, funnels, contacts, "
        "products, deals). Everything is reset, including the Deal Desk app's install state: "
        "tokens, webhooks, placements, event bindings and logs are deleted and the app is "
        "NOT_INSTALLED again. Running it twice gives the same data with the same ids."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database",
            default="sandbox",
            help='Database alias of the sandbox portal (default "sandbox").',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        summary = seed_portal(using=options["database"])
        self.stdout.write(self.style.SUCCESS(str(summary)))
