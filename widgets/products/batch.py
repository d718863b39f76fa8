"""The REST batches of the deal tab, and turning their answers into the tab's state.

Opening the tab is one `batch` request (bitrix24-protocol.md §4.4): who the user is, the deal, its
product rows, its contact bindings, the first contacts' details through $result references, and
whatever reference data is not cached. A reference past the last binding resolves to the whole
list, which crm.contact.get refuses as an invalid id; those errors only mean "no such contact".
"""

from __future__ import annotations

from typing import Any

from b24app.client import Command
from widgets.common.guard import modified_window
from widgets.common.money import decimal_of, int_of
from widgets.common.refdata import RefData
from widgets.contacts.batch import CONTACT_SLOTS
from widgets.products.state import DealSnapshot, WireRow


def deal_commands(deal_id: int) -> dict[str, Command]:
    """The deal and its product rows (also the save's conflict check)."""
    return {
        # https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-get.html
        "deal": ("crm.deal.get", {"id": deal_id}),
        # https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-productrows-get.html
        "rows": ("crm.deal.productrows.get", {"id": deal_id}),
    }


def open_commands(*, deal_id: int, with_user: bool, ref: dict[str, Command]) -> dict[str, Command]:
    commands: dict[str, Command] = {}
    if with_user:
        # https://apidocs.bitrix24.com/api-reference/user/user-current.html — also proves AUTH_ID.
        commands["me"] = ("user.current", {})
    # https://apidocs.bitrix24.com/api-reference/common/users/user-admin.html
    commands["admin"] = ("user.admin", {})
    commands.update(deal_commands(deal_id))
    # https://apidocs.bitrix24.com/api-reference/crm/deals/contacts/crm-deal-contact-items-get.html
    commands["bindings"] = ("crm.deal.contact.items.get", {"id": deal_id})
    for slot in range(CONTACT_SLOTS):
        # https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-get.html
        commands[f"c{slot}"] = ("crm.contact.get", {"id": f"$result[bindings][{slot}][CONTACT_ID]"})
    commands.update(ref)
    return commands


def rows_of(result: Any) -> list[WireRow]:
    return [WireRow.from_api(row) for row in result if isinstance(row, dict)] if isinstance(result, list) else []


def snapshot_of(
    deal: dict[str, Any],
    refdata: RefData,
    *,
    deal_id: int,
    amount_title: str = "",
) -> DealSnapshot:
    """crm.deal.get's answer (every scalar a string, deals-api-spec.md R2) with reference data."""
    stage = refdata.stages.get(str(deal.get("STAGE_ID") or ""))
    funnel = int_of(deal.get("CATEGORY_ID"))
    return DealSnapshot(
        id=deal_id,
        title=str(deal.get("TITLE") or ""),
        currency=refdata.currency(str(deal.get("CURRENCY_ID") or "")),
        manual_amount=str(deal.get("IS_MANUAL_OPPORTUNITY") or "N").upper() == "Y",
        opportunity=decimal_of(deal.get("OPPORTUNITY")),
        date_modify=str(deal.get("DATE_MODIFY") or ""),
        stage_name=stage.name if stage else str(deal.get("STAGE_ID") or ""),
        stage_color=stage.color if stage else "",
        stage_semantics=stage.semantics if stage else "",
        funnel_name=refdata.funnels.get(funnel, "") if funnel is not None else "",
        amount_title=refdata.field_titles.get("OPPORTUNITY", "") or amount_title,
    )


# --- saving ----------------------------------------------------------------------------------------


GUARDED_ID = "$result[guard][0][ID]"

# What a row read by crm.deal.productrows.get needs to be written back as it was (deals-api-spec.md §6.1).
ROW_WRITABLE = (
    *("ID", "PRODUCT_ID", "PRODUCT_NAME", "PRICE", "PRICE_EXCLUSIVE", "PRICE_NETTO", "PRICE_BRUTTO"),
    *("QUANTITY", "DISCOUNT_TYPE_ID", "DISCOUNT_RATE", "DISCOUNT_SUM", "TAX_RATE", "TAX_INCLUDED"),
    *("MEASURE_CODE", "MEASURE_NAME", "SORT", "TYPE", "XML_ID"),
)


