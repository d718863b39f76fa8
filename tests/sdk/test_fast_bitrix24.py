"""fast_bitrix24 against the sandbox on its HTTPS address, by the webhook URL alone.

fast_bitrix24 speaks aiohttp, whose default SSL context is made once, when aiohttp is imported,
from OpenSSL's default paths: SSL_CERT_FILE set before the process starts is the one setting
(tested in a process of its own below). Inside this test process aiohttp may be imported
already, so the other tests hand the client a session trusting the CA (its `client=` parameter).
Every call but `call_batch` and `raw=True` goes through fast_bitrix24's own auto-batching, so the
sandbox's batch decoder sees this client's encoding of nested parameters.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from fast_bitrix24 import BitrixAsync

from sandbox.models import Deal, DealContact, RefreshToken, RequestLog, User
from sandbox.tokens import issue_tokens
from tests.conftest import HttpsPortal
from tests.sdk.conftest import LAYOUT


@pytest.fixture
def run(sandbox_https: HttpsPortal) -> Callable[[Callable[[BitrixAsync], Awaitable[Any]]], Any]:
    """Run `work(bitrix)` with a fast_bitrix24 client on the sandbox's HTTPS webhook."""
    hook = sandbox_https.webhook(1)

    def go(work: Callable[[BitrixAsync], Awaitable[Any]], *, url: str = hook, token_func: Any = None) -> Any:
        async def main() -> Any:
            context = ssl.create_default_context(cafile=sandbox_https.ca_file)
            connector = aiohttp.TCPConnector(ssl=context)
            # raise_for_status as fast_bitrix24's own session has it: its error handling relies on it.
            async with aiohttp.ClientSession(connector=connector, raise_for_status=True) as session:
                return await work(BitrixAsync(url, token_func=token_func, verbose=False, client=session))

        # A thread of its own: Playwright's sync API, used by the browser tests earlier in the
        # same session, leaves an event loop set on this thread, and asyncio.run refuses to nest.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, main()).result()

    return go


