"""Benchmark 5: read 10,000 deals, five ways, against the same sandbox in the same run.

- b24app `list_all` (keyset: ID-ordered pages chained through $result references inside batches),
  and its offset variant (all the start=N pages, 50 to a batch);
- the official Python SDK, b24pysdk: `.as_list()` and `.as_list_fast()`;
- a naive loop, one request per page: start=0, 50, 100, ...

b24pysdk only speaks https://<domain>/rest/ (see bench/tls_proxy.py), so every client is measured
through the same loopback TLS front; b24app and the naive loop also straight over http, which
shows what the front itself costs. Requests are counted in the portal's request log. The portal's
limits are off here; "at 2 req/s" adds what its 2 requests/s with a burst of 50 would cost on top.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import requests

from bench import report
from bench.portal import calls_since, log_mark
from bench.stack import ROOT, Run, free_port
from devtools.portal import sandbox_tokens

NAME = "bulk_read"
COUNT = 10_000
SOURCE = "BENCH"
SELECT = ["ID", "TITLE", "STAGE_ID", "OPPORTUNITY", "CURRENCY_ID"]
FILTER = {"SOURCE_ID": SOURCE}
MAX_PAGES = 1_000  # the naive loop's bound


def deals_create(count: int) -> None:
    """`count` deals straight into the sandbox's database (read only over HTTP afterwards)."""
    from django.utils import timezone

    from sandbox.models import Deal

    missing = count - Deal.objects.filter(source_id=SOURCE).count()
    now = timezone.now()
    stages = ["NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE"]
    Deal.objects.bulk_create(
        (
            Deal(
                title=f"Bulk deal {i + 1}",
                stage_id=stages[i % len(stages)],
                opportunity=Decimal(100 + i % 900),
                currency_id="USD",
                source_id=SOURCE,
                assigned_by_id=1 + i % 4,
                date_create=now - timedelta(minutes=i),
                date_modify=now - timedelta(minutes=i),
            )
            for i in range(max(0, missing))
        ),
        batch_size=1000,
    )


def expected_ids() -> set[int]:
    from sandbox.models import Deal

    return set(Deal.objects.filter(source_id=SOURCE).values_list("id", flat=True))


def webhook(user_id: int = 1) -> str:
    from sandbox.models import Webhook

    hook = Webhook.objects.create(user_id=user_id, code=secrets.token_hex(8), scope="crm,user,user_brief")
    return f"{user_id}/{hook.code}"


@contextmanager
def tls_front(ctx: Run) -> Iterator[str]:
    """The TLS front running; yields its host ("localhost:P"), trusted by requests meanwhile."""
    from sandbox.https import TlsFiles, ensure_certificates

    files = TlsFiles(ctx.config.root / "tls")
    ensure_certificates(files)
    cert, key = files.cert, files.key
    port = free_port()
    argv = [sys.executable, "-m", "bench.tls_proxy", "--port", str(port), "--upstream", ctx.config.sandbox_url]
    with (ctx.config.root / "tls_proxy.log").open("ab") as log:
        process = subprocess.Popen(
            [*argv, "--cert", str(cert), "--key", str(key)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(files.ca_cert)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"https://localhost:{port}/ready", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the TLS front did not start") from None
                time.sleep(0.1)
        yield f"localhost:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if previous is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous


# --- the clients ---------------------------------------------------------------------------------------


def b24app_list(base: str, access: str, *, keyset: bool) -> list[Any]:
    from b24app.client import B24Client
    from b24app.oauth import OneOffTokens

    client = B24Client(OneOffTokens(access, base + "rest/", "bench-bulk"))
    return client.list_all("crm.deal.list", {"select": SELECT, "filter": FILTER}, keyset=keyset)


def naive_list(base: str, access: str) -> list[Any]:
    items: list[Any] = []
    with requests.Session() as session:
        start: int | None = 0
        for _ in range(MAX_PAGES):
            body = {"select": SELECT, "filter": FILTER, "start": start, "auth": access}
            answer = session.post(base + "rest/crm.deal.list.json", json=body, timeout=60).json()
            items.extend(answer["result"])
            start = answer.get("next")
            if start is None:
                break
    return items


def sdk_list(domain: str, hook: str, *, fast: bool) -> list[Any]:
    from b24pysdk import BitrixWebhook, Client

    client = Client(BitrixWebhook(domain=domain, webhook_token=hook))
    request = client.crm.deal.list(select=SELECT, filter=FILTER)
    return list((request.as_list_fast() if fast else request.as_list()).result)


# --- the run --------------------------------------------------------------------------------------------


def _measure(label: str, via: str, read: Callable[[], list[Any]], expected: set[int]) -> dict[str, Any]:
    mark = log_mark()
    started = time.perf_counter()
    try:
        items = read()
        error = ""
    except Exception as exc:  # a client that cannot do it is a result, not a crash of the suite
        items, error = [], f"{type(exc).__name__}: {str(exc)[:200]}"
    seconds = time.perf_counter() - started
    calls = calls_since(mark)
    ids = [int(item["ID"]) for item in items if isinstance(item, dict) and "ID" in item]
    return {
        "client": label,
        "via": via,
        "requests": len(calls),
        "seconds": seconds,
        "items": len(items),
        "complete": set(ids) == expected and len(ids) == len(expected),
        "seconds_at_portal_limits": seconds + max(0, len(calls) - 50) / 2,
        "error": error,
    }


def run(ctx: Run) -> dict[str, Any]:
    count = 1_000 if ctx.quick else COUNT
    deals_create(count)
    expected = expected_ids()
    access, _ = sandbox_tokens(1)
    hook = webhook(1)
    direct = ctx.config.sandbox_url
    rows: list[dict[str, Any]] = []
    with tls_front(ctx) as domain:
        front = f"https://{domain}/"
        plan: list[tuple[str, str, Callable[[], list[Any]]]] = [
            ("b24app list_all (keyset)", "http", lambda: b24app_list(direct, access, keyset=True)),
            ("b24app list_all (keyset)", "TLS front", lambda: b24app_list(front, access, keyset=True)),
            (
                "b24app list_all (offset pages in batches)",
                "TLS front",
                lambda: b24app_list(front, access, keyset=False),
            ),
            ("b24pysdk as_list()", "TLS front", lambda: sdk_list(domain, hook, fast=False)),
            ("b24pysdk as_list_fast()", "TLS front", lambda: sdk_list(domain, hook, fast=True)),
            ("naive loop, start=0,50,100,…", "TLS front", lambda: naive_list(front, access)),
            ("naive loop, start=0,50,100,…", "http", lambda: naive_list(direct, access)),
        ]
        for label, via, read in plan:
            rows.append(_measure(label, via, read, expected))
    markdown = report.table(
        f"Bulk read: {len(expected):,} deals, limits off (same sandbox, same run)",
        ["client", "via", "requests", "seconds", "deals read", "all, once", "seconds at 2 req/s, burst 50", "error"],
        [
            [
                r["client"],
                r["via"],
                r["requests"],
                r["seconds"],
                r["items"],
                r["complete"],
                r["seconds_at_portal_limits"],
                r["error"],
            ]
            for r in rows
        ],
    )
    print(markdown)
    data = {"deals": len(expected), "select": SELECT, "clients": rows}
    report.save(NAME, data, markdown)
    return data
