"""What the deal card shows: the deal read with its rows and contacts (CardData), and the General
tab laid out by the card configuration (bitrix24-protocol.md §8; the same data
crm.deal.details.configuration.* reads and writes), field by field as the portal formats them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import formats, timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from sandbox.card_layout import effective_layout
from sandbox.models import (
    Category,
    Currency,
    Deal,
    DealUserField,
    Multifield,
    Status,
    User,
)
from sandbox.pricing import stored_row_prices
from sandbox.userfields import label
from sandbox.views.pages import Stage, all_stages, format_money

# crm.deal.fields titles, verbatim (deals-api-spec.md §5.6), plus the card's pseudo-fields (§8).
FIELD_TITLES: dict[str, str] = {
    "ID": "ID",
    "TITLE": "Title",
    "TYPE_ID": "Type",
    "CATEGORY_ID": "Sales Funnel",
    "STAGE_ID": "Deal Stage",
    "STAGE_SEMANTIC_ID": "Stage Group",
    "IS_NEW": "New Deal",
    "IS_RECURRING": "Recurring Deal",
    "IS_RETURN_CUSTOMER": "Repeat Deal",
    "IS_REPEATED_APPROACH": "Repeated Approach",
    "PROBABILITY": "Probability",
    "CURRENCY_ID": "Currency",
    "OPPORTUNITY": "Amount",
    "IS_MANUAL_OPPORTUNITY": "IS_MANUAL_OPPORTUNITY",
    "TAX_VALUE": "Tax Rate",
    "COMPANY_ID": "Company",
    "CONTACT_ID": "Contact",
    "CONTACT_IDS": "Contacts",
    "QUOTE_ID": "Estimate",
    "BEGINDATE": "Start Date",
    "CLOSEDATE": "Close Date",
    "OPENED": "Available to All",
    "CLOSED": "Closed",
    "COMMENTS": "Comment",
    "ASSIGNED_BY_ID": "Assignee",
    "CREATED_BY_ID": "Created By",
    "MODIFY_BY_ID": "Modified By",
    "MOVED_BY_ID": "MOVED_BY_ID",
    "DATE_CREATE": "Creation Date",
    "DATE_MODIFY": "Modification Date",
    "MOVED_TIME": "MOVED_TIME",
    "SOURCE_ID": "Source",
    "SOURCE_DESCRIPTION": "Additional Info about Source",
    "LEAD_ID": "Lead",
    "ADDITIONAL_INFO": "Additional Information",
    "LOCATION_ID": "Location",
    "ORIGINATOR_ID": "External Source",
    "ORIGIN_ID": "Identifier in External Source",
    "UTM_SOURCE": "Advertising System",
    "UTM_MEDIUM": "Traffic Type",
    "UTM_CAMPAIGN": "Campaign Identifier",
    "UTM_CONTENT": "Campaign Content",
    "UTM_TERM": "Campaign Search Condition",
    "LAST_ACTIVITY_TIME": "LAST_ACTIVITY_TIME",
    "LAST_ACTIVITY_BY": "LAST_ACTIVITY_BY",
    "OPPORTUNITY_WITH_CURRENCY": "Amount and currency",
    "CLIENT": "Client",
    "PRODUCT_ROW_SUMMARY": "Products",
    "OBSERVER": "Observers",
    "UTM": "UTM parameters",
    "RECURRING": "Recurring deal",
}
YES_NO_FIELDS = {
    "IS_NEW",
    "IS_RECURRING",
    "IS_RETURN_CUSTOMER",
    "IS_REPEATED_APPROACH",
    "IS_MANUAL_OPPORTUNITY",
    "OPENED",
    "CLOSED",
}
USER_FIELDS = {"ASSIGNED_BY_ID", "CREATED_BY_ID", "MODIFY_BY_ID", "MOVED_BY_ID", "LAST_ACTIVITY_BY"}
DATETIME_FIELDS = {"DATE_CREATE", "DATE_MODIFY", "MOVED_TIME", "LAST_ACTIVITY_TIME"}
UTM_FIELDS = ("UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM")
SEMANTIC_NAMES = {"P": "In progress", "S": "Successful", "F": "Unsuccessful"}
BB_TAGS = re.compile(r"\[(/?)(B|I|U|S)\]", re.IGNORECASE)


@dataclass
class CardData:
    """Everything the card shows, loaded once per render."""

    deal: Deal
    stages: dict[str, Stage]
    users: dict[int, str]
    currency: Currency | None
    contacts: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    totals: dict[str, str]
    statuses: dict[tuple[str, str], str]
    funnel: str
    user_fields: dict[str, DealUserField] = field(default_factory=dict)


def load_card(deal: Deal) -> CardData:
    currency = Currency.objects.filter(code=deal.currency_id).first()
    rows, totals = _product_rows(deal, currency)
    dictionaries = Status.objects.filter(entity_id__in=["DEAL_TYPE", "SOURCE"])
    statuses = {(s.entity_id, s.status_id): s.name for s in dictionaries}
    funnel = Category.objects.filter(pk=deal.category_id).values_list("name", flat=True).first()
    return CardData(
        deal=deal,
        stages=all_stages(),
        users={u.pk: u.full_name for u in User.objects.all()},
        currency=currency,
        contacts=_contacts(deal),
        rows=rows,
        totals=totals,
        statuses=statuses,
        funnel=funnel or f"Funnel #{deal.category_id}",
        user_fields={f.field_name: f for f in DealUserField.objects.all()},
    )


def _product_rows(deal: Deal, currency: Currency | None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows, total, tax = [], Decimal(0), Decimal(0)
    for row in deal.product_rows.all():
        # Line total and VAT as the deal's basket makes them (sandbox.pricing, bitrix24-pricing.md).
        line = stored_row_prices(row)
        amount = line.total
        total += amount
        tax += line.tax
        percent = row.discount_type_id == 2
        discount = f"{row.discount_rate.normalize():f} %" if percent else format_money(row.discount_sum, currency)
        rows.append(
            {
                "name": row.product_name,
                "price": format_money(row.price, currency),
                "quantity": f"{row.quantity.normalize():f}",
                "measure": row.measure_name,
                "discount": discount if row.discount_sum else "",
                "tax": f"{row.tax_rate.normalize():f} %" if row.tax_rate is not None else "",
                "amount": format_money(amount, currency),
            }
        )
    totals = {"count": str(len(rows)), "amount": format_money(total, currency), "tax": format_money(tax, currency)}
    return rows, totals


def _contacts(deal: Deal) -> list[dict[str, Any]]:
    bindings = list(deal.contact_bindings.select_related("contact"))
    ids = [b.contact_id for b in bindings]
    channels: dict[int, list[Multifield]] = {}
    for mf in Multifield.objects.filter(entity_id="CONTACT", element_id__in=ids):
        channels.setdefault(mf.element_id, []).append(mf)
    return [
        {"contact": b.contact, "primary": b.is_primary == "Y", "channels": channels.get(b.contact_id, [])}
        for b in bindings
    ]


# --- The General tab: sections and fields from the card configuration ------------------------


def field_label(name: str, card: CardData) -> str:
    uf = card.user_fields.get(name)
    return label(uf, "EDIT_FORM_LABEL") if uf else FIELD_TITLES.get(name, name)


def field_value(name: str, card: CardData) -> str:
    """The element's value as display HTML-safe text ("" when empty)."""
    deal = card.deal
    if name in YES_NO_FIELDS:
        return "Yes" if getattr(deal, name.lower()) == "Y" else "No"
    if name in USER_FIELDS:
        user_id = getattr(deal, name.lower(), None)
        return escape(card.users.get(user_id, f"User #{user_id}")) if user_id else ""
    if name in DATETIME_FIELDS:
        value = getattr(deal, name.lower())
        return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT") if value else ""
    if name.startswith("UF_"):
        return _user_field_value(name, card)
    special = _SPECIAL.get(name)
    if special is not None:
        return special(card)
    value = getattr(deal, name.lower(), None) if name.isupper() else None
    if isinstance(value, date):
        return formats.date_format(value, "DATE_FORMAT")
    return escape(value) if value not in (None, "") else ""