def rows_as_read(result: Any) -> list[dict[str, Any]]:
    """The rows of a crm.deal.productrows.get answer, as a `rows` value that writes them back unchanged."""
    rows = result if isinstance(result, list) else []
    return [{k: row[k] for k in ROW_WRITABLE if row.get(k) is not None} for row in rows if isinstance(row, dict)]


ROW_CHECKS_MAX = 20  # rows checked in place inside the save's batch (2 commands each); more: `before` tells


def row_checks(*, deal_id: int, loaded: list[int]) -> dict[str, Command]:
    """Commands that halt the batch (halt=1) unless each loaded row still sits at its position.

    A reorder keeps the totals and so DATE_MODIFY (bitrix24-batch.md "Ids"); row ids are kept by a
    reorder. For each position, a list finds the loaded row only if it is the row read there just
    before (`=id` from `before`, `@id` the loaded one), and a get of what it found fails when it
    found nothing (`$result[isK][productRows][0][id]` is then `[]`, PHP (int) 0), which stops the
    batch before the write. A rename keeps ids and places: the service compares `before` for that.
    """
    commands: dict[str, Command] = {}
    for position, row_id in enumerate(loaded):
        owner = {"=ownerType": "D", "=ownerId": deal_id}
        # https://apidocs.bitrix24.com/api-reference/crm/universal/product-rows/crm-item-productrow-list.html
        commands[f"is{position}"] = (
            "crm.item.productrow.list",
            {"filter": {**owner, "=id": f"$result[before][{position}][ID]", "@id": [row_id]}, "select": ["id"]},
        )
        # https://apidocs.bitrix24.com/api-reference/crm/universal/product-rows/crm-item-productrow-get.html
        commands[f"hold{position}"] = ("crm.item.productrow.get", {"id": f"$result[is{position}][productRows][0][id]"})
    return commands


def save_commands(
    *, deal_id: int, date_modify: str, rows: list[dict[str, Any]], loaded: list[int] | None = None
) -> dict[str, Command]:
    """The whole save in one request, run with halt=1 (docs/reliability.md, "Saving in one request").

    1. `was`, `before`, `modifier`: the deal, its rows just before the write, and who changed it
       last. DATE_MODIFY misses changes that keep the totals (a reorder, a rename:
       bitrix24-batch.md "Ids"), so the service compares `before` with the rows the tab loaded;
       `loaded` (the ids the tab loaded) adds row_checks, which stop the batch on a reorder.
    2. `guard`: the deal, listed only while DATE_MODIFY is still the one the tab loaded.
    3. `set`: its id is `$result[guard][0][ID]`. A guard that found nothing leaves `$result[guard]`
       an empty list, so the reference is `[]`, PHP (int) 0, refused as an invalid id: nothing is
       written and halt stops the batch. A guard that failed stops the batch itself (halt), so the
       reference is never followed up to the results so far (a non-empty array: deal 1).
    4. `deal`, `rows`: what the portal kept, read back.
    """
    window = modified_window(date_modify)  # GuardUnavailable: no write at all
    # An empty `rows` cannot be spelled in a batch query string ("rows=" is a string, which the
    # method refuses); a list holding one non-object element is skipped row by row (§6.1).
    rows_param: list[Any] = rows if rows else [""]
    return {
        # https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-get.html
        "was": ("crm.deal.get", {"id": deal_id}),
        # https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-productrows-get.html
        "before": ("crm.deal.productrows.get", {"id": deal_id}),
        # https://apidocs.bitrix24.com/api-reference/user/user-get.html — who changed it, for a conflict.
        "modifier": ("user.get", {"ID": "$result[was][MODIFY_BY_ID]"}),
        **(row_checks(deal_id=deal_id, loaded=loaded) if loaded and len(loaded) <= ROW_CHECKS_MAX else {}),
        # https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-list.html
        "guard": ("crm.deal.list", {"filter": {"=ID": deal_id, **window}, "select": ["ID"]}),
        # https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-productrows-set.html
        "set": ("crm.deal.productrows.set", {"id": GUARDED_ID, "rows": rows_param}),
        **deal_commands(deal_id),
    }
