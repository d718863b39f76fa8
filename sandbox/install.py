"""Installing and uninstalling a marketplace app on the sandbox portal (bitrix24-protocol.md §1).

An app with an installer page (scenario A, §1.2) stays INSTALLING until its installer calls
BX24.installFinish(); meanwhile its placements are hidden and its events are not delivered. An
app without one (scenario B/C) is installed at once. ONAPPINSTALL goes to the app's "event
installation handler" (§1.3, with a refresh token); ONAPPUNINSTALL goes to the handlers the app
bound, without tokens (§1.4), after which its placements, event handlers and tokens are gone.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from sandbox.events import auth_block, send_later
from sandbox.models import AccessToken, App, EventBinding, PlacementBinding, RefreshToken, User


class InstallError(Exception):
    """A refused install action; the message is shown to the person as is."""


def _require_admin(user: User) -> None:
    # Only an administrator installs or removes apps (§1.1).
    if not user.is_admin:
        raise InstallError("Only a portal administrator can install or uninstall applications.")


def app_install_start(*, app: App, user: User) -> App:
    """Begin installing: INSTALLING while an installer page has to run, else INSTALLED at once."""
    _require_admin(user)
    if app.state == App.State.INSTALLED:
        raise InstallError(f"{app.name} is already installed.")
    if app.state == App.State.INSTALLING:
        return app  # the admin reopened the installer; nothing new to announce
    with transaction.atomic(using="sandbox"):
        if not app.application_token:
            app.application_token = secrets.token_hex(16)
        if app.install_url:
            app.state = App.State.INSTALLING
            app.installed_at = None
            app.installed_by = None
        else:
            _mark_installed(app, user)
        app.save()
        if app.event_install_url:
            send_later(app.event_install_url, _install_payload(app, user))
    return app


def app_install_finish(*, app: App, user: User, installed: bool = True) -> App:
    """BX24.installFinish() from the installer: the app now counts as installed (§1.2 A.4).

    With `value: false` (installed=False) the portal stores INSTALLED=N instead: the app is not
    installed and its installer opens again (applayout.js setInstallFinish posts value N)."""
    _require_admin(user)
    if not installed:
        return _mark_not_installed(app)
    if app.state == App.State.INSTALLED:
        return app  # a second installFinish changes nothing
    if app.state != App.State.INSTALLING:
        raise InstallError(f"{app.name} is not being installed.")
    with transaction.atomic(using="sandbox"):
        _mark_installed(app, user)
        app.save()
    return app


def _mark_not_installed(app: App) -> App:
    if app.state not in (App.State.INSTALLING, App.State.INSTALLED):
        raise InstallError(f"{app.name} is not being installed.")
    if app.state == App.State.INSTALLED:
        app.state, app.installed_at, app.installed_by = App.State.INSTALLING, None, None
        app.save(update_fields=["state", "installed_at", "installed_by"])
    return app


def app_uninstall(*, app: App, user: User, clean: bool = False) -> App:
    """Remove the app: drop bindings and tokens, and send ONAPPUNINSTALL to its handlers (§1.4).

    As on Bitrix24 (bitrix24-uninstall.md) the event is only queued here and sent once the removal
    has committed, so when it arrives every call with the app's token already answers 401
    APPLICATION_NOT_FOUND, and a handler can confirm the uninstall with the portal.
    """
    _require_admin(user)
    if app.state not in (App.State.INSTALLED, App.State.INSTALLING):
        raise InstallError(f"{app.name} is not installed.")
    with transaction.atomic(using="sandbox"):
        app.state = App.State.UNINSTALLED
        if clean:
            # CLEAN=1 ("delete app data"): options go too; otherwise they survive a reinstall.
            app.app_options = {}
        app.save()
        payload = _uninstall_payload(app, user, clean=clean)
        for binding in EventBinding.objects.filter(app=app, event="ONAPPUNINSTALL").exclude(handler=""):
            send_later(binding.handler, payload, binding=binding)
        PlacementBinding.objects.filter(app=app).delete()
        EventBinding.objects.filter(app=app).delete()
        AccessToken.objects.filter(app=app, revoked=False).update(revoked=True)
        RefreshToken.objects.filter(app=app, revoked=False).update(revoked=True)
    return app


def _mark_installed(app: App, user: User) -> None:
    app.state = App.State.INSTALLED
    app.installed_at = timezone.now()
    app.installed_by = user


def app_install_event(*, app: App, user: User) -> dict[str, Any]:
    """The ONAPPINSTALL event the portal sends for `app` installed by `user` (for tests of the app side)."""
    return _install_payload(app, user)


def _install_payload(app: App, user: User) -> dict[str, Any]:
    # data.INSTALLED is "N" while the installer page still has to call installFinish (§1.3).
    return {
        "event": "ONAPPINSTALL",
        "data": {
            "VERSION": str(app.version),
            "ACTIVE": "Y",
            "INSTALLED": "Y" if app.is_installed else "N",
            "LANGUAGE_ID": user.lang or "en",
        },
        "ts": str(int(time.time())),
        "auth": auth_block(app, user, with_refresh=True),
    }


def _uninstall_payload(app: App, user: User, *, clean: bool) -> dict[str, Any]:
    # No user tokens: the app's API access is already gone (§1.4).
    return {
        "event": "ONAPPUNINSTALL",
        "data": {"LANGUAGE_ID": user.lang or "en", "CLEAN": 1 if clean else 0},
        "ts": str(int(time.time())),
        "auth": auth_block(app, None),
    }
