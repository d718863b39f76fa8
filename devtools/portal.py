"""The sandbox portal arranged for a test or a benchmark: Deal Desk installed, its tokens, the
placement POST the portal sends, and the app's cache and pacing reset between runs.

The harness writes sandbox rows directly (as an administrator's clicks would leave them); the
app under test still reaches the portal only over HTTP.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

INSTALLED = "installed"  # sandbox.models.App.State.INSTALLED; models load only once Django is set up


def sandbox_app(*, state: str = INSTALLED) -> Any:
    """The sandbox's Deal Desk app row put in `state` (installed by user 1 unless told otherwise)."""
    from django.utils import timezone

    from sandbox.models import App

    app = App.objects.get()
    app.state = state
    app.application_token = app.application_token or secrets.token_hex(16)
    app.installed_at = timezone.now() if state == App.State.INSTALLED else None
    app.installed_by_id = 1 if state == App.State.INSTALLED else None
    app.save()
    return app


def sandbox_member_id() -> str:
    from sandbox.models import Portal

    return str(Portal.objects.get().member_id)


def sandbox_tokens(user_id: int = 1) -> tuple[str, str]:
    """A fresh access/refresh pair of Deal Desk for a portal user, as the portal issues them."""
    from sandbox.models import App, User
    from sandbox.tokens import issue_tokens

    access, refresh = issue_tokens(app=App.objects.get(), user=User.objects.get(pk=user_id))
    return access.token, refresh.token


def placement_form(*, user: int, placement: str, deal_id: int | None = None, **overrides: str) -> dict[str, str]:
    """What the portal POSTs into the app's iframe when `user` opens it (bitrix24-protocol.md §5.2)."""
    from sandbox.models import App

    access, refresh = sandbox_tokens(user)
    form = {
        "AUTH_ID": access,
        "AUTH_EXPIRES": "3600",
        "REFRESH_ID": refresh,
        "APPLICATION_TOKEN": App.objects.get().application_token,
        "member_id": sandbox_member_id(),
        "status": "L",
        "PLACEMENT": placement,
    }
    if deal_id is not None:
        form["PLACEMENT_OPTIONS"] = json.dumps({"ID": str(deal_id)})
    form.update(overrides)
    return form


def portal_query(sandbox_url: str, **overrides: str) -> str:
    """The query string the portal adds to an app page's URL (DOMAIN, PROTOCOL, LANG, APP_SID)."""
    query = {"DOMAIN": urlsplit(sandbox_url).netloc, "PROTOCOL": "0", "LANG": "en", "APP_SID": secrets.token_hex(16)}
    query.update(overrides)
    return urlencode(query)


def install_over_http(*, app_url: str, sandbox_url: str, timeout: float = 60) -> None:
    """Deal Desk installed through the install POST, as the marketplace does (binds the tab)."""
    sandbox_app()
    form = placement_form(user=1, placement="DEFAULT")
    response = requests.post(f"{app_url}b24/install/?{portal_query(sandbox_url)}", data=form, timeout=timeout)
    if response.status_code != 200:
        raise RuntimeError(f"install failed: HTTP {response.status_code} {response.text[:2000]}")


@contextmanager
def fresh_app_cache(settings: Any) -> Iterator[None]:
    """An empty app cache before and after, and pacing that never slows a run by itself.

    The sandbox's member_id is the same in every run, so the limiter's slots, duplicate events
    and cached reference data (all kept in the cache under it) would otherwise carry over.
    `settings` is pytest-django's fixture or anything that takes attribute assignment.
    """
    from django.core.cache import cache

    settings.B24_RATE_LIMIT = 1000.0
    settings.B24_RATE_BURST = 1000
    cache.clear()
    try:
        yield
    finally:
        cache.clear()
