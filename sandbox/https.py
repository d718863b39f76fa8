"""The sandbox served the way a portal is: https://<host>/rest/…, with a certificate made locally.

Clients written for Bitrix24 (b24pysdk's `BitrixWebhook(domain=…)`, b24jssdk's
`B24Hook.fromWebhookUrl`, fast_bitrix24) build `https://<domain>/rest/<method>`: HTTPS, REST at
the root of the host. So the sandbox also listens on a port of its own, over TLS, and requests whose
Host is that address are routed to `sandbox.root_urls` (the portal at the root) instead of the
project's URLconf, where the portal lives under /sandbox/. The plain-HTTP address keeps working.

The certificate is signed by a local certificate authority made at set-up (`manage.py sandbox_tls`,
run by `make setup`); clients trust the CA's file, never a disabled verification.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import re
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.http import HttpRequest, HttpResponse

CA_NAME = "Deal Desk sandbox local CA"
SERVER_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1", "::1")
CA_DAYS = 3650
SERVER_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)
HANDSHAKE_SECONDS = 30
# cryptography is imported inside the certificate functions: every server process loads this
# module for its middleware, and only set-up makes certificates.


@dataclass(frozen=True)
class TlsFiles:
    """The files of the local CA and the server certificate it signed, in one folder."""

    folder: Path

    @property
    def ca_cert(self) -> Path:
        """What a client trusts: REQUESTS_CA_BUNDLE, SSL_CERT_FILE, NODE_EXTRA_CA_CERTS."""
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def cert(self) -> Path:
        return self.folder / "server.pem"

    @property
    def key(self) -> Path:
        return self.folder / "server-key.pem"


def tls_files() -> TlsFiles:
    return TlsFiles(Path(settings.SANDBOX_TLS_DIR))


def ensure_certificates(files: TlsFiles) -> bool:
    """Make the CA and the server certificate unless valid ones exist; True when anything was made.

    The CA is kept across runs (a client told to trust it keeps working); the server certificate
    is remade when it is missing or close to expiry.
    """
    files.folder.mkdir(parents=True, exist_ok=True)
    made = False
    if not (files.ca_cert.exists() and files.ca_key.exists() and _valid(files.ca_cert)):
        _make_ca(files)
        made = True
    if made or not (files.cert.exists() and files.key.exists() and _valid(files.cert)):
        _make_server_cert(files)
        made = True
    return made


def _valid(path: Path) -> bool:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return bool(cert.not_valid_after_utc - RENEW_BEFORE > datetime.datetime.now(datetime.UTC))


def _private_key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _write_secret(path: Path, content: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(content)


def _make_ca(files: TlsFiles) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_secret(files.ca_key, _private_key_pem(key))
    files.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _make_server_cert(files: TlsFiles) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAMES[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        # Python 3.13's default context verifies strictly (VERIFY_X509_STRICT): the leaf must name
        # its issuer's key.
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    _write_secret(files.key, _private_key_pem(key))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _key_usage(*, cert_sign: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def server_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    context.set_alpn_protocols(["http/1.1"])
    return context


class _HttpsRequestHandler(WSGIRequestHandler):
    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        environ["HTTPS"] = "on"  # wsgiref derives wsgi.url_scheme from it: request.is_secure()
        return environ


class HttpsServer(ThreadedWSGIServer):
    """Django's threaded development server with TLS, one handshake per connection thread.

    Each connection is handled (and its TLS handshake done) in its own thread, so a slow or
    refusing client never holds up the others; each thread closes its database connections when
    done, like Django's own test server.
    """

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext) -> None:
        ipv6 = ":" in address[0]
        super().__init__(address, _HttpsRequestHandler, ipv6=ipv6, allow_reuse_address=True)
        self.ssl_context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_SECONDS)  # a client that never speaks TLS does not keep a thread
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that does not trust the CA, or a port scan: nothing to answer
        tls.settimeout(None)
        try:
            super().finish_request(tls, client_address)
        finally:
            with contextlib.suppress(OSError):  # the client may have gone already
                tls.shutdown(socket.SHUT_RDWR)
            tls.close()


def make_server(host: str, port: int, files: TlsFiles, application: Any) -> HttpsServer:
    server = HttpsServer((host, port), server_context(files))
    server.set_app(application)
    return server


def portal_hosts() -> frozenset[str]:
    """The host[:port] values that name the portal's HTTPS address.

    The configured one, and on its port the loopback names its certificate is made for
    (https://127.0.0.1:8443/ is the same portal as https://localhost:8443/).
    """
    url: str = settings.SANDBOX_HTTPS_URL
    if not url:
        return frozenset()
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    names = {parts.netloc.lower()} | {f"{name}{port}" for name in SERVER_NAMES}
    names |= {f"[{ip}]{port}" if ":" in ip else f"{ip}{port}" for ip in SERVER_IPS}
    return frozenset(names)


class PortalHostMiddleware:
    """Requests to the sandbox's HTTPS address see the portal at the root of the host.

    Host-based, as a portal is a host of its own: only that address is rerouted, and only over
    TLS, so the plain-HTTP server (and the app's own pages) keep the project's URLconf.

    On the portal's addresses (this one, and /sandbox/ on the plain-HTTP one) repeated slashes in
    the path are merged, as nginx in front of a portal does by default (`merge_slashes on`):
    b24jssdk's B24OAuth asks for `<client_endpoint>/<method>`, i.e. /rest//<method>.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        at_root = request.is_secure() and request.get_host().lower() in portal_hosts()
        if at_root:
            request.urlconf = "sandbox.root_urls"
        if "//" in request.path_info and (at_root or request.path_info.startswith(_plain_prefix())):
            request.path_info = _REPEATED_SLASHES.sub("/", request.path_info)
            request.path = _REPEATED_SLASHES.sub("/", request.path)
        return self.get_response(request)


_REPEATED_SLASHES = re.compile(r"/{2,}")


def _plain_prefix() -> str:
    """The portal's path on the plain-HTTP address: "/sandbox/"."""
    return urlsplit(settings.SANDBOX_PORTAL_URL).path or "/sandbox/"
