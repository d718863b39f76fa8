"""The deal card: header, native tabs, one tab per CRM_DEAL_DETAIL_TAB app, edit and delete.

The General tab is laid out by the card configuration (bitrix24-protocol.md §8; the same data
crm.deal.details.configuration.* reads and writes). Each app tab is an iframe filled by the
placement POST of §5.2 with tokens of the signed-in user. Saving and deleting queue the same
events the REST methods do (deals-api-spec.md §10), caused by the signed-in user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from sandbox.card_layout import effective_layout
from sandbox.events import queue_event
from sandbox.frames import AppFrame, build_frame, remember_frames
from sandbox.models import (
    App,
    Category,
    Currency,
    Deal,
    DealUserField,
    Multifield,
    PlacementBinding,
    Status,
    User,
)
from sandbox.permissions import can_delete_deal, can_edit_deal
from sandbox.pricing import stored_row_prices
from sandbox.userfields import label
from sandbox.views.marketplace import user_options
from sandbox.views.pages import DEAL_TAB, Stage, all_stages, format_money, funnel_stages
from sandbox.views.tools import current_user, not_found, render_portal

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


_SPECIAL: dict[str, Any] = {
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


# --- App tabs --------------------------------------------------------------------------------


def placement_title(binding: PlacementBinding, lang: str) -> str:
    """LANG_ALL for the user's language, else TITLE, else the app's name (§5.1)."""
    localized = (binding.lang_all or {}).get(lang) or {}
    return str(localized.get("TITLE") or binding.title or binding.app.name)


@dataclass(frozen=True)
class AppTab:
    key: str
    title: str
    frame: AppFrame


def app_tabs(request: HttpRequest, deal: Deal, user: User) -> list[AppTab]:
    # Placements of an app that has not finished installing are invisible (§1.2 A.3).
    bindings = PlacementBinding.objects.select_related("app").filter(placement=DEAL_TAB, app__state=App.State.INSTALLED)
    tabs = []
    for binding in bindings:
        frame = build_frame(
            app=binding.app,
            user=user,
            handler=binding.handler,
            placement=DEAL_TAB,
            placement_options={"ID": str(deal.pk)},
            user_options=user_options(request.session, binding.app, user),
        )
        tabs.append(AppTab(key=f"app-{binding.pk}", title=placement_title(binding, user.lang), frame=frame))
    remember_frames(request.session, [tab.frame for tab in tabs])
    return tabs


# --- Edit and delete -------------------------------------------------------------------------


class DealEditForm(forms.Form):
    title = forms.CharField(max_length=255, label="Title")
    stage_id = forms.ChoiceField(label="Stage")
    opportunity = forms.DecimalField(
        min_value=Decimal(0), max_digits=18, decimal_places=2, required=False, label="Amount"
    )
    currency_id = forms.ChoiceField(label="Currency", required=False)
    assigned_by_id = forms.TypedChoiceField(coerce=int, label="Assignee")
    closedate = forms.DateField(required=False, label="Close date", widget=forms.DateInput(attrs={"type": "date"}))
    comments = forms.CharField(required=False, label="Comment", widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, deal: Deal, amount_editable: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.amount_editable = amount_editable
        self.fields["stage_id"].choices = [(s.id, s.name) for s in funnel_stages(deal.category_id)]  # type: ignore[attr-defined]
        self.fields["currency_id"].choices = [(c.code, f"{c.code} — {c.full_name}") for c in Currency.objects.all()]  # type: ignore[attr-defined]
        self.fields["assigned_by_id"].choices = [(u.pk, u.full_name) for u in User.objects.filter(active=True)]  # type: ignore[attr-defined]
        if not amount_editable:
            # The amount follows the product rows unless it was entered by hand (IS_MANUAL_OPPORTUNITY).
            for name in ("opportunity", "currency_id"):
                self.fields[name].disabled = True
        else:
            self.fields["opportunity"].required = True
            self.fields["currency_id"].required = True


def amount_is_editable(deal: Deal) -> bool:
    return deal.is_manual_opportunity == "Y" or not deal.product_rows.exists()


def edit_initial(deal: Deal) -> dict[str, Any]:
    return {
        "title": deal.title,
        "stage_id": deal.stage_id,
        "opportunity": deal.opportunity,
        "currency_id": deal.currency_id,
        "assigned_by_id": deal.assigned_by_id,
        "closedate": deal.closedate,
        "comments": deal.comments,
    }


def deal_save_from_card(*, deal: Deal, user: User, data: dict[str, Any], amount_editable: bool) -> bool:
    """Apply the card's edit form; queue ONCRMDEALUPDATE when something changed."""
    changes: dict[str, Any] = {
        "title": data["title"],
        "stage_id": data["stage_id"],
        "assigned_by_id": data["assigned_by_id"],
        "closedate": data["closedate"],
        "comments": data["comments"],
    }
    if amount_editable:
        changes.update(opportunity=data["opportunity"], currency_id=data["currency_id"])
    changed = {k: v for k, v in changes.items() if getattr(deal, k) != v}
    if not changed:
        return False
    now = timezone.now()
    with transaction.atomic(using="sandbox"):
        for name, value in changed.items():
            setattr(deal, name, value)
        if "stage_id" in changed:
            stage = next((s for s in funnel_stages(deal.category_id) if s.id == deal.stage_id), None)
            deal.moved_by_id, deal.moved_time = user.pk, now
            deal.closed = "Y" if stage is not None and stage.semantics in ("S", "F") else "N"
        deal.modify_by_id, deal.date_modify = user.pk, now
        deal.save()
        # ONCRMDEALUPDATE also fires for a stage change within the funnel (protocol §6.2).
        queue_event("ONCRMDEALUPDATE", {"FIELDS": {"ID": str(deal.pk)}}, user=user)
    return True


