"""What Deal Desk keeps of its own: the history of card layouts changed through the layout page.

Who may use that page besides portal administrators lives in Portal.settings
["layout_admin_user_ids"] (a list of Bitrix24 user ids): one small per-portal setting does not
need a table of its own.
"""

from __future__ import annotations

from django.db import models

from b24app.models import Portal


class LayoutVersion(models.Model):
    """One state of a funnel's card layout, as sent to Bitrix24 (or found there before a change)."""

    class Scope(models.TextChoices):
        COMMON = "C", "Everyone"
        PERSONAL = "P", "Personal"

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="layout_versions")
    category_id = models.PositiveIntegerField()  # the funnel (crm.category.list id)
    scope = models.CharField(max_length=1, choices=Scope.choices)
    # Owner of a personal layout; 0 for the common one, so the uniqueness below holds (NULLs
    # never collide in a unique index).
    user_id = models.PositiveIntegerField(default=0)
    number = models.PositiveIntegerField()  # 1, 2, 3… per portal, funnel, scope and owner
    # The `data` sent to crm.deal.details.configuration.set; null = reset to the Bitrix24 default.
    layout = models.JSONField(null=True, blank=True)
    author_id = models.PositiveIntegerField()  # 0: found on the portal, changed outside Deal Desk
    author_name = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "category_id", "scope", "user_id", "number"], name="layout_version_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"version {self.number} of funnel {self.category_id} ({self.scope})"


class ThemeChoice(models.Model):
    """A user's chosen theme; no row means "auto"."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="theme_choices")
    user_id = models.PositiveIntegerField()
    theme = models.CharField(max_length=5, default="auto")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["portal", "user_id"], name="theme_choice_one_per_user")]

    def __str__(self) -> str:
        return f"{self.theme} for user {self.user_id} on {self.portal_id}"
