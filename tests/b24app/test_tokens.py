"""Tokens: encrypted at rest, refreshed before expiry and on expired_token, once across threads and
processes, and given up (needs_reauth) when the OAuth server refuses the refresh token.

bitrix24-protocol.md §2.2–2.5; pain points A (refresh races) and gap 1–2 of bitrix24-sdks.md.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from b24app import crypto
from b24app.client import B24Client
from b24app.errors import AuthorizationLost, TokenExpired
from b24app.models import Portal, UserToken
from b24app.oauth import PortalTokens, UserTokens
from tests.b24app.conftest import Installed, fault, in_threads, other_portal, refreshes_spent, user_token

ROOT = Path(__file__).resolve().parents[2]


def raw_column(table: str, column: str, pk: int) -> str:
    """The value as the database holds it, past the model field that decrypts it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - names are the test's own
        row = cursor.fetchone()
    assert row is not None
    return str(row[0])


def expired_token_answers() -> int:
    from sandbox.models import RequestLog

    return RequestLog.objects.filter(error="expired_token").count()


def expire_on_the_portal() -> None:
    from sandbox.tokens import expire_all_tokens

    assert expire_all_tokens() >= 1


def client_for(portal: Portal) -> B24Client:
    return B24Client(PortalTokens(portal))


# --- encryption at rest ------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["access_token", "refresh_token", "application_token"])
def test_the_portals_tokens_are_encrypted_in_the_database(installed: Installed, column: str) -> None:
    plain = getattr(installed.portal, column)
    assert plain
    raw = raw_column("b24app_portal", column, installed.portal.pk)
    assert plain not in raw
    assert raw != plain
    assert crypto.decrypt(raw) == plain


def test_a_users_tokens_are_encrypted_in_the_database(installed: Installed) -> None:
    token = user_token(installed)
    access, refresh = token.access_token, token.refresh_token
    for column, plain in (("access_token", access), ("refresh_token", refresh)):
        raw = raw_column("b24app_usertoken", column, token.pk)
        assert plain not in raw
        assert crypto.decrypt(raw) == plain
    assert UserToken.objects.get(pk=token.pk).access_token == access


@pytest.mark.django_db
def test_a_new_key_first_in_fernet_keys_still_reads_values_written_with_the_old_one(settings: Any) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old_key]
    portal = other_portal("a", "acme.bitrix24.com", access_token="old-access", refresh_token="old-refresh")
    written_with_old = raw_column("b24app_portal", "access_token", portal.pk)

    settings.FERNET_KEYS = [new_key, old_key]
    portal = Portal.objects.get(pk=portal.pk)
    assert (portal.access_token, portal.refresh_token) == ("old-access", "old-refresh")

    portal.access_token = "new-access"
    portal.save()
    written_with_new = raw_column("b24app_portal", "access_token", portal.pk)
    assert Fernet(new_key.encode()).decrypt(written_with_new.encode()) == b"new-access"

    rotated = crypto.rotate(written_with_old)
    settings.FERNET_KEYS = [new_key]
    assert crypto.decrypt(rotated) == "old-access"
    with pytest.raises(ValueError, match="FERNET_KEYS"):
        crypto.decrypt(written_with_old)


@pytest.mark.django_db
def test_a_value_unreadable_with_the_configured_keys_fails_loudly(settings: Any) -> None:
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    portal = Portal.objects.create(member_id="c" * 32, domain="x", client_endpoint="", server_endpoint="")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE b24app_portal SET access_token = %s WHERE id = %s", ["not-a-fernet-token", portal.pk])
    with pytest.raises(ValueError, match="cannot be decrypted"):
        Portal.objects.get(pk=portal.pk)


# --- refreshing ------------------------------------------------------------------------------------------


