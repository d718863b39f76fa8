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
