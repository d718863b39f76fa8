"""Through the tab's own pages: rows typed by a rep are shown, saved and read back with the amounts
Bitrix24's core computes (tests/pricing_cases.py, worked by hand from reference bitrix24-pricing.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import SandboxPortal
from tests.pricing_cases import CASES, Case, case_id
from tests.widgets.tab_support import DealTab, deal_of, money, open_tab, shown, text_of

TYPED = [c for c in CASES if c.terms and all(c.terms)]


def amounts(deal_id: int) -> tuple[Decimal, Decimal]:
    from sandbox.models import Deal

    deal = Deal.objects.get(pk=deal_id)
    return deal.opportunity, deal.tax_value


def footer_tax(page: str) -> Decimal:
    block = page[page.index('id="totals"') :]
    after = block[block.index(">Tax<") :]
    return money(after[after.index("<dd>") + 4 : after.index("</dd>")])


def type_rows(tab: DealTab, case: Case) -> None:
    """Replace the deal's rows by the case's rows, typed as a rep types them."""
    while tab.rows():
        tab.post(f"delete:{tab.rows() - 1}")
    for index, kwargs in enumerate(case.terms):
        assert kwargs is not None
        tab.post("add_text", q=f"Row {index}")
        cells = {
            f"rows_{index}_price": str(kwargs["price"]),
            f"rows_{index}_quantity": str(kwargs.get("quantity", "1")),
            f"rows_{index}_discount_type": str(kwargs.get("discount_type", 2)),
            f"rows_{index}_discount": str(kwargs.get("discount", "0")),
            f"rows_{index}_tax_rate": str(kwargs.get("tax_rate") or ""),
        }
        fields = [f for f in tab.edit(**cells) if f[0] != f"rows-{index}-tax_included"]
        if kwargs.get("tax_included"):
            fields.append((f"rows-{index}-tax_included", "on"))
        tab.post(fields=fields)


@pytest.mark.parametrize("case", TYPED, ids=case_id)
def test_the_footer_before_saving_is_the_amount_bitrix24_stores(
    sandbox: SandboxPortal, tab_portal: Any, case: Case
) -> None:
    tab = open_tab(sandbox, deal_of(3, rows=None), user=3)
    type_rows(tab, case)
    preview = tab.post("recalc", htmx=False)
    total = money(text_of(preview.text, "grand-total"))
    assert total == Decimal(case.opportunity), case.source
    if any(k and k.get("tax_rate") not in (None, "0") for k in case.terms):
        assert footer_tax(preview.text) == Decimal(case.tax_value)
    response = tab.post("save")
    assert amounts(tab.deal_id) == (Decimal(case.opportunity), Decimal(case.tax_value))
    assert f"Saved. The deal's amount is now {text_of(response.text, 'grand-total')}." in shown(response.text)
    # Opened again, every cell shows what was typed and saving changes nothing.
    again = open_tab(sandbox, tab.deal_id, user=3)
    for index, kwargs in enumerate(case.terms):
        assert kwargs is not None
        assert Decimal(again.value(f"rows-{index}-price").replace(",", ".")) == Decimal(kwargs["price"])
        assert Decimal(again.value(f"rows-{index}-discount").replace(",", ".") or "0") == Decimal(
            kwargs.get("discount", "0")
        )
    assert 'value="save" class="button" disabled' in again.page


def test_a_typed_in_amount_stays_while_the_tax_follows_the_rows(sandbox: SandboxPortal, tab_portal: Any) -> None:
    from sandbox.models import Deal

    deal_id = deal_of(manual=True, rows=None)
    Deal.objects.filter(pk=deal_id).update(assigned_by_id=3)
    before = amounts(deal_id)[0]
    tab = open_tab(sandbox, deal_id, user=3)
    type_rows(tab, CASES[0])  # the seed's example: 1150.45 of VAT
    tab.post("save")
    assert amounts(deal_id) == (before, Decimal(CASES[0].tax_value))
