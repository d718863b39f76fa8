"""The sandbox served the way a portal is: HTTPS with a local CA, REST at the root of the host.

A client written for Bitrix24 builds https://<domain>/rest/<method> (webhooks:
/rest/<user>/<code>/<method>) and nothing else (bitrix24-protocol.md §3.1); these tests call it so,
over real TLS, verifying the certificate against the CA made at set-up.
"""

from __future__ import annotations

import socket
import ssl
import stat
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from django.core.management import call_command

from sandbox.https import TlsFiles, ensure_certificates
from sandbox.models import App, User, Webhook
from sandbox.tokens import issue_tokens
from tests.conftest import HttpsPortal


def test_a_webhook_answers_at_the_root_of_the_https_address(sandbox_https: HttpsPortal) -> None:
    hook = sandbox_https.webhook(1)
    assert hook.startswith(f"https://localhost:{sandbox_https.domain.split(':')[1]}/rest/1/")

    response = requests.post(hook + "crm.deal.get.json", json={"id": 1}, verify=sandbox_https.ca_file, timeout=30)

    assert response.status_code == 200, response.text
    assert response.json()["result"]["ID"] == "1"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


def test_an_oauth_token_calls_rest_at_the_root_in_the_body_or_as_a_bearer(sandbox_https: HttpsPortal) -> None:
    token = sandbox_https.portal.token(1)
    url = sandbox_https.url + "rest/user.current"

    in_body = requests.post(url, json={"auth": token}, verify=sandbox_https.ca_file, timeout=30)
    bearer = {"Authorization": f"Bearer {token}"}
    as_bearer = requests.get(url, headers=bearer, verify=sandbox_https.ca_file, timeout=30)

    assert in_body.status_code == 200, in_body.text
    assert in_body.json()["result"]["ID"] == "1"
    assert as_bearer.json()["result"]["ID"] == "1"
    assert in_body.headers["X-Bitrix-Rest-Application"] == App.objects.get().client_id


def test_errors_on_the_https_address_are_the_same_envelopes(sandbox_https: HttpsPortal) -> None:
    wrong_code = f"{sandbox_https.url}rest/1/nosuchcode0000000/user.current"
    unknown = sandbox_https.webhook(1) + "crm.nothing.here"

    no_auth = requests.get(wrong_code, verify=sandbox_https.ca_file, timeout=30)
    not_found = requests.get(unknown, verify=sandbox_https.ca_file, timeout=30)

    assert no_auth.status_code == 401
    assert no_auth.json()["error"] == "NO_AUTH_FOUND"
    assert not_found.status_code == 404
    assert not_found.json()["error"] == "ERROR_METHOD_NOT_FOUND"


def test_the_oauth_server_answers_on_the_https_address(sandbox_https: HttpsPortal) -> None:
    app = sandbox_https.portal.install_app()
    access, refresh = issue_tokens(app=app, user=User.objects.get(pk=1))

    renewed = requests.get(
        sandbox_https.url + "oauth/token/",
        params={
            "grant_type": "refresh_token",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "refresh_token": refresh.token,
        },
        verify=sandbox_https.ca_file,
        timeout=30,
    )
    assert renewed.status_code == 200, renewed.text
    new_access = renewed.json()["access_token"]
    info = requests.get(
        sandbox_https.url + "oauth/rest/app.info", params={"auth": new_access}, verify=sandbox_https.ca_file, timeout=30
    )

    assert info.status_code == 200, info.text
    assert info.json()["result"]["client_id"] == app.client_id
    assert new_access != access.token


def test_repeated_slashes_in_a_rest_path_are_merged_as_the_portals_web_server_does(
    sandbox_https: HttpsPortal,
) -> None:
    """nginx merges slashes by default; b24jssdk's B24OAuth asks for <client_endpoint>/<method>."""
    token = sandbox_https.portal.token(1)
    plain = sandbox_https.portal.url + "rest//user.current"

    over_https = requests.post(
        sandbox_https.url + "rest//user.current", json={"auth": token}, verify=sandbox_https.ca_file, timeout=30
    )
    over_http = sandbox_https.portal.session.post(plain, json={"auth": token}, timeout=30)

    assert over_https.status_code == 200, over_https.text
    assert over_http.status_code == 200, over_http.text
    assert over_https.json()["result"]["ID"] == over_http.json()["result"]["ID"] == "1"


def test_the_plain_http_address_keeps_working_and_keeps_rest_under_sandbox(sandbox_https: HttpsPortal) -> None:
    plain = sandbox_https.portal
    hook = plain.webhook(1)

    under_sandbox = plain.session.get(hook + "user.current", timeout=30)
    at_root = plain.session.get(hook.replace("/sandbox/rest/", "/rest/") + "user.current", timeout=30)

    assert under_sandbox.status_code == 200
    assert under_sandbox.json()["result"]["ID"] == "1"
    assert at_root.status_code == 404


def test_a_client_that_does_not_trust_the_local_ca_is_refused(sandbox_https: HttpsPortal) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(sandbox_https.webhook(1) + "user.current", timeout=30)  # the system's CAs only


