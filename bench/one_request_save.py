"""The guard of the one-request save (widgets.products.batch.save_commands), command by command.

The tab's save is this one batch (halt=1): the deal and its rows just before the write, a guard
that lists the deal only while DATE_MODIFY is the one the tab read when it opened, and
`crm.deal.productrows.set` taking its id from `$result[guard][0][ID]`; then the read-back. Three
cases, each counted in the portal's request log (another user changes the deal's COMMENTS):

- nothing changed since the tab opened: written, in one request.
- another user changed the deal a second or more later: the write is refused (the reference is
  `[]`, PHP (int) 0), nothing written. The service then sees the rows unchanged in `before` and
  sends the write again (the `rows_save_other_field` action: 2 requests).
- another user changed it within the same second as the tab's read: DATE_MODIFY has whole seconds,
  so the guard passes and the rows are written; nothing is lost, because the rows write does not
  touch COMMENTS, and a change of the rows themselves shows in `before` (the service then puts
  theirs back: the `rows_save_same_second` action).
"""

from __future__ import annotations

import time
from typing import Any

from bench.portal import calls_since, deal_with_rows, log_mark
from devtools.portal import sandbox_tokens

ROW_KEYS = (
    *("PRODUCT_ID", "PRODUCT_NAME", "PRICE", "QUANTITY", "DISCOUNT_TYPE_ID", "DISCOUNT_RATE"),
    *("TAX_RATE", "TAX_INCLUDED", "MEASURE_CODE", "MEASURE_NAME"),
)
USER = 3
COLLEAGUE = 1


def _client(user: int) -> Any:
    from b24app.client import B24Client
    from b24app.models import Portal
    from b24app.oauth import OneOffTokens

    portal = Portal.objects.get()
    access, _ = sandbox_tokens(user)
    return B24Client(OneOffTokens(access, portal.client_endpoint, f"bench-{user}"), max_retries=0)


def _stored_prices(deal_id: int) -> list[str]:
    from sandbox.models import ProductRow

    return [str(row.price) for row in ProductRow.objects.filter(deal_id=deal_id).order_by("id")]


def _case(client: Any, colleague: Any, *, deal_id: int, price: str, change: str) -> dict[str, Any]:
    from widgets.products.batch import deal_commands, save_commands

    opened = client.batch(deal_commands(deal_id))  # what the tab read when it opened: not counted
    date_modify = str(opened.get("deal")["DATE_MODIFY"])
    rows = [{key: row.get(key) for key in ROW_KEYS} for row in opened.get("rows")]
    rows[0]["PRICE"] = price
    if change == "later":
        time.sleep(1.1)
    if change != "none":
        colleague.call("crm.deal.update", {"id": deal_id, "fields": {"COMMENTS": f"edited {time.time()}"}})
    before = _stored_prices(deal_id)
    theirs = _comments(deal_id)
    mark = log_mark()
    outcome = client.batch(save_commands(deal_id=deal_id, date_modify=date_modify, rows=rows), halt=True)
    requests = len(calls_since(mark))
    written = "set" not in outcome.errors and "set" in outcome.results
    after = _stored_prices(deal_id)
    expected_written = change != "later"
    return {
        "case": change,
        "requests": requests,
        "written": written,
        "rows_changed": after != before,
        "correct": written == expected_written
        and (after != before) == expected_written
        and _comments(deal_id) == theirs,  # their change is never lost
        "write_error": _error_text(outcome.errors.get("set")),
    }


def _comments(deal_id: int) -> str:
    from sandbox.models import Deal

    return str(Deal.objects.get(pk=deal_id).comments)


def _error_text(error: Any) -> str:
    if error is None:
        return ""
    return str(error.code or error.description)[:80]


def one_request_save() -> list[dict[str, Any]]:
    deal_id = deal_with_rows(user=USER)
    client, colleague = _client(USER), _client(COLLEAGUE)
    return [
        _case(client, colleague, deal_id=deal_id, price="123.45", change="none"),
        _case(client, colleague, deal_id=deal_id, price="124.45", change="later"),
        _case(client, colleague, deal_id=deal_id, price="125.45", change="same_second"),
    ]
