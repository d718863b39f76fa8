"""Production configuration: deploy checks, secrets, the sandbox switch, health, JSON logs."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from b24app import logs

ROOT = Path(__file__).resolve().parent.parent


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "PRODUCTION": "1",
        "SECRET_KEY": "p" * 64 + "-a-long-random-production-key",
        "FERNET_KEYS": Fernet.generate_key().decode(),
        "B24_CLIENT_ID": "app.0123456789abcdef.12345678",
        "B24_CLIENT_SECRET": "production-secret",
        "ALLOWED_HOSTS": "dealdesk.example.com",
        "APP_PUBLIC_URL": "https://dealdesk.example.com/",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FERNET_KEYS", "B24_CLIENT_SECRET"])
def test_production_refuses_to_start_without_a_secret(missing: str) -> None:
    result = manage("check", env=production_env(**{missing: ""}))
    assert result.returncode != 0
    assert f"{missing} must be set in production" in result.stderr


def test_production_does_not_serve_the_sandbox_unless_asked() -> None:
    script = "from django.urls import resolve; resolve('/sandbox/rest/user.current')"
    off = manage("shell", "-c", script, env=production_env())
    assert off.returncode != 0 and "Resolver404" in off.stderr
    on = manage("shell", "-c", script, env=production_env(B24_SANDBOX="1", LOG_FORMAT="json"))
    assert on.returncode == 0, on.stderr
    warning = next(json.loads(line) for line in on.stderr.splitlines() if "B24_SANDBOX is on" in line)
    assert warning["level"] == "WARNING"


@pytest.mark.django_db
def test_health_reports_database_and_cache() -> None:
    response = Client().get("/b24/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_health_is_503_when_the_cache_is_down(settings: Any) -> None:
    # Changing CACHES resets Django's cache handlers (django.test.signals), so this points the
    # default cache at a port where nothing listens.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    response = Client().get("/b24/health/")
    assert response.status_code == 503
    assert response.json()["cache"] == "unavailable"


def test_json_log_lines_carry_the_request_id_and_member_id() -> None:
    record = logging.LogRecord("b24app", logging.INFO, __file__, 1, "refreshed %s", ("tokens",), None)
    logs.bind(request_id="req-12345678", member_id="abc123")
    logs.ContextFilter().filter(record)
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["message"] == "refreshed tokens"
    assert (line["request_id"], line["member_id"]) == ("req-12345678", "abc123")


@pytest.mark.django_db
def test_every_response_carries_a_request_id_and_keeps_a_sane_incoming_one() -> None:
    fresh = Client().get("/b24/health/")
    assert len(fresh["X-Request-ID"]) == 32
    kept = Client().get("/b24/health/", HTTP_X_REQUEST_ID="lb-0123456789")
    assert kept["X-Request-ID"] == "lb-0123456789"
    junk = Client().get("/b24/health/", HTTP_X_REQUEST_ID="<script>")
    assert junk["X-Request-ID"] != "<script>"


def test_production_refuses_to_start_with_debug_on() -> None:
    result = manage("check", env=production_env(DEBUG="1"))
    assert result.returncode != 0
    assert "PRODUCTION=1 cannot run with DEBUG=1" in result.stderr


@pytest.mark.parametrize("setting", ["PRODUCTION", "DEBUG"])
def test_debug_or_production_alone_starts(setting: str) -> None:
    env = production_env() if setting == "PRODUCTION" else production_env(PRODUCTION="", DEBUG="1")
    script = "from django.conf import settings; print(settings.PRODUCTION, settings.DEBUG)"
    result = manage("shell", "--no-imports", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == (["True", "False"] if setting == "PRODUCTION" else ["False", "True"])


BAD_KEYS = ["notakey", "A" * 42 + "==", "ключ-не-ключ"]  # the second decodes to 31 bytes, not 32


@pytest.mark.parametrize("bad", BAD_KEYS)
@pytest.mark.parametrize("production", [True, False])
def test_a_bad_fernet_key_refuses_to_start_naming_the_variable_not_the_key(bad: str, production: bool) -> None:
    good = Fernet.generate_key().decode()
    env = production_env(FERNET_KEYS=f"{good},{bad}", **({} if production else {"PRODUCTION": ""}))
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "FERNET_KEYS: key 2 of 2 is not a Fernet key" in result.stderr
    assert bad not in result.stdout + result.stderr and good not in result.stdout + result.stderr


def test_check_deploy_fails_on_a_bad_fernet_key() -> None:
    result = manage("check", "--deploy", env=production_env(FERNET_KEYS="notakey"))
    assert result.returncode != 0
    assert "FERNET_KEYS" in result.stderr and "notakey" not in result.stdout + result.stderr


def test_the_deploy_check_itself_flags_bad_or_missing_fernet_keys(settings: Any) -> None:
    from b24app.checks import fernet_keys_check

    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    assert fernet_keys_check(None) == []
    settings.FERNET_KEYS = [Fernet.generate_key().decode(), "notakey"]
    [bad] = fernet_keys_check(None)
    assert bad.id == "b24app.E002" and "key 2 of 2" in bad.msg and "notakey" not in bad.msg
    settings.FERNET_KEYS = []
    [missing] = fernet_keys_check(None)
    assert missing.id == "b24app.E001"
    deploy = manage("check", "--deploy", env=production_env(PRODUCTION="", FERNET_KEYS=""))
    assert "b24app.E001" in deploy.stderr


PROXY_HEADER = "from django.conf import settings; print(getattr(settings, 'SECURE_PROXY_SSL_HEADER', None))"


def test_the_proxy_ssl_header_is_trusted_only_when_configured() -> None:
    plain = manage("shell", "--no-imports", "-c", PROXY_HEADER, env=production_env())
    assert plain.stdout.strip() == "None", plain.stderr
    proxied = manage(
        "shell", "--no-imports", "-c", PROXY_HEADER, env=production_env(SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    )
    assert proxied.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')", proxied.stderr
    custom = manage(
        "shell", "--no-imports", "-c", PROXY_HEADER, env=production_env(SECURE_PROXY_SSL_HEADER="X-Forwarded-Ssl: on")
    )
    assert custom.stdout.strip() == "('HTTP_X_FORWARDED_SSL', 'on')", custom.stderr
    bad = manage("check", env=production_env(SECURE_PROXY_SSL_HEADER="X Forwarded"))
    assert bad.returncode != 0 and "SECURE_PROXY_SSL_HEADER must be a header name" in bad.stderr


@pytest.mark.django_db
def test_a_forwarded_proto_header_does_not_make_a_request_secure_unless_configured(settings: Any) -> None:
    assert not hasattr(settings, "SECURE_PROXY_SSL_HEADER") or settings.SECURE_PROXY_SSL_HEADER is None
    seen: list[bool] = []
    from django.test import RequestFactory

    request = RequestFactory().get("/b24/health/", HTTP_X_FORWARDED_PROTO="https")
    seen.append(request.is_secure())
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    seen.append(request.is_secure())
    assert seen == [False, True]
