"""A second process of the app for the cross-process refresh test (tests/b24app/test_tokens.py).

Run as `python -m tests.b24app.refresh_worker <portal pk> <threads>` with the test database in
DATABASE_URL. It loads the portal (with the token the test has just expired on the portal),
prints "ready", waits for a line on stdin, then makes one REST call per thread and prints a JSON
list of what each call got.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b24app.settings")
    import django

    django.setup()
    from django.db import connections

    from b24app.client import B24Client
    from b24app.models import Portal
    from b24app.oauth import PortalTokens

    portal_pk, count = int(sys.argv[1]), int(sys.argv[2])
    portals = [Portal.objects.get(pk=portal_pk) for _ in range(count)]
    connections.close_all()
    results: list[Any] = [None] * count
    barrier = threading.Barrier(count)

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            user = B24Client(PortalTokens(portals[index])).result("user.current")
            results[index] = {"ok": True, "user": str(user.get("ID"))}
        except Exception as exc:
            results[index] = {"ok": False, "error": repr(exc)}
        finally:
            connections.close_all()

    print("ready", flush=True)
    sys.stdin.readline()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
