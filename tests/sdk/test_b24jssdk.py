"""The official JavaScript SDK, @bitrix24/b24jssdk, run by Node against the sandbox's HTTPS webhook.

`B24Hook.fromWebhookUrl` accepts only https://<domain>/rest/<user>/<code>/ and the SDK uses Node's
TLS, so the one setting that makes it trust the local CA is NODE_EXTRA_CA_CERTS. The scenarios
live in tests/sdk/js/scenarios.mjs; the SDK's exact version is pinned by its package-lock.json and
installed with `npm ci` the first time (the registry must be reachable then).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.models import AccessToken, Deal, DealContact, RequestLog, User
from sandbox.tokens import issue_tokens
from tests.conftest import HttpsPortal
from tests.sdk.conftest import LAYOUT

JS_DIR = Path(__file__).parent / "js"
SDK_PACKAGE = JS_DIR / "node_modules" / "@bitrix24" / "b24jssdk" / "package.json"


@pytest.fixture(scope="session")
def node() -> str:
    """Node with the locked SDK installed (npm ci on first use)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the b24jssdk suite needs node and npm (CI has them)")
    if not SDK_PACKAGE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install @bitrix24/b24jssdk from tests/sdk/js/package-lock.json")
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, f"npm ci failed in {JS_DIR}:\n{done.stderr[-2000:]}"
    return node


