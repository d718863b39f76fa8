"""Security of what Deal Desk keeps: tokens unreadable in the database without the key, the
uninstall purge (CLEAN=1) through the portal's Marketplace, and the sandbox under production settings.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from django.db import connection

from b24app.models import Portal, UserToken
from tests.b24app.conftest import Installed
from tests.reliability.cluster import free_port, gunicorn, stop, wait_healthy
from tests.reliability.portal import PortalBrowser
from tests.widgets.layout_support import editor_fields, open_admin
from tests.widgets.tab_support import deal_of, open_tab

# --- tokens at rest and the uninstall purge --------------------------------------------------------------------


def every_text_in_the_database() -> str:
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names come from the schema
            chunks.extend(str(value) for row in cursor.fetchall() for value in row if value is not None)
    return "\n".join(chunks)


def test_no_token_is_readable_anywhere_in_the_database(installed: Installed) -> None:
    from sandbox.models import AccessToken, App, RefreshToken

    open_tab(installed.sandbox, deal_of(3), user=3)
    open_admin(installed.sandbox, user=1)
    secrets_issued = [
        *AccessToken.objects.values_list("token", flat=True),
        *RefreshToken.objects.values_list("token", flat=True),
        App.objects.get().application_token,
    ]
    assert len(secrets_issued) >= 5 and UserToken.objects.count() >= 2

    dump = every_text_in_the_database()

    assert [s for s in secrets_issued if s in dump] == []
    other_key = Fernet(Fernet.generate_key())
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM b24app_usertoken")
        for row in cursor.fetchall():
            for raw in row:
                assert raw.startswith("gAAAAA")  # Fernet
                with pytest.raises(Exception):  # noqa: B017 - any failure to decrypt will do
                    other_key.decrypt(raw.encode())


@pytest.mark.parametrize("clean", [True, False])
def test_uninstalling_from_the_marketplace_purges_on_request_and_locks_every_door(
    installed: Installed, settings: Any, clean: bool
) -> None:
    from widgets.common.refdata import refdata_cached
    from widgets.models import LayoutVersion

    settings.SANDBOX_EVENTS_SYNC = True  # ONAPPUNINSTALL delivered within the uninstall request
    tab = open_tab(installed.sandbox, deal_of(3), user=3)
    admin = open_admin(installed.sandbox, user=1)
    saved = admin.post("layout_save", [*editor_fields(admin.response.text), ("action", "save")])
    assert saved.status_code == 200 and LayoutVersion.objects.exists()
    assert refdata_cached(portal_id=installed.portal.pk)

    PortalBrowser(installed.sandbox.url, user=1).uninstall(clean=clean)

    portal = Portal.objects.get(pk=installed.portal.pk)
    assert portal.status == Portal.Status.UNINSTALLED
    assert (portal.access_token, portal.refresh_token) == ("", "")
    assert not UserToken.objects.exists()
    assert LayoutVersion.objects.exists() is not clean
    assert bool(refdata_cached(portal_id=portal.pk)) is False
    assert tab.get("tab_show").status_code == 403
    assert admin.get("layout_page").status_code == 403
    reopened = open_tab(installed.sandbox, deal_of(3), user=3)
    assert reopened.response.status_code == 403


# --- production settings --------------------------------------------------------------------------------------


def test_production_serves_the_sandbox_only_when_asked_and_then_warns_at_start_up(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PRODUCTION": "1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FERNET_KEYS": Fernet.generate_key().decode(),
        "B24_CLIENT_ID": "app.0123456789abcdef.12345678",
        "B24_CLIENT_SECRET": "production-secret",
        "ALLOWED_HOSTS": "127.0.0.1",
        "APP_PUBLIC_URL": "https://dealdesk.example.com/",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}",
        "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.sqlite3'}",
        "SECURE_SSL_REDIRECT": "0",
        "TMPDIR": tempfile.gettempdir(),
    }
    seen: dict[str, Any] = {}
    for label, extra in (("off", {}), ("on", {"B24_SANDBOX": "1"})):
        process = gunicorn(label, free_port(), env={**env, **extra}, workdir=tmp_path, workers=1, threads=2)
        try:
            wait_healthy(process)
            seen[label] = requests.get(f"{process.url}sandbox/bx24.js", timeout=30).status_code
        finally:
            stop(process)
        seen[f"{label}-log"] = process.log.read_text(errors="replace")

    assert seen["off"] == 404
    assert seen["on"] == 200
    assert "B24_SANDBOX is on in production" not in str(seen["off-log"])
    warning = next(line for line in str(seen["on-log"]).splitlines() if "B24_SANDBOX is on in production" in line)
    assert json.loads(warning)["level"] == "WARNING"
