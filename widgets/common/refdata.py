"""Reference data of a portal the deal tab shows around the rows: currencies, deal field titles,
deal stages and funnels.

It changes rarely and is the same for every deal, so it is cached per portal for ten minutes and
fetched only when missing, inside the tab's one opening batch (never as a request of its own).
Event handlers (widgets.common.events) drop it when a change makes it stale. A command the portal
refuses (crm.currency.list needs CRM settings access on some portals) is simply not cached: the
tab falls back to plain formats and asks again next time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from b24app.client import BatchResult, Command
from widgets.common.money import CurrencyFormat

TTL = 10 * 60
KINDS = ("currencies", "fields", "stages", "funnels")
DEAL_ENTITY_TYPE = 2

# https://apidocs.bitrix24.com/api-reference/crm/currency/crm-currency-list.html
# https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-fields.html
# https://apidocs.bitrix24.com/api-reference/crm/status/crm-status-list.html
# https://apidocs.bitrix24.com/api-reference/crm/universal/category/crm-category-list.html
COMMANDS: dict[str, Command] = {
    "currencies": ("crm.currency.list", {"order": {"SORT": "ASC"}}),
    "fields": ("crm.deal.fields", {}),
    # Every dictionary, filtered here: the deal's funnel is unknown until the deal arrives in the
    # same batch, and crm.status.list matches ENTITY_ID exactly (no "DEAL_STAGE*" pattern).
    "stages": ("crm.status.list", {"order": {"SORT": "ASC"}}),
    "funnels": ("crm.category.list", {"entityTypeId": DEAL_ENTITY_TYPE}),
}


@dataclass(frozen=True)
class Stage:
    status_id: str
    name: str
    color: str
    semantics: str  # "" in progress, "S" won, "F" lost
    category_id: int


@dataclass(frozen=True)
class RefData:
    currencies: dict[str, CurrencyFormat]
    field_titles: dict[str, str]
    stages: dict[str, Stage]
    funnels: dict[int, str]

    def currency(self, code: str) -> CurrencyFormat:
        return self.currencies.get(code) or CurrencyFormat.fallback(code)


def refdata_key(portal_id: int, kind: str) -> str:
    return f"dealdesk:ref:{portal_id}:{kind}"


def refdata_cached(*, portal_id: int) -> dict[str, Any]:
    """The kinds in the cache, in their stored (parsed, JSON-friendly) form."""
    found = cache.get_many([refdata_key(portal_id, kind) for kind in KINDS])
    return {kind: found[refdata_key(portal_id, kind)] for kind in KINDS if refdata_key(portal_id, kind) in found}


def refdata_commands(*, missing: list[str], prefix: str = "ref_") -> dict[str, Command]:
    return {prefix + kind: COMMANDS[kind] for kind in missing}


def refdata_absorb(*, portal_id: int, outcome: BatchResult, cached: dict[str, Any], prefix: str = "ref_") -> RefData:
    """Parse what the batch brought, cache it, and combine it with what was cached already."""
    parsers = {"currencies": _currencies, "fields": _field_titles, "stages": _stages, "funnels": _funnels}
    stored = dict(cached)
    fresh: dict[str, Any] = {}
    for kind, parse in parsers.items():
        key = prefix + kind
        if kind in stored or key not in outcome.results or key in outcome.errors:
            continue
        fresh[refdata_key(portal_id, kind)] = stored[kind] = parse(outcome.results[key])
    if fresh:
        cache.set_many(fresh, TTL)
    return refdata_from(stored)


def refdata_from(stored: dict[str, Any]) -> RefData:
    currencies = stored.get("currencies") or {}
    return RefData(
        currencies={code: CurrencyFormat.from_dict(data) for code, data in currencies.items()},
        field_titles=dict(stored.get("fields") or {}),
        stages={sid: Stage(**data) for sid, data in (stored.get("stages") or {}).items()},
        funnels={int(k): v for k, v in (stored.get("funnels") or {}).items()},
    )


def refdata_drop(*, portal_id: int, kinds: tuple[str, ...] = KINDS) -> None:
    cache.delete_many([refdata_key(portal_id, kind) for kind in kinds])


# --- parsing each answer ---------------------------------------------------------------------------


def _currencies(result: Any) -> dict[str, Any]:
    rows = result if isinstance(result, list) else []
    formats = (CurrencyFormat.from_api(row) for row in rows if isinstance(row, dict) and row.get("CURRENCY"))
    return {fmt.code: fmt.as_dict() for fmt in formats}


def _field_titles(result: Any) -> dict[str, str]:
    fields = result if isinstance(result, dict) else {}
    return {
        str(name): str(spec.get("formLabel") or spec.get("title") or name)
        for name, spec in fields.items()
        if isinstance(spec, dict)
    }


def _stages(result: Any) -> dict[str, dict[str, Any]]:
    rows = result if isinstance(result, list) else []
    stages: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        entity = str(row.get("ENTITY_ID") or "")
        category = _funnel_of(entity)
        if category is None:
            continue  # sources, deal types, lead statuses...
        stages[str(row.get("STATUS_ID"))] = {
            "status_id": str(row.get("STATUS_ID")),
            "name": str(row.get("NAME") or row.get("STATUS_ID")),
            "color": _color(row.get("COLOR")),
            "semantics": str(row.get("SEMANTICS") or ""),
            "category_id": category,
        }
    return stages


def _funnel_of(entity_id: str) -> int | None:
    """DEAL_STAGE is the default funnel 0, DEAL_STAGE_<n> funnel n (bitrix24-protocol.md §7.1)."""
    if entity_id == "DEAL_STAGE":
        return 0
    prefix, _, number = entity_id.rpartition("_")
    return int(number) if prefix == "DEAL_STAGE" and number.isdigit() else None


def _color(value: Any) -> str:
    text = str(value or "")
    # Only a hex colour reaches a style attribute.
    if len(text) in (4, 7) and text.startswith("#") and all(c in "0123456789abcdefABCDEF" for c in text[1:]):
        return text
    return ""


def _funnels(result: Any) -> dict[str, str]:
    # crm.category.list wraps its list: {"categories": [...]}.
    rows = result.get("categories") if isinstance(result, dict) else result
    funnels: dict[str, str] = {}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and str(row.get("id", "")).isdigit():
            funnels[str(row["id"])] = str(row.get("name") or "")
    return funnels
