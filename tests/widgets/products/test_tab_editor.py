"""Editing product rows in the tab: live recalculation, validation, adding, deleting, reordering,
pasting and cancelling — each as an htmx request and as a plain page post. None of it costs a
REST request except the catalog search."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core import signing

from tests.conftest import SandboxPortal
from tests.widgets.tab_support import DealTab, calls_since, deal_of, last_call_id, money, open_tab, text_of
from widgets.products.signing import STATE_SALT


@pytest.fixture
def tab(sandbox: SandboxPortal, tab_portal: Any) -> DealTab:
    return open_tab(sandbox, deal_of(3), user=3)


@pytest.fixture
def empty_tab(sandbox: SandboxPortal, tab_portal: Any) -> DealTab:
    return open_tab(sandbox, deal_of(rows=False), user=1)


def full_page(html: str) -> bool:
    return html.lstrip().startswith("<!DOCTYPE html>") and '<main class="deal-tab"' in html


def test_changing_a_cell_recalculates_the_row_and_the_totals_without_touching_the_inputs(tab: DealTab) -> None:
    mark = last_call_id()
    response = tab.post(rows_0_quantity="10", rows_0_discount="0", rows_0_tax_rate="")
    assert response.status_code == 200
    assert response.headers["HX-Reswap"] == "none"
    assert "<input" not in response.text  # only the computed cells, swapped out of band
    price = Decimal(tab.value("rows-0-price"))
    assert money(text_of(response.text, "row-0-total")) == price * 10
    assert 'id="grand-total"' in response.text and 'hx-swap-oob="true"' in response.text
    assert calls_since(mark) == []


def test_changing_a_cell_without_htmx_answers_with_the_whole_recalculated_page(tab: DealTab) -> None:
    response = tab.post("recalc", htmx=False, rows_0_quantity="10", rows_0_discount="0", rows_0_tax_rate="")
    assert full_page(response.text)
    assert money(text_of(response.text, "row-0-total")) == Decimal(tab.value("rows-0-price")) * 10
    assert tab.value("rows-0-quantity") == "10"
    assert "Unsaved changes" in response.text


@pytest.mark.parametrize(
    ("cell", "typed", "message"),
    [
        ("quantity", "0", "The quantity must be more than zero."),
        ("quantity", "-2", "The quantity must be more than zero."),
        ("quantity", "1.23456", "Use at most 4 decimal places."),
        ("price", "-1", "The price cannot be negative."),
        ("price", "12.345", "Use at most 2 decimal places."),
        ("price", "twelve", "Enter a number."),
        ("price", "", "Enter a price (0 or more)."),
        ("price", "1000000000000", "This number is too large."),
        ("discount", "120", "A percentage discount must be between 0 and 100."),
        ("tax_rate", "101", "The tax rate must be between 0 and 100%."),
        ("tax_rate", "7.125", "Use at most 2 decimal places."),
        ("name", "   ", "Enter a product name."),
    ],
)
def test_a_wrong_cell_gets_its_message_next_to_it(tab: DealTab, cell: str, typed: str, message: str) -> None:
    response = tab.post(fields=tab.edit(**{f"rows_0_{cell}": typed}))
    assert response.status_code == 200
    assert text_of(response.text, f"row-0-{cell}-error") == message
    assert text_of(response.text, "row-0-total") == "—"
    assert "Rows with errors are not counted." in response.text
    assert re.search(r'<button type="submit" name="action" value="save" class="button" disabled>', response.text)


def test_an_amount_discount_may_not_exceed_the_price_and_a_full_discount_needs_a_price(tab: DealTab) -> None:
    over = tab.post(rows_0_price="50", rows_0_discount_type="1", rows_0_discount="50.01", rows_0_tax_rate="")
    assert text_of(over.text, "row-0-discount-error") == "The discount cannot be more than the price."
    exact = tab.post(rows_0_price="50", rows_0_discount_type="1", rows_0_discount="50", rows_0_tax_rate="")
    assert text_of(exact.text, "row-0-discount-error") == ""
    free = tab.post(rows_0_price="0", rows_0_discount_type="2", rows_0_discount="100")
    assert text_of(free.text, "row-0-discount-error") == "A discount of 100% needs a price above zero."


def test_saving_with_a_wrong_cell_is_refused_before_anything_reaches_bitrix24(tab: DealTab) -> None:
    mark = last_call_id()
    response = tab.post("save", htmx=False, rows_0_quantity="0")
    assert full_page(response.text)
    assert "Fix the highlighted cells, then save again." in response.text
    assert text_of(response.text, "row-0-quantity-error") == "The quantity must be more than zero."
    assert calls_since(mark) == []


def test_a_deal_may_have_at_most_500_rows(tab: DealTab) -> None:
    fields = [(n, v) for n, v in tab.fields if not n.startswith("rows-")]
    for index in range(501):
        fields += [
            (f"rows-{index}-name", f"Item {index}"),
            (f"rows-{index}-price", "1"),
            (f"rows-{index}-quantity", "1"),
        ]
    fields.append(("rows-count", "501"))
    response = tab.post("save", fields=fields)
    assert "A deal can have at most 500 product rows." in response.text
    at_limit = [(n, v) for n, v in fields if not n.startswith(("rows-500-", "rows-count"))] + [("rows-count", "500")]
    assert "at most 500" in tab.post("add", fields=at_limit).text


@pytest.mark.parametrize("htmx", [True, False])
def test_adding_an_empty_row_puts_the_focus_in_it(tab: DealTab, htmx: bool) -> None:
    before = tab.rows()
    response = tab.post("add", htmx=htmx)
    assert full_page(response.text) is not htmx
    assert response.text.lstrip().startswith('<form id="editor"') is htmx
    assert tab.rows() == before + 1
    assert (tab.value(f"rows-{before}-quantity"), tab.value(f"rows-{before}-measure_name")) == ("1", "pcs")
    assert re.search(rf'id="row-{before}-name"[^>]*autofocus', response.text)


@pytest.mark.parametrize("htmx", [True, False])
def test_searching_the_catalog_lists_up_to_ten_products(tab: DealTab, htmx: bool) -> None:
    mark = last_call_id()
    response = tab.get("tab_products", {"q": "licence", "cur": "USD"}, htmx=htmx)
    assert response.status_code == 200
    options = re.findall(r'role="option"[^>]*value="add_product:', response.text)
    assert 1 <= len(options) <= 10
    assert "CRM Professional licence, 1 user / year" in response.text
    assert "Add “licence” as a product that is not in the catalog" in response.text
    methods = [c.method for c in calls_since(mark)]
    assert methods == (["crm.product.list"] if htmx else ["crm.product.list", "batch"])
    assert full_page(response.text) is not htmx


def test_a_short_search_asks_bitrix24_nothing(tab: DealTab) -> None:
    mark = last_call_id()
    response = tab.get("tab_products", {"q": "l"})
    assert 'id="product-results"' in response.text and "hidden" in response.text
    assert calls_since(mark) == []


def test_catalog_names_with_markup_are_shown_as_text(tab: DealTab) -> None:
    from sandbox.models import Product

    Product.objects.filter(pk=1).update(name="<script>alert('x')</script> licence")
    response = tab.get("tab_products", {"q": "licence"})
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; licence" in response.text


def test_when_the_catalog_search_fails_the_list_offers_to_retry(tab: DealTab) -> None:
    from tests.widgets.tab_support import portal_down

    with portal_down(tab.sandbox):
        response = tab.get("tab_products", {"q": "licence"})
    assert response.status_code == 200
    assert "Bitrix24 did not answer the catalog search." in response.text
    assert "q=licence" in response.text and ">Retry<" in response.text


@pytest.mark.parametrize("htmx", [True, False])
def test_choosing_a_catalog_product_adds_it_with_its_price(tab: DealTab, htmx: bool) -> None:
    results = tab.get("tab_products", {"q": "Analytics"})
    choice = re.search(r'value="(add_product:[^"]+)"', results.text)
    assert choice is not None
    before = tab.rows()
    mark = last_call_id()
    response = tab.post(choice.group(1), htmx=htmx)
    assert response.status_code == 200
    assert tab.rows() == before + 1
    row = f"rows-{before}"
    assert (tab.value(f"{row}-name"), tab.value(f"{row}-price"), tab.value(f"{row}-quantity")) == (
        "Analytics add-on, 1 user / year",
        "149.00",
        "1",
    )
    assert int(tab.value(f"{row}-product_id")) > 0 and tab.value("q") == "" if "q" in dict(tab.fields) else True
    assert calls_since(mark) == []


def test_a_catalog_price_in_another_currency_is_flagged(sandbox: SandboxPortal, tab_portal: Any) -> None:
    from sandbox.models import Deal, Product

    deal_id = deal_of(3)
    Deal.objects.filter(pk=deal_id).update(currency_id="EUR")
    Product.objects.filter(name__startswith="Analytics").update(currency_id="USD")
    tab = open_tab(sandbox, deal_id, user=3)
    results = tab.get("tab_products", {"q": "Analytics", "cur": "EUR"})
    assert '<span class="tag">USD</span>' in results.text
    choice = re.search(r'value="(add_product:[^"]+)"', results.text)
    assert choice is not None
    response = tab.post(choice.group(1))
    assert "catalog price in USD" in response.text


def test_a_product_signed_for_the_list_cannot_be_forged(tab: DealTab) -> None:
    before = tab.rows()
    response = tab.post('add_product:["1","Free gold","0.00","USD",null,""]')
    assert response.status_code == 200 and tab.rows() == before


def test_a_name_typed_in_the_search_becomes_a_free_text_row(tab: DealTab) -> None:
    before = tab.rows()
    tab.post("add_text", q="Travel expenses")
    assert tab.rows() == before + 1
    assert (tab.value(f"rows-{before}-name"), tab.value(f"rows-{before}-product_id")) == ("Travel expenses", "0")


def test_deleting_a_row_keeps_the_others_as_typed(tab: DealTab) -> None:
    names = [tab.value(f"rows-{i}-name") for i in range(tab.rows())]
    response = tab.post("delete:0", rows_1_quantity="abc")
    assert [tab.value(f"rows-{i}-name") for i in range(tab.rows())] == names[1:]
    # The row being fixed keeps its typing and its message at its new place.
    assert tab.value("rows-0-quantity") == "abc"
    assert text_of(response.text, "row-0-quantity-error") == "Enter a number."


@pytest.mark.parametrize("htmx", [True, False])
def test_rows_move_up_and_down(tab: DealTab, htmx: bool) -> None:
    names = [tab.value(f"rows-{i}-name") for i in range(tab.rows())]
    tab.post("down:0", htmx=htmx)
    assert [tab.value(f"rows-{i}-name") for i in range(2)] == [names[1], names[0]]
    tab.post("up:1", htmx=htmx)
    assert [tab.value(f"rows-{i}-name") for i in range(tab.rows())] == names
    tab.post("up:0", htmx=htmx)  # already first: nothing moves
    assert tab.value("rows-0-name") == names[0]


def test_rows_pasted_from_a_spreadsheet_are_added_and_bad_lines_are_explained(empty_tab: DealTab) -> None:
    pasted = "Cable\t3\t$1,200.50\nAdapter\t2\nWidget\tmany\t5\n\nTraining day\t1\t-5\n"
    response = empty_tab.post("paste", paste=pasted)
    assert response.status_code == 200
    assert empty_tab.rows() == 2
    added = [
        (empty_tab.value(f"rows-{i}-name"), empty_tab.value(f"rows-{i}-quantity"), empty_tab.value(f"rows-{i}-price"))
        for i in range(2)
    ]
    assert added == [("Cable", "3", "1200.50"), ("Adapter", "2", "0.00")]
    assert "Line 3: quantity: Enter a number." in response.text
    assert "Line 4: price: The price cannot be negative." in response.text
    assert empty_tab.value("paste") == "Widget\tmany\t5\nTraining day\t1\t-5"
    assert money(text_of(response.text, "grand-total")) == Decimal("3601.50")


def test_cancel_brings_back_the_rows_as_loaded_without_asking_bitrix24(tab: DealTab) -> None:
    loaded = list(tab.fields)
    tab.post("delete:0")
    tab.post("add")
    mark = last_call_id()
    response = tab.post("cancel", htmx=False)
    assert full_page(response.text) and "Changes discarded." in response.text
    signed = ("widget_token", "state")  # signed with a timestamp: compared by content
    assert [f for f in tab.fields if f[0] not in signed] == [f for f in loaded if f[0] not in signed]
    assert signing.loads(tab.value("state"), salt=STATE_SALT) == signing.loads(dict(loaded)["state"], salt=STATE_SALT)
    assert calls_since(mark) == []
    assert 'value="save" class="button" disabled' in response.text


def test_the_page_can_be_reloaded_with_the_token_alone(tab: DealTab) -> None:
    for htmx in (True, False):
        mark = last_call_id()
        response = tab.get("tab_show", htmx=htmx)
        assert response.status_code == 200
        assert response.text.lstrip().startswith('<div id="tab"') is htmx
        assert full_page(response.text) is not htmx
        assert [c.method for c in calls_since(mark)] == ["batch"]


class _Labels(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.labelled: set[str] = set()
        self.inputs: list[str] = []
        self.open_labels = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.labelled.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            if self.open_labels:
                self.labelled.add(str(a.get("id")))
            self.inputs.append(str(a.get("id")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1


def test_every_input_has_a_label_and_the_status_is_announced(tab: DealTab) -> None:
    reader = _Labels()
    reader.feed(tab.page)
    assert len(reader.inputs) > 20
    assert [i for i in reader.inputs if i not in reader.labelled] == []
    assert '<p id="save-status" class="save-status" role="status" aria-live="polite">' in tab.page