def test_ssl_cert_file_alone_lets_the_sync_client_read_every_deal(
    sandbox_https: HttpsPortal, bulk_deals: Callable[[int, str], set[int]]
) -> None:
    expected = bulk_deals(120, "SDK_FB_ENV")
    script = (
        "import sys\n"
        "from fast_bitrix24 import Bitrix\n"
        "deals = Bitrix(sys.argv[1], verbose=False).get_all("
        "'crm.deal.list', {'select': ['ID'], 'filter': {'SOURCE_ID': 'SDK_FB_ENV'}})\n"
        "print(' '.join(sorted(d['ID'] for d in deals)))\n"
    )
    env = {**os.environ, "SSL_CERT_FILE": sandbox_https.ca_file}

    done = subprocess.run(
        [sys.executable, "-c", script, sandbox_https.webhook(1)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert sorted(int(i) for i in done.stdout.split()) == sorted(expected)


def test_an_app_token_that_expired_is_renewed_through_token_func_and_the_call_retried(
    sandbox_https: HttpsPortal, run: Callable[..., Any]
) -> None:
    """OAuth mode: REST at https://<portal>/rest/ with `auth`; on 401 expired_token fast_bitrix24
    asks token_func for a new token, here a refresh grant on the portal's OAuth server."""
    from datetime import timedelta

    from django.utils import timezone

    app = sandbox_https.portal.install_app()
    access, refresh = issue_tokens(app=app, user=User.objects.get(pk=3))
    access.expires_at = timezone.now() - timedelta(seconds=1)
    access.save()
    stored = {"access": access.token, "refresh": refresh.token}
    secrets = {"client_id": str(app.client_id), "client_secret": str(app.client_secret)}
    grants: list[str] = []

    async def token_func() -> str:
        if not grants:  # the first ask: the token the app has stored
            grants.append("stored")
            return stored["access"]
        grants.append("refresh")
        context = ssl.create_default_context(cafile=sandbox_https.ca_file)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
            params = {"grant_type": "refresh_token", "refresh_token": stored["refresh"], **secrets}
            async with session.get(sandbox_https.url + "oauth/token/", params=params) as answer:
                body = await answer.json()
        stored.update(access=body["access_token"], refresh=body["refresh_token"])
        return str(body["access_token"])

    user = run(lambda b: b.call("user.current", {}, raw=True), url=sandbox_https.url + "rest/", token_func=token_func)

    assert user["result"]["ID"] == "3"
    assert grants == ["stored", "refresh"]
    assert RequestLog.objects.filter(http_status=401, error="expired_token").count() == 1
    assert RefreshToken.objects.get(token=refresh.token).used_at is not None


def test_a_deal_is_created_read_updated_and_deleted(run: Callable[..., Any]) -> None:
    async def work(b: BitrixAsync) -> tuple[Any, ...]:
        deal_id = await b.call("crm.deal.add", {"fields": {"TITLE": "From fast_bitrix24", "OPPORTUNITY": "99.90"}})
        (read,) = await b.call("crm.deal.get", [{"id": deal_id}])
        updated = await b.call("crm.deal.update", {"id": deal_id, "fields": {"TITLE": "Renamed by fast_bitrix24"}})
        return deal_id, read, updated

    deal_id, read, updated = run(work)

    assert (read["ID"], read["TITLE"], read["OPPORTUNITY"]) == (str(deal_id), "From fast_bitrix24", "99.90")
    assert updated is True
    assert Deal.objects.get(pk=deal_id).title == "Renamed by fast_bitrix24"
    assert run(lambda b: b.call("crm.deal.delete", {"id": deal_id})) is True
    assert not Deal.objects.filter(pk=deal_id).exists()


def test_product_rows_go_through_its_batches_and_come_back(run: Callable[..., Any]) -> None:
    deal_id = Deal.objects.order_by("id").values_list("id", flat=True)[49]
    rows = [
        {"PRODUCT_NAME": "Licence & support", "PRICE": "100.00", "QUANTITY": 3},
        {"PRODUCT_NAME": "Setup [on site]", "PRICE": "40.50", "QUANTITY": 2},
    ]

    async def work(b: BitrixAsync) -> Any:
        await b.call("crm.deal.productrows.set", {"id": deal_id, "rows": rows})
        return await b.call("crm.deal.productrows.get", [{"id": deal_id}])

    read = run(work)

    assert [(r["PRODUCT_NAME"], Decimal(str(r["PRICE"])), Decimal(str(r["QUANTITY"]))) for r in read] == [
        ("Licence & support", Decimal("100"), Decimal("3")),
        ("Setup [on site]", Decimal("40.5"), Decimal("2")),
    ]
    assert Deal.objects.get(pk=deal_id).opportunity == Decimal("381.00")


def test_universal_product_rows_are_added_in_its_batches_and_listed(run: Callable[..., Any]) -> None:
    async def work(b: BitrixAsync) -> Any:
        deal_id = await b.call("crm.deal.add", {"fields": {"TITLE": "Universal rows from fast_bitrix24"}})
        await b.call(
            "crm.item.productrow.add",
            [
                {"fields": {"ownerId": deal_id, "ownerType": "D", "productName": name, "price": price, "quantity": 1}}
                for name, price in (("Licence", 100), ("Setup", 50))
            ],
        )
        return await b.get_all("crm.item.productrow.list", {"filter": {"=ownerType": "D", "=ownerId": deal_id}})

    listed = run(work)

    assert sorted((r["productName"], r["price"]) for r in listed) == [("Licence", 100), ("Setup", 50)]


def test_deal_contacts_are_bound_and_cleared(run: Callable[..., Any]) -> None:
    deal_id = Deal.objects.order_by("id").values_list("id", flat=True)[0]
    items = [{"CONTACT_ID": 7}, {"CONTACT_ID": 8, "IS_PRIMARY": "Y"}]

    async def work(b: BitrixAsync) -> Any:
        await b.call("crm.deal.contact.items.set", {"id": deal_id, "items": items})
        return await b.call("crm.deal.contact.items.get", [{"id": deal_id}])

    bound = run(work)

    assert [(c["CONTACT_ID"], c["IS_PRIMARY"]) for c in bound] == [(7, "N"), (8, "Y")]
    assert run(lambda b: b.call("crm.deal.contact.items.delete", {"id": deal_id})) is True
    assert not DealContact.objects.filter(deal_id=deal_id).exists()


def test_a_card_layout_set_in_a_batch_reads_back_through_both_families(run: Callable[..., Any]) -> None:
    extras = {"dealCategoryId": 2}

    async def work(b: BitrixAsync) -> tuple[Any, Any, Any]:
        stored = await b.call(
            "crm.item.details.configuration.set", {"entityTypeId": 2, "scope": "C", "extras": extras, "data": LAYOUT}
        )
        as_item = await b.call(
            "crm.item.details.configuration.get", [{"entityTypeId": 2, "scope": "C", "extras": extras}]
        )
        as_deal = await b.call("crm.deal.details.configuration.get", [{"scope": "C", "extras": extras}])
        return stored, as_item, as_deal

    stored, as_item, as_deal = run(work)

    assert stored is True
    assert as_item == as_deal == LAYOUT


def test_a_raw_batch_in_dict_form_answers_by_key(run: Callable[..., Any]) -> None:
    batch = {"halt": 0, "cmd": {"deal": "crm.deal.get?id=1", "rows": "crm.deal.productrows.get?id=1"}}

    answer = run(lambda b: b.call_batch(batch))

    assert set(answer) == {"deal", "rows"}
    assert answer["deal"]["ID"] == "1"
    assert isinstance(answer["rows"], list)


def test_a_raw_batch_keyed_zero_and_one_answers_a_list_as_php_does(run: Callable[..., Any]) -> None:
    batch = {"halt": 0, "cmd": {"0": "crm.deal.get?id=1", "1": "crm.deal.get?id=2"}}

    answer = run(lambda b: b.call("batch", batch, raw=True))

    assert isinstance(answer["result"]["result"], list)
    assert [deal["ID"] for deal in answer["result"]["result"]] == ["1", "2"]


def test_a_batch_sent_as_a_json_list_answers_a_list(run: Callable[..., Any]) -> None:
    batch = {"halt": 0, "cmd": ["crm.deal.get?id=1", "crm.deal.get?id=2"]}

    answer = run(lambda b: b.call("batch", batch, raw=True))

    assert [deal["ID"] for deal in answer["result"]["result"]] == ["1", "2"]


def test_call_splits_many_items_into_batches_and_keeps_their_order(run: Callable[..., Any]) -> None:
    ids = list(Deal.objects.order_by("-id").values_list("id", flat=True)[:120])

    deals = run(lambda b: b.call("crm.deal.get", [{"id": deal_id} for deal_id in ids]))

    assert [int(deal["ID"]) for deal in deals] == ids


def test_get_all_reads_a_few_hundred_deals_exactly_once(
    run: Callable[..., Any], bulk_deals: Callable[[int, str], set[int]]
) -> None:
    expected = bulk_deals(337, "SDK_FB")

    deals = run(lambda b: b.get_all("crm.deal.list", {"select": ["ID", "TITLE"], "filter": {"SOURCE_ID": "SDK_FB"}}))

    ids = [int(deal["ID"]) for deal in deals]
    assert len(ids) == len(expected) == 337
    assert set(ids) == expected


def test_get_all_waits_out_a_full_bucket_and_still_reads_every_deal(
    run: Callable[..., Any], bulk_deals: Callable[[int, str], set[int]], full_bucket: Callable[[], None]
) -> None:
    """fast_bitrix24 retries 5xx answers (503 QUERY_LIMIT_EXCEEDED) with growing pauses."""
    expected = bulk_deals(120, "SDK_FB_LIMIT")
    full_bucket()

    deals = run(lambda b: b.get_all("crm.deal.list", {"select": ["ID"], "filter": {"SOURCE_ID": "SDK_FB_LIMIT"}}))

    assert sorted(int(deal["ID"]) for deal in deals) == sorted(expected)
    assert RequestLog.objects.filter(http_status=503, error="QUERY_LIMIT_EXCEEDED").exists()