def test_a_call_after_the_token_expired_on_the_portal_refreshes_once_and_succeeds(installed: Installed) -> None:
    before = (installed.portal.access_token, installed.portal.refresh_token)
    client = client_for(installed.portal)
    assert client.result("user.current")["ID"] == "1"
    fault(installed.sandbox, expire_tokens=True)

    deals = client.result("crm.deal.list", {"select": ["ID"]})

    assert len(deals) == 50
    assert refreshes_spent() == 1
    assert expired_token_answers() == 1
    portal = Portal.objects.get()
    assert portal.access_token != before[0]
    assert portal.refresh_token != before[1]
    assert portal.refreshed_at is not None


def test_a_token_about_to_expire_is_refreshed_before_the_call(installed: Installed) -> None:
    Portal.objects.filter(pk=installed.portal.pk).update(expires_at=timezone.now() + timedelta(seconds=30))
    portal = Portal.objects.get()

    assert client_for(portal).result("user.current")["ID"] == "1"

    assert refreshes_spent() == 1
    assert expired_token_answers() == 0
    expires_at = Portal.objects.get().expires_at
    assert expires_at is not None and expires_at > timezone.now() + timedelta(minutes=50)


def test_a_token_still_expired_after_the_refresh_is_not_refreshed_again(installed: Installed, settings: Any) -> None:
    """One refresh per call at most: a portal that keeps refusing does not spin the OAuth server."""
    settings.SANDBOX_ACCESS_TOKEN_TTL = 0  # every token the OAuth server issues now is born expired
    expire_on_the_portal()

    with pytest.raises(TokenExpired):
        client_for(installed.portal).call("user.current")

    assert refreshes_spent() == 1
    assert expired_token_answers() == 2


def test_twenty_threads_seeing_an_expired_token_share_one_refresh(installed: Installed) -> None:
    portals = [Portal.objects.get(pk=installed.portal.pk) for _ in range(20)]
    expire_on_the_portal()

    results = in_threads(20, lambda i: client_for(portals[i]).result("user.current"))

    assert [r for r in results if not isinstance(r, dict)] == []
    assert all(r["ID"] == "1" for r in results)
    assert refreshes_spent() == 1
    assert expired_token_answers() == 20


def database_url(alias: str) -> str:
    """The test database of `alias` as a URL another process can open (SQLite file or PostgreSQL)."""
    conf = connections[alias].settings_dict
    if connections[alias].vendor == "postgresql":
        return f"postgres://{conf['USER']}:{conf['PASSWORD']}@{conf['HOST']}:{conf['PORT'] or 5432}/{conf['NAME']}"
    return f"sqlite:///{conf['NAME']}"


