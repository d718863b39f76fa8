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


def save_commands(*, deal_id: int, date_modify: str, rows: list[dict[str, Any]]) -> dict[str, Command]:
    """Write the rows only if the deal is still as read, then read back what the portal kept.

    The guard finds the deal only while it is unmodified; productrows.set takes its id from the
    guard's answer, so a deal changed meanwhile leaves the id unresolved and the write is refused
    (the reference resolves to the empty list, not a number). The reads after it run either way
    (halt=0), so a refused write still shows the current rows without another request.
    """
    window = modified_window(date_modify)  # GuardUnavailable: no write at all
    # An empty `rows` cannot be spelled in a batch query string ("rows=" is a string, which the
    # method refuses); a list holding one non-object element is skipped row by row (§6.1).
    rows_param: list[Any] = rows if rows else [""]
    return {
        # https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-list.html
        "guard": ("crm.deal.list", {"filter": {"=ID": deal_id, **window}, "select": ["ID"]}),
        # https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-productrows-set.html
        "set": ("crm.deal.productrows.set", {"id": "$result[guard][0][ID]", "rows": rows_param}),
        **deal_commands(deal_id),
    }
