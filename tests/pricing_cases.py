"""Product rows worked by hand from Bitrix24's core steps, for the sandbox and for the tab alike.

Every figure here was computed with pencil and paper from reference bitrix24-pricing.md ("One row"
steps 1-7, "Deal totals"), not with either of our implementations; `source` names the step or the
document each case comes from. A case is what a client sends to crm.deal.productrows.set, the rows
the portal stores (all price fields, in cents) and the deal's OPPORTUNITY and TAX_VALUE after it.
`terms` is, where one exists, what a rep types in the tab to mean exactly that row.

roundEx(x) = round2(x + 0.000001) below is the sale module's rounding of basket lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

D = Decimal


@dataclass(frozen=True)
class StoredRow:
    price: str
    exclusive: str
    netto: str
    brutto: str
    rate: str
    discount_sum: str
    quantity: str = "1"
    discount_type: int = 2
    tax_rate: str | None = None
    included: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    sent: list[dict[str, Any]]
    stored: list[StoredRow]
    opportunity: str
    tax_value: str
    # RowTerms keyword arguments (price, quantity, discount_type, discount, tax_rate, tax_included), one per row.
    terms: list[dict[str, Any] | None] = field(default_factory=list)


SEED_ROW_1 = {"PRODUCT_NAME": "Product #1", "PRICE": 1000, "QUANTITY": 10, "DISCOUNT_TYPE_ID": 1,
              "DISCOUNT_SUM": 100, "TAX_RATE": 13, "MEASURE_CODE": 796, "MEASURE_NAME": "pcs", "SORT": 10}  # fmt: skip
SEED_ROW_2 = {"PRODUCT_NAME": "Product #2", "PRICE": 500, "QUANTITY": 5, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 10,
              "TAX_RATE": 10, "MEASURE_CODE": 166, "MEASURE_NAME": "kg", "SORT": 20}  # fmt: skip
# EXCL round2(1000/1.13) = 884.96; RATE round2(100·100/984.96) = 10.15; NETTO 884.96 + 100;
# BRUTTO round2(984.96 × 1.13 = 1113.0048). Line 884.96 × 10 = 8849.60, VAT roundEx(1150.448) = 1150.45.
SEED_STORED_1 = StoredRow("1000.00", "884.96", "984.96", "1113.00", "10.15", "100.00", "10", 1, "13")
# EXCL round2(500/1.1 = 454.5454) = 454.55; SUM round2(100·454.55/90 − 454.55 = 50.5056) = 50.51;
# NETTO 505.06; BRUTTO round2(555.566). Line 454.55 × 5 = 2272.75, VAT roundEx(227.275) = 227.28.
SEED_STORED_2 = StoredRow("500.00", "454.55", "505.06", "555.57", "10.00", "50.51", "5", 2, "10")

CASES: list[Case] = [
    Case(
        "the seed's example row: 1000 × 10, 100 off, 13 % not included",
        "deals-api-spec §6.1 request sample; bitrix24-pricing steps 2, 5-7 and Deal totals",
        [SEED_ROW_1],
        [SEED_STORED_1],
        "10000.05",
        "1150.45",
        [{"price": "984.96", "quantity": "10", "discount_type": 1, "discount": "100", "tax_rate": "13"}],
    ),
    Case(
        "the seed's second row: 500 × 5, 10 % off, 10 % not included",
        "deals-api-spec §6.1 request sample; bitrix24-pricing steps 2, 4, 6, 7",
        [SEED_ROW_2],
        [SEED_STORED_2],
        "2500.03",
        "227.28",
        [None],  # NETTO 505.06 at 10 % gives PRICE round2(454.55 × 1.1 = 500.005) = 500.01, not 500
    ),
    Case(
        "the seed's whole request: the deal is the sum of its lines",
        "deals-api-spec §6.1 request sample; bitrix24-pricing Deal totals",
        [SEED_ROW_1, SEED_ROW_2],
        [SEED_STORED_1, SEED_STORED_2],
        "12500.08",
        "1377.73",
    ),
    Case(
        "100 × 10 at 20 % not included is built from the exclusive price",
        "bitrix24-pricing Deal totals (consequences); issue 16",
        [{"PRICE": 100, "QUANTITY": 10, "TAX_RATE": 20}],
        # EXCL round2(83.333) = 83.33; BRUTTO round2(83.33 × 1.2 = 99.996). 833.30 + roundEx(166.66).
        [StoredRow("100.00", "83.33", "83.33", "100.00", "0.00", "0.00", "10", 2, "20")],
        "999.96",
        "166.66",
        [{"price": "83.33", "quantity": "10", "tax_rate": "20"}],
    ),
    Case(
        "380.72 with 5 % off and 20 % included: NETTO 333.97",
        "bitrix24-pricing 'One row' closing example; steps 2, 4, 6, 7",
        [{"PRICE": "380.72", "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 5, "TAX_RATE": 20, "TAX_INCLUDED": "Y"}],
        # EXCL round2(317.2667) = 317.27; SUM round2(333.9684 − 317.27) = 16.70; BRUTTO round2(400.764).
        # Included: line 380.72, VAT roundEx(380.72 × 0.2/1.2 = 63.4533) = 63.45.
        [StoredRow("380.72", "317.27", "333.97", "400.76", "5.00", "16.70", "1", 2, "20", True)],
        "380.72",
        "63.45",
        [{"price": "400.76", "discount": "5", "tax_rate": "20", "tax_included": True}],
    ),
    Case(
        "16.26 at 12.5 % off with 13 % included: BRUTTO 18.59",
        "issue 16; bitrix24-pricing steps 2, 4, 7",
        [{"PRICE": "16.26", "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": "12.5", "TAX_RATE": 13, "TAX_INCLUDED": "Y"}],
        # EXCL round2(14.3894) = 14.39; SUM round2(16.4457 − 14.39) = 2.06; NETTO 16.45;
        # BRUTTO round2(16.45 × 1.13 = 18.5885). VAT roundEx(16.26 × 0.13/1.13 = 1.8706) = 1.87.
        [StoredRow("16.26", "14.39", "16.45", "18.59", "12.50", "2.06", "1", 2, "13", True)],
        "16.26",
        "1.87",
        [None],  # BRUTTO 18.59 at 12.5 % off is round2(16.266) = 16.27 in the tab, a different row
    ),
    Case(
        "the get sample's first row, from its PRICE",
        "deals-api-spec §6.2 response sample and §6.3 check; bitrix24-pricing steps 2, 4, 6, 7",
        [{"PRICE": "899.1", "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 10, "TAX_INCLUDED": "Y"}],
        # SUM round2(100·899.10/90 − 899.10) = 99.90; NETTO 999; no tax rate: BRUTTO 999, no VAT.
        [StoredRow("899.10", "899.10", "999.00", "999.00", "10.00", "99.90", "1", 2, None, True)],
        "899.10",
        "0.00",
        [{"price": "999", "discount": "10", "tax_included": True}],
    ),
    Case(
        "the get sample's second row: a plain price",
        "deals-api-spec §6.2 response sample",
        [{"PRICE": 100, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 0, "TAX_INCLUDED": "Y"}],
        [StoredRow("100.00", "100.00", "100.00", "100.00", "0.00", "0.00", "1", 2, None, True)],
        "100.00",
        "0.00",
        [{"price": "100", "tax_included": True}],
    ),
    Case(
        "the legacy docs' two rows: 100 × 4 and 400 × 1, the amount recalculated",
        "deals-api-spec Appendix A.1 (legacy crm_deal_productrows_set example, PRODUCT_IDs left out); "
        "bitrix24-pricing step 2 and Deal totals",
        [{"PRICE": "100.00", "QUANTITY": 4}, {"PRICE": "400.00", "QUANTITY": 1}],
        # No tax rate: EXCL = PRICE, no VAT. Lines 100 × 4 = 400 and 400 × 1 = 400.
        [
            StoredRow("100.00", "100.00", "100.00", "100.00", "0.00", "0.00", "4"),
            StoredRow("400.00", "400.00", "400.00", "400.00", "0.00", "0.00", "1"),
        ],
        "800.00",
        "0.00",
        [{"price": "100", "quantity": "4"}, {"price": "400"}],
    ),
    Case(
        "a row sent without PRICE is stored at 0 whatever NETTO and BRUTTO say",
        "bitrix24-pricing step 2 (PRICE the only anchor), steps 6 and 7 (sent values kept)",
        [{"PRICE_NETTO": 999, "PRICE_BRUTTO": 999}],
        [StoredRow("0.00", "0.00", "999.00", "999.00", "0.00", "0.00")],
        "0.00",
        "0.00",
    ),
    Case(
        "a rate sent without a discount type is discarded",
        "bitrix24-pricing step 3",
        [{"PRICE": 100, "DISCOUNT_RATE": 10}],
        [StoredRow("100.00", "100.00", "100.00", "100.00", "0.00", "0.00")],
        "100.00",
        "0.00",
    ),
    Case(
        "a DISCOUNT_SUM sent with a percent discount wins over the rate",
        "bitrix24-pricing step 4",
        [{"PRICE": 90, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 10, "DISCOUNT_SUM": 5}],
        [StoredRow("90.00", "90.00", "95.00", "95.00", "10.00", "5.00")],
        "90.00",
        "0.00",
    ),
    Case(
        "a DISCOUNT_RATE sent with an absolute discount wins",
        "bitrix24-pricing step 5",
        [{"PRICE": 90, "DISCOUNT_TYPE_ID": 1, "DISCOUNT_SUM": 10, "DISCOUNT_RATE": 50}],
        [StoredRow("90.00", "90.00", "100.00", "100.00", "50.00", "10.00", "1", 1)],
        "90.00",
        "0.00",
    ),
    Case(
        "a sent PRICE_NETTO is stored as sent and BRUTTO is made from it",
        "bitrix24-pricing steps 6 and 7",
        [{"PRICE": 110, "TAX_RATE": 10, "PRICE_NETTO": 120}],
        # EXCL round2(110/1.1) = 100; BRUTTO round2(120 × 1.1) = 132. Line 100 + VAT 10.
        [StoredRow("110.00", "100.00", "120.00", "132.00", "0.00", "0.00", "1", 2, "10")],
        "110.00",
        "10.00",
    ),
    Case(
        "a sent PRICE_EXCLUSIVE is kept and the basket is built from it",
        "bitrix24-pricing step 2 and Deal totals",
        [{"PRICE": 100, "PRICE_EXCLUSIVE": 80, "TAX_RATE": 20}],
        # NETTO 80 + 0; BRUTTO round2(80 × 1.2) = 96. Line 80 + VAT roundEx(16) = 96.
        [StoredRow("100.00", "80.00", "80.00", "96.00", "0.00", "0.00", "1", 2, "20")],
        "96.00",
        "16.00",
    ),
    Case(
        "a 100 % discount keeps its list price in DISCOUNT_SUM",
        "bitrix24-pricing step 4 (DISCOUNT_SUM required at 100 %), steps 6 and 7",
        [{"PRICE": 0, "DISCOUNT_TYPE_ID": 2, "DISCOUNT_RATE": 100, "DISCOUNT_SUM": 50, "TAX_RATE": 20}],
        [StoredRow("0.00", "0.00", "50.00", "60.00", "100.00", "50.00", "1", 2, "20")],
        "0.00",
        "0.00",
        [{"price": "50", "discount": "100", "tax_rate": "20"}],
    ),
    Case(
        "a fractional quantity with an amount off and no tax",
        "bitrix24-pricing steps 1, 5 and Deal totals (roundEx)",
        [{"PRICE": "19.99", "QUANTITY": "1.5", "DISCOUNT_TYPE_ID": 1, "DISCOUNT_SUM": "2.5"}],
        # RATE round2(100·2.50/22.49 = 11.116) = 11.12. Line roundEx(29.985) = 29.99.
        [StoredRow("19.99", "19.99", "22.49", "22.49", "11.12", "2.50", "1.5", 1)],
        "29.99",
        "0.00",
        [{"price": "22.49", "quantity": "1.5", "discount_type": 1, "discount": "2.50"}],
    ),
    Case(
        "three units at 12 % on top",
        "bitrix24-pricing steps 2, 7 and Deal totals",
        [{"PRICE": "33.33", "QUANTITY": 3, "TAX_RATE": 12}],
        # EXCL round2(29.7589) = 29.76; BRUTTO round2(33.3312) = 33.33. Line 89.28, VAT roundEx(10.7136).
        [StoredRow("33.33", "29.76", "29.76", "33.33", "0.00", "0.00", "3", 2, "12")],
        "99.99",
        "10.71",
        [{"price": "29.76", "quantity": "3", "tax_rate": "12"}],
    ),
    Case(
        "a fractional quantity with the tax included",
        "bitrix24-pricing steps 2, 7 and Deal totals (roundEx of an exact half cent)",
        [{"PRICE": "10.01", "QUANTITY": "2.5", "TAX_RATE": 20, "TAX_INCLUDED": "Y"}],
        # EXCL round2(8.3417) = 8.34; BRUTTO round2(10.008) = 10.01. Line roundEx(25.025) = 25.03,
        # VAT roundEx(25.025 × 0.2/1.2 = 4.1708) = 4.17.
        [StoredRow("10.01", "8.34", "8.34", "10.01", "0.00", "0.00", "2.5", 2, "20", True)],
        "25.03",
        "4.17",
        [{"price": "10.01", "quantity": "2.5", "tax_rate": "20", "tax_included": True}],
    ),
    Case(
        "a zero tax rate is a rate: no VAT, the line at its exclusive price",
        "bitrix24-pricing Deal totals",
        [{"PRICE": 50, "QUANTITY": 2, "TAX_RATE": 0}],
        [StoredRow("50.00", "50.00", "50.00", "50.00", "0.00", "0.00", "2", 2, "0")],
        "100.00",
        "0.00",
        [{"price": "50", "quantity": "2", "tax_rate": "0"}],
    ),
]


def case_id(case: Case) -> str:
    return case.name