def _stage_badge(card: CardData) -> str:
    stage = card.stages.get(card.deal.stage_id)
    if stage is None:
        return escape(card.deal.stage_id)
    return format_html('<span class="stage" style="--stage: {}">{}</span>', stage.color, stage.name)


def _client(card: CardData) -> str:
    parts = [format_html("<span>Company #{}</span>", card.deal.company_id)] if card.deal.company_id else []
    parts += [format_html("<span>{}</span>", c["contact"]) for c in card.contacts]
    return mark_safe("<br>".join(parts))  # noqa: S308 - every part is built with format_html


def _comments(card: CardData) -> str:
    # COMMENTS carries BB-codes ([B]...[/B], deals-api-spec.md §4.1): render the simple ones.
    text = escape(card.deal.comments)
    return mark_safe(BB_TAGS.sub(lambda m: f"<{m.group(1)}{m.group(2).lower()}>", text).replace("\n", "<br>"))  # noqa: S308


def _user_field_value(name: str, card: CardData) -> str:
    raw = card.deal.uf.get(name)
    if raw in (None, "", []):
        return ""
    values = raw if isinstance(raw, list) else [raw]
    uf = card.user_fields.get(name)
    if uf is not None and uf.user_type_id == "enumeration":
        names = {str(item.get("ID")): str(item.get("VALUE")) for item in uf.items}
        values = [names.get(str(v), str(v)) for v in values]
    if uf is not None and uf.user_type_id == "boolean":
        values = ["Yes" if str(v) in ("1", "Y") else "No" for v in values]
    return escape(", ".join(str(v) for v in values))


