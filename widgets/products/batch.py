"""The REST batches of the deal tab, and turning their answers into the tab's state.

Opening the tab is one `batch` request (bitrix24-protocol.md §4.4): who the user is, the deal, its
product rows, its contact bindings, the first contacts' details through $result references, and
whatever reference data is not cached. A reference past the last binding resolves to the whole
list, which crm.contact.get refuses as an invalid id; those errors only mean "no such contact".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from b24app.client import BatchResult, Command
from widgets.common.refdata import RefData
from widgets.contacts.state import ContactCard, ContactItem
from widgets.products.state import DealSnapshot, WireRow, decimal_of, int_of

CONTACT_SLOTS = 10  # contact details fetched inside the opening batch; more cost a second request
MORE_CONTACTS_LIMIT = 50  # one crm.contact.list page
CONTACT_SELECT = ["ID", "NAME", "SECOND_NAME", "LAST_NAME", "PHONE", "EMAIL"]


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


def more_contacts_command(contact_ids: list[int]) -> Command:
    # https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-list.html
    return ("crm.contact.list", {"filter": {"@ID": contact_ids[:MORE_CONTACTS_LIMIT]}, "select": CONTACT_SELECT})


@dataclass(frozen=True)
class Binding:
    contact_id: int
    primary: bool
    sort: int = 0


def bindings_from(raw: Any) -> list[Binding]:
    """crm.deal.contact.items.get's answer (JSON numbers, deals-api-spec.md §7.4), in its order."""
    bindings: list[Binding] = []
    for item in raw if isinstance(raw, list) else []:
        contact_id = int_of(item.get("CONTACT_ID")) if isinstance(item, dict) else None
        if contact_id and all(b.contact_id != contact_id for b in bindings):
            primary = str(item.get("IS_PRIMARY") or "N").upper() == "Y"
            bindings.append(Binding(contact_id, primary, int_of(item.get("SORT")) or 0))
    return bindings


def bindings_of(outcome: BatchResult, key: str = "bindings") -> list[Binding]:
    return [] if key in outcome.errors else bindings_from(outcome.results.get(key))


def cards_from_slots(outcome: BatchResult, bindings: list[Binding], prefix: str = "c") -> dict[int, ContactCard]:
    """The contacts read through $result references, by id; a refused slot is simply missing."""
    cards = {}
    for slot, binding in enumerate(bindings[:CONTACT_SLOTS]):
        key = f"{prefix}{slot}"
        card = None if key in outcome.errors else ContactCard.from_api(outcome.results.get(key))
        if card is not None and card.id == binding.contact_id:
            cards[card.id] = card
    return cards


def cards_from_list(result: Any) -> dict[int, ContactCard]:
    found = (ContactCard.from_api(item) for item in (result if isinstance(result, list) else []))
    return {card.id: card for card in found if card is not None}


def contact_items(bindings: list[Binding], cards: dict[int, ContactCard]) -> tuple[ContactItem, ...]:
    """Every binding, in order; one whose contact this user may not read keeps its place, unnamed."""
    return tuple(
        ContactItem(cards.get(b.contact_id) or ContactCard.unseen(b.contact_id), b.primary, b.sort) for b in bindings
    )


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


class GuardUnavailable(Exception):
    """DATE_MODIFY could not be read, so no guard can be built: the write must not be sent.

    A guard without its DATE_MODIFY window would find the deal whatever happened to it meanwhile,
    so the write would go through blind.
    """


def modified_window(date_modify: str) -> dict[str, str]:
    """A filter matching the deal only while DATE_MODIFY is still the value read.

    DATE_MODIFY comes with whole seconds; the portal may keep finer time, so "unchanged" is "within
    the second read" rather than an equality that would never hold. Only a full ISO 8601 time
    with its offset is exact whatever the user's time zone (bitrix24-batch.md, "Ids"): anything
    else, an empty value included, raises GuardUnavailable.
    """
    try:
        moment = datetime.fromisoformat(date_modify.strip())
    except (AttributeError, ValueError) as exc:
        raise GuardUnavailable(f"DATE_MODIFY {date_modify[:40]!r} is not a time") from exc
    if moment.tzinfo is None or len(date_modify.strip()) < len("2000-01-01T00:00:00"):
        raise GuardUnavailable(f"DATE_MODIFY {date_modify[:40]!r} has no time of day or offset")
    later = (moment + timedelta(seconds=1)).isoformat(timespec="seconds")
    return {">=DATE_MODIFY": moment.isoformat(timespec="seconds"), "<DATE_MODIFY": later}


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


def guard_passed(outcome: BatchResult) -> bool:
    found = outcome.results.get("guard")
    return "guard" not in outcome.errors and isinstance(found, list) and len(found) == 1
