"""`manage.py sandbox_https`: serve the sandbox portal over HTTPS, REST at /rest/ (run by `make run`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.wsgi import get_wsgi_application

from sandbox.https import ensure_certificates, make_server, tls_files
from sandbox.management.commands.sandbox_webhook import webhook_for
from sandbox.models import User


class Command(BaseCommand):
    help = (
        "Serve the sandbox portal the way Bitrix24 serves a portal: HTTPS with the local CA's "
        "certificate (see sandbox_tls), REST at https://<host>/rest/. Listens on the port of "
        "SANDBOX_HTTPS_URL unless --port is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help='Address to listen on (default "127.0.0.1").')
        parser.add_argument("--port", type=int, help="Port (default: the port of SANDBOX_HTTPS_URL).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.B24_SANDBOX or not settings.SANDBOX_HTTPS_URL:
            raise CommandError("The sandbox's HTTPS address is off (B24_SANDBOX and SANDBOX_HTTPS_URL must be set).")
        port: int = options["port"] or urlsplit(settings.SANDBOX_HTTPS_URL).port or 443
        files = tls_files()
        ensure_certificates(files)
        server = make_server(options["host"], port, files, get_wsgi_application())
        base = settings.SANDBOX_HTTPS_URL.rstrip("/") + "/"
        self.stdout.write(f"  Portal as Bitrix24 serves one:   {base}  (trust {files.ca_cert})")
        admin = User.objects.using("sandbox").filter(pk=1).first()
        if admin is not None:
            hook, _ = webhook_for(admin, scope=None, using="sandbox")
            self.stdout.write(f"  HTTPS webhook base for the SDKs: {base}rest/{admin.pk}/{hook.code}/")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