_SPECIAL: dict[str, Callable[[CardData], str]] = {
    "STAGE_ID": _stage_badge,
    "CATEGORY_ID": lambda card: escape(card.funnel),
    "STAGE_SEMANTIC_ID": lambda card: SEMANTIC_NAMES[_semantic(card)],
    "TYPE_ID": lambda card: escape(card.statuses.get(("DEAL_TYPE", card.deal.type_id), card.deal.type_id)),
    "SOURCE_ID": lambda card: escape(card.statuses.get(("SOURCE", card.deal.source_id), card.deal.source_id)),
    "OPPORTUNITY": lambda card: escape(format_money(card.deal.opportunity, card.currency)),
    "OPPORTUNITY_WITH_CURRENCY": lambda card: escape(format_money(card.deal.opportunity, card.currency)),
    "TAX_VALUE": lambda card: escape(format_money(card.deal.tax_value, card.currency)),
    "CURRENCY_ID": lambda card: escape(card.currency.full_name if card.currency else card.deal.currency_id),
    "PROBABILITY": lambda card: f"{card.deal.probability} %" if card.deal.probability is not None else "",
    "COMPANY_ID": lambda card: f"Company #{card.deal.company_id}" if card.deal.company_id else "",
    "CONTACT_ID": lambda card: escape(next((c["contact"] for c in card.contacts if c["primary"]), "")),
    "CONTACT_IDS": lambda card: escape(", ".join(str(c["contact"]) for c in card.contacts)),
    "CLIENT": _client,
    "COMMENTS": _comments,
    "OBSERVER": lambda card: escape(", ".join(card.users.get(i, f"User #{i}") for i in card.deal.observer_ids)),
    "UTM": lambda card: escape(" / ".join(v for f in UTM_FIELDS if (v := getattr(card.deal, f.lower())))),
    "RECURRING": lambda card: "Yes" if card.deal.is_recurring == "Y" else "No",
    "PRODUCT_ROW_SUMMARY": lambda card: (
        f"{card.totals['count']} products · {escape(card.totals['amount'])}" if card.rows else ""
    ),
    "ID": lambda card: str(card.deal.pk),
}


def _semantic(card: CardData) -> str:
    stage = card.stages.get(card.deal.stage_id)
    return {"S": "S", "F": "F"}.get(stage.semantics if stage else "", "P")


def card_sections(card: CardData, user: User) -> list[dict[str, Any]]:
    sections = []
    for section in effective_layout(category_id=card.deal.category_id, user_id=user.pk):
        elements = []
        for element in section.get("elements") or []:
            name = str(element.get("name", "")) if isinstance(element, dict) else ""
            if not name:
                continue
            value = field_value(name, card)
            elements.append(
                {
                    "name": name,
                    "label": field_label(name, card),
                    "value": mark_safe(value),  # noqa: S308 - field_value escapes what it shows
                    "always_show": str(element.get("optionFlags", "0")) == "1",
                }
            )
        sections.append({"name": section.get("name", ""), "title": section.get("title", ""), "elements": elements})
    return sections
