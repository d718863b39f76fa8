"""The deal card configurations the sandbox portal is seeded with, one per funnel (category id),
in crm.deal.details.configuration.get's shape (bitrix24-cardconfig.md)."""

from __future__ import annotations

from typing import Any

from sandbox.card_layout import section
from sandbox.seed.data import UF_CONTRACT, UF_DELIVERY

CARD_LAYOUTS: dict[int, list[dict[str, Any]]] = {
    0: [
        section(
            "main",
            "About the deal",
            "TITLE",
            "OPPORTUNITY_WITH_CURRENCY",
            "STAGE_ID",
            "BEGINDATE",
            "CLOSEDATE",
            ("CLIENT", "1"),
            UF_CONTRACT,
            flags=None,
        ),
        section(
            "additional",
            "More",
            "TYPE_ID",
            "SOURCE_ID",
            "SOURCE_DESCRIPTION",
            "OPENED",
            "ASSIGNED_BY_ID",
            "COMMENTS",
            flags=None,
        ),
        section("products", "Products", "PRODUCT_ROW_SUMMARY", flags=None),
    ],
    1: [
        section(
            "main",
            "About the deal",
            "TITLE",
            "STAGE_ID",
            "OPPORTUNITY_WITH_CURRENCY",
            "PROBABILITY",
            "CLOSEDATE",
            ("CLIENT", "1"),
            (UF_DELIVERY, "1"),
            flags=None,
        ),
        section("additional", "More", "TYPE_ID", "SOURCE_ID", "ASSIGNED_BY_ID", UF_CONTRACT, "COMMENTS", flags=None),
        section("products", "Products", "PRODUCT_ROW_SUMMARY", flags=None),
    ],
}
