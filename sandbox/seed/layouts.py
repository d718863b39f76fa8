"""The deal card configurations the sandbox portal is seeded with, one per funnel (category id),
in crm.deal.details.configuration.get's shape (bitrix24-cardconfig.md)."""

from __future__ import annotations

from typing import Any

from sandbox.seed.data import UF_CONTRACT, UF_DELIVERY

CARD_LAYOUTS: dict[int, list[dict[str, Any]]] = {
    0: [
        {
            "name": "main",
            "title": "About the deal",
            "type": "section",
            "elements": [
                {"name": "TITLE"},
                {"name": "OPPORTUNITY_WITH_CURRENCY"},
                {"name": "STAGE_ID"},
                {"name": "BEGINDATE"},
                {"name": "CLOSEDATE"},
                {"name": "CLIENT", "optionFlags": "1"},
                {"name": UF_CONTRACT},
            ],
        },
        {
            "name": "additional",
            "title": "More",
            "type": "section",
            "elements": [
                {"name": "TYPE_ID"},
                {"name": "SOURCE_ID"},
                {"name": "SOURCE_DESCRIPTION"},
                {"name": "OPENED"},
                {"name": "ASSIGNED_BY_ID"},
                {"name": "COMMENTS"},
            ],
        },
        {
            "name": "products",
            "title": "Products",
            "type": "section",
            "elements": [{"name": "PRODUCT_ROW_SUMMARY"}],
        },
    ],
    1: [
        {
            "name": "main",
            "title": "About the deal",
            "type": "section",
            "elements": [
                {"name": "TITLE"},
                {"name": "STAGE_ID"},
                {"name": "OPPORTUNITY_WITH_CURRENCY"},
                {"name": "PROBABILITY"},
                {"name": "CLOSEDATE"},
                {"name": "CLIENT", "optionFlags": "1"},
                {"name": UF_DELIVERY, "optionFlags": "1"},
            ],
        },
        {
            "name": "additional",
            "title": "More",
            "type": "section",
            "elements": [
                {"name": "TYPE_ID"},
                {"name": "SOURCE_ID"},
                {"name": "ASSIGNED_BY_ID"},
                {"name": UF_CONTRACT},
                {"name": "COMMENTS"},
            ],
        },
        {
            "name": "products",
            "title": "Products",
            "type": "section",
            "elements": [{"name": "PRODUCT_ROW_SUMMARY"}],
        },
    ],
}
