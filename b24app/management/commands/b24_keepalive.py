"""Refresh the tokens of idle portals so their refresh tokens never lapse.

A refresh token lives 180 days (28 in older docs): a portal nobody opened for that long would
otherwise need an administrator to authorize again. Run daily from cron (see README).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from b24app.client import Grant
from b24app.errors import B24Error
from b24app.models import Portal
from b24app.oauth import PortalTokens


class Command(BaseCommand):
    help = "Refresh the tokens of portals not refreshed for --days days (default 7)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, default=7)

    def handle(self, *args: Any, days: int, **options: Any) -> None:
        cutoff = timezone.now() - timedelta(days=days)
        idle = Portal.objects.filter(status=Portal.Status.INSTALLED).filter(
            Q(refreshed_at__lt=cutoff) | Q(refreshed_at__isnull=True, installed_at__lt=cutoff)
        )
        refreshed = failed = 0
        for portal in idle:
            tokens = PortalTokens(portal)
            try:
                # The stored pair as the stale one: current() would already refresh an idle
                # portal's long-expired access token, and refresh() would then spend a second one.
                tokens.refresh(Grant(portal.access_token, portal.client_endpoint))
            except B24Error as exc:
                failed += 1
                self.stderr.write(f"{portal.domain}: {exc.code} ({exc.description})")
            else:
                refreshed += 1
        self.stdout.write(f"Refreshed {refreshed} portal(s); {failed} failed.")