def deal_delete_from_card(*, deal: Deal, user: User) -> None:
    deal_id = deal.pk
    with transaction.atomic(using="sandbox"):
        deal.delete()
        queue_event("ONCRMDEALDELETE", {"FIELDS": {"ID": str(deal_id)}}, user=user)


# --- Views -----------------------------------------------------------------------------------


def _card_context(request: HttpRequest, deal: Deal, user: User) -> dict[str, Any]:
    card = load_card(deal)
    return {
        "deal": deal,
        "card": card,
        "stage": card.stages.get(deal.stage_id),
        "amount": format_money(deal.opportunity, card.currency),
        "sections": card_sections(card, user),
        "app_tabs": app_tabs(request, deal, user),
        "can_edit": can_edit_deal(user, deal),
        "can_delete": can_delete_deal(user, deal),
        "assignee": card.users.get(deal.assigned_by_id, f"User #{deal.assigned_by_id}"),
        "history": deal_history(card),
    }


def deal_history(card: CardData) -> list[tuple[datetime, str]]:
    deal, name = card.deal, (lambda user_id: card.users.get(user_id or 0, f"User #{user_id}"))
    entries = [(deal.date_create, f"Created by {name(deal.created_by_id)}")]
    if deal.moved_time:
        stage = card.stages.get(deal.stage_id)
        stage_name = stage.name if stage else deal.stage_id
        entries.append((deal.moved_time, f"Moved to “{stage_name}” by {name(deal.moved_by_id)}"))
    if deal.date_modify and deal.date_modify != deal.date_create:
        entries.append((deal.date_modify, f"Last modified by {name(deal.modify_by_id)}"))
    return sorted(entries, key=lambda entry: entry[0], reverse=True)


@require_GET
def deal_card(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = Deal.objects.filter(pk=deal_id).first()
    if deal is None:
        return not_found(request, f"Deal #{deal_id} does not exist or has been deleted.")
    user = current_user(request)
    return render_portal(request, "sandbox/deal_card.html", _card_context(request, deal, user), nav="deals")


@require_http_methods(["GET", "POST"])
def deal_edit(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = Deal.objects.filter(pk=deal_id).first()
    if deal is None:
        return not_found(request, f"Deal #{deal_id} does not exist or has been deleted.")
    user = current_user(request)
    if not can_edit_deal(user, deal):
        messages.error(request, f"{user.full_name} ({user.get_role_display()}) may not edit this deal.")
        return redirect("sandbox:deal_card", deal_id=deal.pk)
    editable = amount_is_editable(deal)
    form = DealEditForm(request.POST or None, initial=edit_initial(deal), deal=deal, amount_editable=editable)
    if request.method == "POST" and form.is_valid():
        saved = deal_save_from_card(deal=deal, user=user, data=form.cleaned_data, amount_editable=editable)
        messages.success(request, "Deal saved." if saved else "Nothing changed.")
        return redirect("sandbox:deal_card", deal_id=deal.pk)
    context = {**_card_context(request, deal, user), "form": form, "editing": True}
    return render_portal(request, "sandbox/deal_card.html", context, nav="deals")


@require_http_methods(["GET", "POST"])
def deal_delete(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = Deal.objects.filter(pk=deal_id).first()
    if deal is None:
        return not_found(request, f"Deal #{deal_id} does not exist or has been deleted.")
    user = current_user(request)
    if not can_delete_deal(user, deal):
        messages.error(request, f"{user.full_name} ({user.get_role_display()}) may not delete this deal.")
        return redirect("sandbox:deal_card", deal_id=deal.pk)
    if request.method == "GET":
        return render_portal(request, "sandbox/deal_delete.html", {"deal": deal}, nav="deals")
    category_id, title = deal.category_id, deal.title
    deal_delete_from_card(deal=deal, user=user)
    messages.success(request, f"Deal “{title}” deleted.")
    return redirect(reverse("sandbox:deal_list") + f"?category={category_id}")
