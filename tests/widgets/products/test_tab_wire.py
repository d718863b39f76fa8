"""What the editor computes is what the portal stores and reports: random rows, saved over HTTP with
the tab's own save batch, read back from the sandbox portal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SandboxPortal
from tests.widgets.common.test_tab_pricing import row_terms
from tests.widgets.tab_support import deal_of, open_tab
from widgets.common import pricing
from widgets.common.pricing import RowTerms, unit_prices
from widgets.products.state import EditorRow, WireRow, bases_of, priced_row, rows_wire


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row_terms(), min_size=1, max_size=5), names=st.lists(st.text(max_size=40), min_size=5))
def test_random_rows_saved_over_http_come_back_exactly_as_computed(
    sandbox: SandboxPortal, tab_portal: Any, rows: list[RowTerms], names: list[str]
) -> None:
    from b24app.client import B24Client
    from b24app.models import UserToken
    from b24app.oauth import UserTokens
    from widgets.common.guard import guard_passed
    from widgets.products.batch import deal_commands, save_commands

    deal_id = deal_of(3)
    token = UserToken.objects.filter(user_id=3).first()
    if token is None:
        open_tab(sandbox, deal_id, user=3)
        token = UserToken.objects.get(user_id=3)
    client = B24Client(UserTokens(token))
    editor_rows = [
        EditorRow(id=None, product_id=0, name=(name.strip() or "Row")[:255], terms=terms)
        for name, terms in zip(names, rows, strict=False)
    ]
    deal = client.batch(deal_commands(deal_id)).get("deal")
    outcome = client.batch(
        save_commands(deal_id=deal_id, date_modify=deal["DATE_MODIFY"], rows=rows_wire(editor_rows, bases_of()))
    )
    assert guard_passed(outcome) and outcome.get("set") is True
    stored = [WireRow.from_api(row) for row in outcome.get("rows")]
    assert len(stored) == len(editor_rows)
    for row, back in zip(editor_rows, stored, strict=True):
        ours = unit_prices(row.terms)
        assert back.name == row.name
        assert back.quantity == pricing.quantity_of(row.terms.quantity)
        assert (back.prices.price, back.prices.price_exclusive) == (
            pricing.cents(ours.price),
            pricing.cents(ours.price_exclusive),
        )
        assert (back.prices.price_netto, back.prices.price_brutto) == (
            pricing.cents(ours.price_netto),
            pricing.cents(ours.price_brutto),
        )
        assert (back.prices.discount_rate, back.prices.discount_sum) == (
            pricing.cents(ours.discount_rate),
            pricing.cents(ours.discount_sum),
        )
        # Reopened, the row shows what was typed: nothing changes unless someone edits it.
        assert back.terms() == row.terms
    # The footer the editor shows (widgets.products.present.footer_of sums the same rows).
    totals = pricing.totals(priced_row(r, bases_of()) for r in editor_rows)
    saved = outcome.get("deal")
    assert (Decimal(saved["OPPORTUNITY"]), Decimal(saved["TAX_VALUE"])) == (totals.total, totals.tax)