@pytest.fixture
def js(node: str, sandbox_https: HttpsPortal) -> Callable[..., Any]:
    """Run one scenario of scenarios.mjs with the SDK on a webhook of user 1; its JSON answer."""
    hook = sandbox_https.webhook(1)
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": sandbox_https.ca_file}

    def run(scenario: str, arg: str = "") -> Any:
        argv = [node, "scenarios.mjs", scenario, hook] + ([arg] if arg else [])
        done = subprocess.run(argv, cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"{scenario}: {done.stderr[-3000:]}"
        return json.loads(done.stdout)

    return run


def test_the_sdk_refuses_the_sandbox_without_the_local_ca(node: str, sandbox_https: HttpsPortal) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NODE_EXTRA_CA_CERTS"}
    argv = [node, "scenarios.mjs", "crud", sandbox_https.webhook(1)]

    done = subprocess.run(argv, cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=300, check=False)

    assert done.returncode != 0
    assert not Deal.objects.filter(title="From b24jssdk").exists()


def test_an_app_token_the_portal_has_expired_is_refreshed_and_the_call_retried(
    js: Callable[..., Any], sandbox_https: HttpsPortal
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    app = sandbox_https.portal.install_app()
    access, refresh = issue_tokens(app=app, user=User.objects.get(pk=3))
    AccessToken.objects.filter(pk=access.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    given = {
        "userId": 3,
        "memberId": "sandbox",
        "accessToken": access.token,
        "refreshToken": refresh.token,
        "expires": int(timezone.now().timestamp()) + 3000,  # the SDK believes it good: the portal says no
        "clientId": app.client_id,
        "clientSecret": app.client_secret,
    }

    answer = js("oauth", json.dumps(given))

    assert (answer["ok"], answer["id"]) == (True, "3")
    assert len(answer["renewed"]) == 1
    assert AccessToken.objects.get(token=answer["renewed"][0]).user_id == 3
    assert RequestLog.objects.filter(http_status=401, error="expired_token").count() == 1


def test_a_deal_is_created_read_updated_and_deleted(js: Callable[..., Any]) -> None:
    answer = js("crud")

    deal_id = answer["id"]
    assert isinstance(deal_id, int)
    assert (answer["read"]["TITLE"], answer["read"]["OPPORTUNITY"]) == ("From b24jssdk", "720.25")
    assert answer["updated"] is True
    assert answer["reread"]["TITLE"] == Deal.objects.get(pk=deal_id).title == "Renamed by b24jssdk"
    assert js("delete", str(deal_id)) == {"deleted": True}
    assert not Deal.objects.filter(pk=deal_id).exists()


def test_product_rows_are_set_and_read_back(js: Callable[..., Any]) -> None:
    deal_id = Deal.objects.order_by("id").values_list("id", flat=True)[2]

    answer = js("rows", str(deal_id))

    assert answer["set"] is True
    assert [(r["PRODUCT_NAME"], Decimal(str(r["PRICE"])), Decimal(str(r["QUANTITY"]))) for r in answer["rows"]] == [
        ("Licence & support", Decimal("100"), Decimal("3")),
        ("Setup [on site]", Decimal("40.5"), Decimal("2")),
    ]
    assert answer["deal"]["OPPORTUNITY"] == "381.00"
    assert Deal.objects.get(pk=deal_id).opportunity == Decimal("381.00")


def test_the_universal_product_row_family_works_on_the_same_rows(js: Callable[..., Any]) -> None:
    deal_id = Deal.objects.order_by("id").values_list("id", flat=True)[4]

    answer = js("itemRows", str(deal_id))

    assert answer["added"]["productRow"]["ownerId"] == deal_id
    assert [(r["productName"], r["price"], r["quantity"]) for r in answer["listed"]["productRows"]] == [
        ("Licence", 100, 2),
        ("Setup", 50, 1),
    ]
    assert [r["PRODUCT_NAME"] for r in answer["legacy"]] == ["Licence", "Setup"]


def test_deal_contacts_are_bound(js: Callable[..., Any]) -> None:
    deal_id = Deal.objects.order_by("id").values_list("id", flat=True)[3]

    answer = js("contacts", str(deal_id))

    assert answer["set"] is True
    assert [(c["CONTACT_ID"], c["IS_PRIMARY"]) for c in answer["bound"]] == [(4, "N"), (6, "Y")]
    assert list(DealContact.objects.filter(deal_id=deal_id).order_by("sort").values_list("contact_id", flat=True)) == [
        4,
        6,
    ]


def test_a_card_layout_set_through_the_item_family_reads_back_through_both(js: Callable[..., Any]) -> None:
    answer = js("layout", json.dumps(LAYOUT))

    assert answer["set"] is True
    assert answer["asItem"] == answer["asDeal"] == LAYOUT


def test_batches_in_array_and_object_form(js: Callable[..., Any]) -> None:
    answer = js("batch")

    assert answer["array"] == {"ok": True, "ids": ["1", "2"]}
    assert answer["object"]["ok"] is True
    assert answer["object"]["keys"] == ["currencies", "deal"]
    assert answer["object"]["dealId"] == "1"
    assert {"USD", "EUR"} <= set(answer["object"]["currencies"])


def test_batch_by_chunk_runs_more_than_fifty_commands_in_order(js: Callable[..., Any]) -> None:
    ids = list(Deal.objects.order_by("-id").values_list("id", flat=True)[:120])

    answer = js("chunk", ",".join(map(str, ids)))

    assert answer["ok"] is True, answer["errors"]
    assert answer["ids"] == ids


def test_the_list_helpers_read_a_few_hundred_deals_exactly_once(
    js: Callable[..., Any], bulk_deals: Callable[[int, str], set[int]]
) -> None:
    expected = bulk_deals(337, "SDK_JS")

    answer = js("lists", "SDK_JS")

    for helper in ("callList", "fetchList", "callListMethod"):
        ids = answer[helper]["ids"]
        assert len(ids) == 337, helper
        assert set(ids) == expected, helper
    assert answer["fetchList"]["pages"] == 7  # 50 a page, the fast algorithm's last page short


def test_the_list_helpers_wait_out_a_full_bucket_and_still_read_every_deal(
    js: Callable[..., Any], bulk_deals: Callable[[int, str], set[int]], full_bucket: Callable[[], None]
) -> None:
    """b24jssdk backs off and retries QUERY_LIMIT_EXCEEDED (503); the bucket drains 2/s."""
    expected = bulk_deals(120, "SDK_JS_LIMIT")
    full_bucket()

    answer = js("lists", "SDK_JS_LIMIT")

    for helper in ("callList", "fetchList", "callListMethod"):
        assert sorted(answer[helper]["ids"]) == sorted(expected), helper
    assert RequestLog.objects.filter(http_status=503, error="QUERY_LIMIT_EXCEEDED").exists()


def test_the_legacy_empty_error_code_reaches_the_sdk_as_the_portal_sends_it(
    js: Callable[..., Any], sandbox_https: HttpsPortal
) -> None:
    """The sandbox answers legacy CRM errors with `error: ""` as Bitrix24 does; b24jssdk 2.2.0 reads
    an empty code as no error (a batch command "succeeds" with no data) and a single call's 400
    loses its description (docs/sandbox.md, "What clients get wrong"). Recorded, not imitated away.
    """
    missing = Deal.objects.order_by("-id").values_list("id", flat=True)[0] + 1000

    answer = js("emptyErrorCode", str(missing))
    wire = requests.post(
        sandbox_https.webhook(1) + "batch",
        json={"halt": 0, "cmd": ["crm.deal.get?id=1", f"crm.deal.get?id={missing}"]},
        verify=sandbox_https.ca_file,
        timeout=30,
    ).json()["result"]

    assert wire["result_error"] == {"1": {"error": "", "error_description": "Not found"}}
    assert answer["batchOk"] is True
    assert answer["commands"][0] == {"ok": True, "errors": []}
    assert answer["single"]["threw"] is True
    assert answer["single"]["status"] == 400
