"""A TLS front for the sandbox portal, for clients that only speak https://<domain>/rest/.

The official Python SDK (b24pysdk) builds every URL as f"https://{domain}/rest/..." and offers no
setting for the scheme or a path prefix, while the sandbox answers http://localhost:B/sandbox/rest/.
This process listens on the loopback with a certificate signed by the sandbox's local CA
(sandbox/https.py; the harness trusts the CA through REQUESTS_CA_BUNDLE, requests' own setting)
and forwards /rest/... to the sandbox's gunicorn unchanged, so the SDK runs unmodified. Every
client in the bulk-read benchmark is also measured through it. (`manage.py sandbox_https` serves
the portal over HTTPS itself, but on Django's development server: the benchmark keeps gunicorn
behind this front so its figures stay comparable.)

    python -m bench.tls_proxy --port P --upstream http://localhost:B/sandbox/ --cert c.pem --key k.pem
"""

from __future__ import annotations

import argparse
import ssl
import threading

import requests

from bench.local_http import LocalHandler, serve

FORWARDED = ("Content-Type", "Accept", "User-Agent", "Authorization")
_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def handler(upstream: str) -> type[LocalHandler]:
    class Forward(LocalHandler):
        def _forward(self) -> None:
            body = self.read_body()
            if not self.path.startswith("/rest/"):
                self.answer(404, b"not found", "text/plain")
                return
            headers = {name: self.headers[name] for name in FORWARDED if self.headers.get(name)}
            try:
                answer = _session().request(
                    self.command,
                    upstream + self.path[1:],
                    data=body,
                    headers=headers,
                    timeout=120,
                    allow_redirects=False,
                )
            except requests.RequestException:
                self.answer(502, b"upstream unavailable", "text/plain")
                return
            self.answer(answer.status_code, answer.content, answer.headers.get("Content-Type", ""))

        do_GET = do_POST = _forward

    return Forward


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    serve(args.port, handler(args.upstream), context)


if __name__ == "__main__":
    main()