def test_the_certificate_holds_for_localhost_and_127_0_0_1_under_strict_verification(
    sandbox_https: HttpsPortal,
) -> None:
    port = int(sandbox_https.domain.split(":")[1])
    context = ssl.create_default_context(cafile=sandbox_https.ca_file)
    context.verify_flags |= ssl.VERIFY_X509_STRICT

    for name in ("localhost", "127.0.0.1"):
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            assert tls.getpeercert() is not None


def test_the_portal_answers_by_every_name_its_certificate_holds_on_that_port(sandbox_https: HttpsPortal) -> None:
    port = sandbox_https.domain.split(":")[1]
    hook_path = sandbox_https.webhook(1).split(f":{port}/", 1)[1]

    by_ip = requests.get(f"https://127.0.0.1:{port}/{hook_path}user.current", verify=sandbox_https.ca_file, timeout=30)

    assert by_ip.status_code == 200, by_ip.text
    assert by_ip.json()["result"]["ID"] == "1"


def test_only_the_https_address_sees_the_portal_at_the_root(settings: Any) -> None:
    """Host-based: the app's own host, or the portal's host on another port, keep the project's URLconf."""
    from django.test import RequestFactory

    from sandbox.https import PortalHostMiddleware

    settings.SANDBOX_HTTPS_URL = "https://localhost:18143/"
    seen: dict[str, Any] = {}

    def record(request: Any) -> Any:
        seen[request.get_host()] = getattr(request, "urlconf", None)
        return None

    middleware = PortalHostMiddleware(record)
    factory = RequestFactory()
    for host, secure in [("localhost:18143", True), ("127.0.0.1:18143", True), ("localhost:18143", False)]:
        middleware(factory.get("/rest/user.current", HTTP_HOST=host, secure=secure))
        assert seen.pop(host) == ("sandbox.root_urls" if secure else None), (host, secure)
    for host in ("localhost:8000", "127.0.0.1:18144"):
        middleware(factory.get("/rest/user.current", HTTP_HOST=host, secure=True))
        assert seen.pop(host) is None, host


def test_sandbox_tls_makes_a_ca_and_a_certificate_once_and_keeps_them(tmp_path: Path, settings: Any) -> None:
    settings.SANDBOX_TLS_DIR = str(tmp_path / "tls")
    first, second = StringIO(), StringIO()

    call_command("sandbox_tls", stdout=first, stderr=StringIO())
    files = TlsFiles(tmp_path / "tls")
    ca_before = files.ca_cert.read_bytes()
    call_command("sandbox_tls", stdout=second, stderr=StringIO())

    assert first.getvalue().strip() == str(files.ca_cert) == second.getvalue().strip()
    assert files.ca_cert.read_bytes() == ca_before
    for secret in (files.ca_key, files.key):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    server = x509.load_pem_x509_certificate(files.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(ca_before)
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_server_certificate_near_expiry_is_remade_under_the_same_ca(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path)
    ensure_certificates(files)
    ca_before = files.ca_cert.read_bytes()
    files.cert.unlink()

    assert ensure_certificates(files) is True
    assert files.ca_cert.read_bytes() == ca_before
    assert ensure_certificates(files) is False


@pytest.mark.django_db(databases=["default", "sandbox"])
def test_the_webhook_command_prints_the_https_base_for_the_sdks(settings: Any) -> None:
    from sandbox.seed import seed_portal

    seed_portal()
    settings.SANDBOX_HTTPS_URL = "https://localhost:18143/"
    out = StringIO()

    call_command("sandbox_webhook", user=1, https=True, stdout=out, stderr=StringIO())

    code = Webhook.objects.get(user_id=1).code
    assert out.getvalue().strip() == f"https://localhost:18143/rest/1/{code}/"


def _database_url(config: dict[str, Any]) -> str:
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    user = config.get("USER") or ""
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{config.get('HOST') or 'localhost'}:{config.get('PORT') or 5432}/{config['NAME']}"
    )


@pytest.mark.django_db(transaction=True, databases=["default", "sandbox"])
def test_the_https_command_serves_the_portal_and_prints_a_webhook_base_that_works(tmp_path: Path) -> None:
    """What `make run` starts: `manage.py sandbox_https`, a process of its own on the test databases."""
    import os
    import subprocess
    import sys
    import time

    from django.conf import settings as django_settings
    from django.db import connections

    from sandbox.seed import seed_portal

    seed_portal()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connections["default"].settings_dict),
        "SANDBOX_DATABASE_URL": _database_url(connections["sandbox"].settings_dict),
        "SANDBOX_HTTPS_URL": f"https://localhost:{port}/",
        "SANDBOX_TLS_DIR": str(tmp_path / "tls"),
    }
    argv = [sys.executable, "manage.py", "sandbox_https", "--port", str(port)]
    server = subprocess.Popen(argv, cwd=django_settings.BASE_DIR, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline(), server.stdout.readline()]
        base = lines[1].rsplit(" ", 1)[1].strip()
        assert base.startswith(f"https://localhost:{port}/rest/1/"), lines
        ca = str(tmp_path / "tls" / "ca.pem")
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(base + "user.current", verify=ca, timeout=10)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the HTTPS server did not answer"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=20)

    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["ID"] == "1"
