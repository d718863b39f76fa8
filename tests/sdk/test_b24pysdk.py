"""The official Python SDK, b24pysdk, against the sandbox by its domain alone.

b24pysdk builds https://<domain>/rest/<method> (api/callers/call_method.py) with plain
`requests.post`, so the one setting that makes it trust the sandbox's local CA is requests' own
REQUESTS_CA_BUNDLE.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from b24pysdk import BitrixApp, BitrixToken, BitrixWebhook, Client

from sandbox.models import App, Deal, DealContact, RequestLog
from tests.conftest import HttpsPortal
from tests.sdk.conftest import LAYOUT


@pytest.fixture
def client(sandbox_https: HttpsPortal, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sandbox_https.ca_file)
    token = sandbox_https.webhook(1).split("/rest/", 1)[1]  # "1/<code>/"
    return Client(BitrixWebhook(domain=sandbox_https.domain, webhook_token=token))


def test_a_webhook_client_creates_reads_updates_and_deletes_a_deal(client: Client) -> None:
    deal_id = client.crm.deal.add({"TITLE": "From b24pysdk", "OPPORTUNITY": "1250.50", "CURRENCY_ID": "EUR"}).result

    assert isinstance(deal_id, int)
    read = client.crm.deal.get(deal_id).result
    assert (read["TITLE"], read["OPPORTUNITY"], read["CURRENCY_ID"]) == ("From b24pysdk", "1250.50", "EUR")
    assert client.crm.deal.update(deal_id, {"TITLE": "Renamed by b24pysdk"}).result is True
    assert Deal.objects.get(pk=deal_id).title == "Renamed by b24pysdk"
    assert client.crm.deal.delete(deal_id).result is True
    assert not Deal.objects.filter(pk=deal_id).exists()


def test_an_oauth_token_client_calls_rest_at_the_root(
    sandbox_https: HttpsPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sandbox_https.ca_file)
    access = sandbox_https.portal.token(3)
    app = App.objects.get()
    # An app-bound token (no app means a webhook to b24pysdk): auth goes in the body, not the path.
    bitrix_app = BitrixApp(client_id=app.client_id, client_secret=app.client_secret)
    token = BitrixToken(domain=sandbox_https.domain, auth_token=access, bitrix_app=bitrix_app)

    user = Client(token).user.current().result

    assert user["ID"] == "3"


def test_product_rows_are_set_and_read_back_with_their_prices(client: Client) -> None:
    deal_id = client.crm.deal.add({"TITLE": "Rows from b24pysdk", "CURRENCY_ID": "USD"}).result
    rows = [
        {"PRODUCT_NAME": "Licence", "PRICE": "100.00", "QUANTITY": 3},
        {"PRODUCT_NAME": "Support", "PRICE": "40.50", "QUANTITY": 2},
    ]

    assert client.crm.deal.productrows.set(deal_id, rows).result is True
    read = client.crm.deal.productrows.get(deal_id).result

    assert [(r["PRODUCT_NAME"], Decimal(str(r["PRICE"])), Decimal(str(r["QUANTITY"]))) for r in read] == [
        ("Licence", Decimal("100"), Decimal("3")),
        ("Support", Decimal("40.5"), Decimal("2")),
    ]
    assert Decimal(client.crm.deal.get(deal_id).result["OPPORTUNITY"]) == Decimal("381.00")


def test_the_universal_product_row_family_reads_what_the_deal_family_wrote(client: Client) -> None:
    deal_id = client.crm.deal.add({"TITLE": "Rows both ways"}).result
    rows = [{"PRODUCT_NAME": "Licence", "PRICE": "100.00", "QUANTITY": 2}]
    assert client.crm.deal.productrows.set(deal_id, rows).result is True

    listed = client.crm.item.productrow.list(filter={"=ownerType": "D", "=ownerId": deal_id}).result
    added = client.crm.item.productrow.add(
        {"ownerId": deal_id, "ownerType": "D", "productName": "Setup", "price": 50, "quantity": 1}
    ).result

    assert [(r["productName"], r["price"], r["quantity"]) for r in listed["productRows"]] == [("Licence", 100, 2)]
    assert added["productRow"]["ownerId"] == deal_id
    assert [r["PRODUCT_NAME"] for r in client.crm.deal.productrows.get(deal_id).result] == ["Licence", "Setup"]


def test_deal_contacts_are_bound_read_and_cleared(client: Client) -> None:
    deal_id = client.crm.deal.add({"TITLE": "Contacts from b24pysdk"}).result

    assert client.crm.deal.contact.items.set(deal_id, [{"CONTACT_ID": 3}, {"CONTACT_ID": 5, "IS_PRIMARY": "Y"}]).result
    bound = client.crm.deal.contact.items.get(deal_id).result
    assert [(c["CONTACT_ID"], c["IS_PRIMARY"]) for c in bound] == [(3, "N"), (5, "Y")]
    assert client.crm.deal.contact.items.delete(deal_id).result is True
    assert not DealContact.objects.filter(deal_id=deal_id).exists()


def test_card_configuration_set_through_the_item_family_reads_back_through_the_deal_family(client: Client) -> None:
    extras = {"dealCategoryId": 1}

    assert client.crm.item.details.configuration.set(2, LAYOUT, scope="C", extras=extras).result
    through_deal = client.crm.deal.details.configuration.get(scope="C", extras=extras).result
    through_item = client.crm.item.details.configuration.get(entity_type_id=2, scope="C", extras=extras).result

    assert through_deal == through_item == LAYOUT
    assert client.crm.deal.details.configuration.reset(scope="C", extras=extras).result is True
    assert client.crm.deal.details.configuration.get(scope="C", extras=extras).result != LAYOUT


def test_a_batch_in_dict_form_answers_by_key(client: Client) -> None:
    answer = client.call_batch({"deal": client.crm.deal.get(1), "currencies": client.crm.currency.list()}).result

    assert answer.result["deal"]["ID"] == "1"
    assert {c["CURRENCY"] for c in answer.result["currencies"]} >= {"USD", "EUR"}
    assert not answer.result_error


def test_a_batch_in_list_form_answers_a_list_as_php_does(client: Client) -> None:
    answer = client.call_batch([client.crm.deal.get(1), client.crm.deal.get(2)]).result

    assert isinstance(answer.result, list)
    assert [deal["ID"] for deal in answer.result] == ["1", "2"]


def test_a_batch_answer_carries_the_operating_time(client: Client) -> None:
    batch = client.call_batch({"deal": client.crm.deal.get(1)})

    assert batch.time.operating is not None


def test_call_batches_runs_more_than_fifty_commands_in_order(client: Client) -> None:
    ids = sorted(Deal.objects.values_list("id", flat=True))[:60]
    requests = {f"deal_{deal_id}": client.crm.deal.get(deal_id) for deal_id in ids}

    answer = client.call_batches(requests).result

    assert [int(answer.result[f"deal_{deal_id}"]["ID"]) for deal_id in ids] == ids


@pytest.mark.parametrize("helper", ["as_list", "as_list_fast"])
def test_the_list_helpers_read_a_few_hundred_deals_exactly_once(
    client: Client, bulk_deals: Callable[[int, str], set[int]], helper: str
) -> None:
    expected = bulk_deals(337, "SDK_PY")
    request = client.crm.deal.list(select=["ID", "TITLE"], filter={"SOURCE_ID": "SDK_PY"})

    items: list[Any] = list(getattr(request, helper)().result)

    ids = [int(item["ID"]) for item in items]
    assert len(ids) == len(expected) == 337
    assert set(ids) == expected


def test_as_list_waits_out_a_full_bucket_and_still_reads_every_deal(
    client: Client, bulk_deals: Callable[[int, str], set[int]], full_bucket: Callable[[], None]
) -> None:
    """b24pysdk retries HTTP 503 (QUERY_LIMIT_EXCEEDED) after a second; the bucket drains 2/s."""
    expected = bulk_deals(120, "SDK_PY_LIMIT")
    full_bucket()

    items = list(client.crm.deal.list(select=["ID"], filter={"SOURCE_ID": "SDK_PY_LIMIT"}).as_list().result)

    assert sorted(int(item["ID"]) for item in items) == sorted(expected)
    assert RequestLog.objects.filter(http_status=503, error="QUERY_LIMIT_EXCEEDED").exists()
