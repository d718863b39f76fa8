"""Shared fixtures: a seeded sandbox portal served over real HTTP by pytest-django's live_server.

The portal is reached as http://localhost:<port>/sandbox/ and the app as http://127.0.0.1:<port>/,
two different sites, as in production.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from devtools.portal import sandbox_app

ALL_DATABASES = ["default", "sandbox"]

# Playwright's sync API keeps an event loop running in the test thread; the ORM calls the tests
# make alongside it are ordinary synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the live server or the sandbox get both databases, transactionally."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if item.get_closest_marker("django_db") is None and ({"live_server", "sandbox"} & set(fixtures)):
            item.add_marker(pytest.mark.django_db(transaction=True, databases=ALL_DATABASES))


@dataclass
class SandboxPortal:
    """A seeded sandbox portal and a few conveniences for calling it like a Bitrix24 client."""

    url: str  # the portal, e.g. http://localhost:8123/sandbox/
    app_url: str  # the app, e.g. http://127.0.0.1:8123/
    session: requests.Session

    def rest_url(self, method: str) -> str:
        return f"{self.url}rest/{method}.json"

    def webhook(self, user_id: int = 1, scope: str = "crm,user,user_brief") -> str:
        from sandbox.models import Webhook

        hook = Webhook.objects.create(user_id=user_id, code=secrets.token_hex(8), scope=scope)
        return f"{self.url}rest/{user_id}/{hook.code}/"

    def install_app(self) -> Any:
        """Mark Deal Desk installed, as if the admin had finished the install (no UI involved)."""
        return sandbox_app()

    def bind_events(
        self, *events: str, handler: str = "http://127.0.0.1:9/b24/events/"
    ) -> Callable[[], list[tuple[str, dict[str, Any]]]]:
        """Deal Desk installed and bound to `events` at `handler` (by default one that never answers);
        returns a function listing (event, data) of every delivery attempt, in order. Deliveries are
        attempted inline only with settings.SANDBOX_EVENTS_SYNC = True."""
        from sandbox.models import EventBinding, EventDelivery

        app = self.install_app()
        for name in events:
            EventBinding.objects.create(app=app, event=name, handler=handler)

        def delivered() -> list[tuple[str, dict[str, Any]]]:
            return [(d.event, d.payload["data"]) for d in EventDelivery.objects.order_by("id")]

        return delivered

    def token(self, user_id: int = 1) -> str:
        """An OAuth access token of the installed app for `user_id`."""
        from sandbox.models import App, User
        from sandbox.tokens import issue_tokens

        app = App.objects.get()
        if not app.is_installed:
            app = self.install_app()
        access, _ = issue_tokens(app=app, user=User.objects.get(pk=user_id))
        return access.token

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, user: int = 1, token: str | None = None
    ) -> requests.Response:
        """POST a JSON body with `auth`, the way the official SDKs do."""
        body = dict(params or {})
        body["auth"] = token if token is not None else self.token(user)
        return self.session.post(self.rest_url(method), json=body, timeout=30)

    def result(self, method: str, params: dict[str, Any] | None = None, *, user: int = 1) -> Any:
        response = self.call(method, params, user=user)
        assert response.status_code == 200, response.text
        return response.json()["result"]

    def log(self) -> list[Any]:
        from sandbox.models import RequestLog

        return list(RequestLog.objects.order_by("id"))


@pytest.fixture
def sandbox(live_server: Any, settings: Any) -> Iterator[SandboxPortal]:
    from sandbox.seed import seed_portal

    port = live_server.url.rsplit(":", 1)[1]
    settings.SANDBOX_PORTAL_URL = f"http://localhost:{port}/sandbox/"
    settings.APP_PUBLIC_URL = f"http://127.0.0.1:{port}/"
    settings.SANDBOX_LIMITS_ENABLED = False
    seed_portal()
    with requests.Session() as session:
        yield SandboxPortal(url=settings.SANDBOX_PORTAL_URL, app_url=settings.APP_PUBLIC_URL, session=session)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no browser download: the package's own binary)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


# In CI a browser or multi-process test that skips is a failure: a green run must mean that the
# clicks and the two-process races were really exercised, not that Chromium or PostgreSQL was
# missing (docs/reliability.md). Outside CI they skip with their reason, as a developer expects.
STRICT_MARKERS = ("browser", "multiprocess")
STRICT_FIXTURES = ("chromium", "page", "cluster", "fresh_cluster")


def _must_run_in_ci(item: pytest.Item) -> bool:
    fixtures = set(getattr(item, "fixturenames", ()))
    return any(item.get_closest_marker(name) for name in STRICT_MARKERS) or bool(fixtures & set(STRICT_FIXTURES))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("CI", "").lower() == "true" and _must_run_in_ci(item):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"CI=true, and this browser or multi-process test skipped: {reason}"


# --- The sandbox served the way a portal is: https://localhost:<port>/rest/… (sandbox/https.py) ---


@dataclass
class HttpsPortal:
    """The seeded sandbox portal on its HTTPS address, REST at the root, trusted through `ca_file`."""

    url: str  # e.g. https://localhost:8443/
    domain: str  # host:port, what SDKs take as the portal's domain
    ca_file: str  # the local CA that signed the server's certificate
    portal: SandboxPortal  # the same portal over plain HTTP, with its ORM-side conveniences

    def webhook(self, user_id: int = 1, scope: str = "crm,user,user_brief") -> str:
        """A webhook base on the HTTPS address: https://localhost:<port>/rest/<user>/<code>/."""
        return self.url + self.portal.webhook(user_id, scope).split("/sandbox/", 1)[1]


@pytest.fixture(scope="session")
def sandbox_tls_files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A local CA and a server certificate made by the same code as `manage.py sandbox_tls`."""
    from sandbox.https import TlsFiles, ensure_certificates

    files = TlsFiles(tmp_path_factory.mktemp("sandbox-tls"))
    ensure_certificates(files)
    return files


@pytest.fixture(scope="session")
def https_port(live_server: Any, sandbox_tls_files: Any) -> Iterator[int]:
    """The live server's application also served over TLS, from a thread, on a free port.

    Like live_server's own thread, each request thread opens its own connections to the test
    databases (file-backed) and closes them when done, so transactional tests see its writes.
    """
    import threading

    from django.core.handlers.wsgi import WSGIHandler

    from sandbox.https import make_server

    server = make_server("127.0.0.1", 0, sandbox_tls_files, WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, name="sandbox-https", daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def sandbox_https(sandbox: SandboxPortal, https_port: int, sandbox_tls_files: Any, settings: Any) -> HttpsPortal:
    settings.SANDBOX_HTTPS_URL = f"https://localhost:{https_port}/"
    return HttpsPortal(
        url=settings.SANDBOX_HTTPS_URL,
        domain=f"localhost:{https_port}",
        ca_file=str(sandbox_tls_files.ca_cert),
        portal=sandbox,
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the message catalogues when a test run starts without `make` (they are not committed)."""
    from pathlib import Path

    from widgets.common.i18n_compile import compile_all

    po = Path(__file__).resolve().parent.parent / "locale" / "ru" / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        compile_all()
