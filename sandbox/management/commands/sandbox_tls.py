"""`manage.py sandbox_tls`: make the local CA and the sandbox's HTTPS certificate (run by `make setup`)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from sandbox.https import ensure_certificates, tls_files


class Command(BaseCommand):
    help = (
        "Make a local certificate authority and a certificate for localhost and 127.0.0.1 signed "
        "by it, in SANDBOX_TLS_DIR, unless valid ones are there. Clients trust the CA file printed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        files = tls_files()
        made = ensure_certificates(files)
        self.stderr.write(("Made" if made else "Kept") + f" the sandbox's local CA and certificate in {files.folder}")
        self.stdout.write(str(files.ca_cert))