def test_two_processes_seeing_an_expired_token_share_one_refresh(installed: Installed) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "b24app.settings",
        "DATABASE_URL": database_url("default"),
        "SANDBOX_DATABASE_URL": database_url("sandbox"),
        "SANDBOX_PORTAL_URL": installed.sandbox.url,
        "APP_PUBLIC_URL": installed.sandbox.app_url,
        "B24_RATE_LIMIT": "1000",
        "B24_RATE_BURST": "1000",
    }
    portals = [Portal.objects.get(pk=installed.portal.pk) for _ in range(10)]
    expire_on_the_portal()
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.b24app.refresh_worker", str(installed.portal.pk), "10"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None and worker.stdin is not None
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read() if worker.stderr else ""
        worker.stdin.write("go\n")
        worker.stdin.flush()
        ours = in_threads(10, lambda i: client_for(portals[i]).result("user.current"))
        out, err = worker.communicate(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
    theirs = json.loads(out.strip().splitlines()[-1])

    assert [r for r in ours if not isinstance(r, dict)] == []
    assert [r for r in theirs if not r["ok"]] == [], err
    assert len(ours) + len(theirs) == 20
    assert refreshes_spent() == 1


def test_a_users_token_is_refreshed_on_its_own_row(installed: Installed) -> None:
    token = user_token(installed)
    access = token.access_token
    expire_on_the_portal()

    me = B24Client(UserTokens(token)).result("user.current")

    assert me["ID"] == "2"
    assert refreshes_spent() == 1
    assert UserToken.objects.get(pk=token.pk).access_token != access
    assert Portal.objects.get().access_token == installed.portal.access_token  # the app's own pair untouched


# --- losing the authorization ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["revoked", "used"])
def test_a_refused_refresh_token_marks_the_portal_for_reauthorization(
    installed: Installed, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    from sandbox.models import RefreshToken

    if how == "revoked":
        RefreshToken.objects.update(revoked=True)
    else:
        RefreshToken.objects.update(used_at=timezone.now())
    expire_on_the_portal()
    caplog.set_level(logging.WARNING)

    with pytest.raises(AuthorizationLost) as raised:
        client_for(installed.portal).call("user.current")

    assert raised.value.code == "invalid_grant"
    assert Portal.objects.get().status == Portal.Status.NEEDS_REAUTH
    assert any("refresh refused" in r.getMessage() for r in caplog.records)


def test_a_portal_needing_reauthorization_is_not_called_at_all(installed: Installed) -> None:
    Portal.objects.filter(pk=installed.portal.pk).update(status=Portal.Status.NEEDS_REAUTH)
    calls_before = len(installed.sandbox.log())

    with pytest.raises(AuthorizationLost):
        client_for(Portal.objects.get()).call("user.current")

    assert len(installed.sandbox.log()) == calls_before
    assert refreshes_spent() == 0


# --- keep-alive ------------------------------------------------------------------------------------------


def run_keepalive(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("b24_keepalive", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_keepalive_refreshes_an_idle_portal_exactly_once(installed: Installed) -> None:
    long_ago = timezone.now() - timedelta(days=30)
    Portal.objects.filter(pk=installed.portal.pk).update(refreshed_at=long_ago, expires_at=long_ago)

    out, err = run_keepalive()

    assert "Refreshed 1 portal(s); 0 failed." in out
    assert err == ""
    assert refreshes_spent() == 1
    portal = Portal.objects.get()
    assert portal.refreshed_at is not None and portal.refreshed_at > long_ago
    assert client_for(portal).result("user.current")["ID"] == "1"
    assert refreshes_spent() == 1


def test_keepalive_leaves_recently_refreshed_portals_alone(installed: Installed) -> None:
    Portal.objects.filter(pk=installed.portal.pk).update(refreshed_at=timezone.now() - timedelta(days=2))

    out, _ = run_keepalive()

    assert "Refreshed 0 portal(s); 0 failed." in out
    assert refreshes_spent() == 0


def test_keepalive_counts_an_install_never_refreshed_by_its_install_date(installed: Installed) -> None:
    Portal.objects.filter(pk=installed.portal.pk).update(installed_at=timezone.now() - timedelta(days=10))

    out, _ = run_keepalive("--days", "7")

    assert "Refreshed 1 portal(s)" in out
    assert refreshes_spent() == 1


def test_keepalive_reports_a_portal_whose_refresh_token_was_refused(installed: Installed) -> None:
    from sandbox.models import RefreshToken

    RefreshToken.objects.update(revoked=True)
    Portal.objects.filter(pk=installed.portal.pk).update(refreshed_at=timezone.now() - timedelta(days=8))

    out, err = run_keepalive()

    assert "Refreshed 0 portal(s); 1 failed." in out
    assert f"{installed.portal.domain}: invalid_grant" in err
    assert Portal.objects.get().status == Portal.Status.NEEDS_REAUTH
    out, err = run_keepalive()
    assert "Refreshed 0 portal(s); 0 failed." in out  # not retried until someone authorizes again


def test_a_call_for_an_uninstalled_portal_is_refused_and_it_stays_uninstalled(installed: Installed) -> None:
    Portal.objects.filter(pk=installed.portal.pk).update(
        status=Portal.Status.UNINSTALLED, access_token="", refresh_token="", expires_at=None
    )
    calls_before = len(installed.sandbox.log())

    with pytest.raises(AuthorizationLost) as raised:
        client_for(Portal.objects.get()).call("user.current")

    assert raised.value.code == "uninstalled"
    assert Portal.objects.get().status == Portal.Status.UNINSTALLED
    assert len(installed.sandbox.log()) == calls_before
    assert refreshes_spent() == 0
