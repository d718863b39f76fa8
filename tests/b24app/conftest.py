"""Fixtures for the app side: a portal installed over real HTTP, and small helpers around it.

The app reaches the sandbox only over HTTP; the tests read and write sandbox rows directly to set
up situations (expired tokens, revoked refresh tokens) and to assert what reached the portal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from django.db import connections

from devtools.portal import fresh_app_cache, placement_form, portal_query, sandbox_app, sandbox_tokens
from tests.conftest import SandboxPortal


@pytest.fixture(autouse=True)
def app_limits(settings: Any) -> Iterator[None]:
    """A fresh limiter and duplicate cache per test, and pacing that never slows a test by itself.

    The sandbox's member_id is the same in every test, so the limiter's slot (kept in the cache
    under it) would otherwise carry over from one test to the next.
    """
    with fresh_app_cache(settings):
        yield


# --- the sandbox side --------------------------------------------------------------------------


def refreshes_spent() -> int:
    """How many refresh tokens the sandbox's OAuth server has accepted."""
    from sandbox.models import RefreshToken

    return RefreshToken.objects.filter(used_at__isnull=False).count()


def fault(sandbox: SandboxPortal, **body: Any) -> dict[str, Any]:
    """The sandbox's fault-injection API (POST <portal>/faults.json)."""
    response = requests.post(f"{sandbox.url}faults.json", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- the install POST ----------------------------------------------------------------------------


def install_form(*, as_user: int = 1, **overrides: str) -> dict[str, str]:
    """The form fields the portal POSTs to the installer page (protocol §1.2 A, §5.3)."""
    return placement_form(user=as_user, placement="DEFAULT", deal_id=None, **overrides)


def install_url(sandbox: SandboxPortal, **query: str) -> str:
    return f"{sandbox.app_url}b24/install/?{portal_query(sandbox.url, **query)}"


def post_install(
    sandbox: SandboxPortal, *, as_user: int = 1, query: dict[str, str] | None = None, **overrides: str
) -> requests.Response:
    return requests.post(
        install_url(sandbox, **(query or {})), data=install_form(as_user=as_user, **overrides), timeout=30
    )


@dataclass
class Installed:
    sandbox: SandboxPortal
    portal: Any  # b24app.models.Portal
    response: requests.Response
    application_token: str


@pytest.fixture
def installed(sandbox: SandboxPortal) -> Installed:
    """Deal Desk installed on the sandbox portal by the administrator, through the install POST."""
    from b24app.models import Portal

    app = sandbox_app(state="installed")
    response = post_install(sandbox)
    assert response.status_code == 200, response.text
    return Installed(sandbox, Portal.objects.get(), response, app.application_token)


def user_token(installed: Installed, user_id: int = 2, *, valid_for: timedelta = timedelta(hours=1)) -> Any:
    """A sandbox user's real tokens, stored as the app stores them (a b24app UserToken)."""
    from django.utils import timezone

    from b24app.models import UserToken

    access, refresh = sandbox_tokens(user_id)
    return UserToken.objects.create(
        portal=installed.portal,
        user_id=user_id,
        access_token=access,
        refresh_token=refresh,
        expires_at=timezone.now() + valid_for,
    )


def other_portal(letter: str, domain: str = "other.bitrix24.com", **fields: Any) -> Any:
    """A made-up Portal row for a portal that is not the sandbox (member_id is 32 × letter)."""
    from b24app.models import Portal

    return Portal.objects.create(
        member_id=letter * 32,
        domain=domain,
        client_endpoint=f"https://{domain}/rest/",
        server_endpoint="https://oauth.bitrix.info/rest/",
        **fields,
    )


# --- threads and stray hosts -----------------------------------------------------------------------


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..count-1) in threads started together; each result or exception is returned."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except Exception as exc:  # collected, so the test can show which ones failed
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@dataclass
class StubHost:
    """A tiny HTTP host on this machine that records what reached it and answers as told."""

    url: str
    netloc: str
    requests: list[tuple[str, str]]
    answer: dict[str, Any]


@pytest.fixture
def stub_host() -> Iterator[StubHost]:
    """A stray host (a former portal address, or a forger's server): what would have reached it."""
    seen: list[tuple[str, str]] = []
    answer: dict[str, Any] = {"status": 404, "headers": {}}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            seen.append((self.command, self.path))
            self.send_response(int(answer["status"]))
            location = answer.get("location")
            if callable(location):
                self.send_header("Location", location(self.path))
            for name, value in answer["headers"].items():
                self.send_header(name, value)
            body = str(answer.get("body", "")).encode()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    netloc = f"127.0.0.1:{server.server_address[1]}"
    try:
        yield StubHost(url=f"http://{netloc}/", netloc=netloc, requests=seen, answer=answer)
    finally:
        server.shutdown()
        server.server_close()
