"""The deal card: header, native tabs, one tab per CRM_DEAL_DETAIL_TAB app, edit and delete.

What the General tab shows is built in sandbox/views/deal_card_data.py.

The General tab is laid out by the card configuration (bitrix24-protocol.md §8; the same data
crm.deal.details.configuration.* reads and writes). Each app tab is an iframe filled by the
placement POST of §5.2 with tokens of the signed-in user. Saving and deleting queue the same
events the REST methods do (deals-api-spec.md §10), caused by the signed-in user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from sandbox.events import queue_event
from sandbox.frames import AppFrame, build_frame, remember_frames
from sandbox.models import (
    App,
    Currency,
    Deal,
    PlacementBinding,
    User,
)
from sandbox.permissions import can_delete_deal, can_edit_deal
from sandbox.views.deal_card_data import CardData, card_sections, load_card
from sandbox.views.marketplace import user_options
from sandbox.views.pages import DEAL_TAB, format_money, funnel_stages
from sandbox.views.tools import current_user, not_found, render_portal

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
    deal = card.deal

    def name(user_id: int | None) -> str:
        return card.users.get(user_id or 0, f"User #{user_id}")

    entries = [(deal.date_create, f"Created by {name(deal.created_by_id)}")]
    if deal.moved_time:
        stage = card.stages.get(deal.stage_id)
        stage_name = stage.name if stage else deal.stage_id
        entries.append((deal.moved_time, f"Moved to “{stage_name}” by {name(deal.moved_by_id)}"))
    if deal.date_modify and deal.date_modify != deal.date_create:
        entries.append((deal.date_modify, f"Last modified by {name(deal.modify_by_id)}"))
    return sorted(entries, key=lambda entry: entry[0], reverse=True)


def _deal_for(
    request: HttpRequest, deal_id: int, *, may: tuple[Callable[[User, Deal], bool], str] | None = None
) -> tuple[Deal, User] | HttpResponse:
    """The deal and the signed-in user, or the page that says the deal is gone or not theirs to
    `may[1]` (edit, delete) when the permission check `may[0]` refuses."""
    deal = Deal.objects.filter(pk=deal_id).first()
    if deal is None:
        return not_found(request, f"Deal #{deal_id} does not exist or has been deleted.")
    user = current_user(request)
    if may is not None and not may[0](user, deal):
        messages.error(request, f"{user.full_name} ({user.get_role_display()}) may not {may[1]} this deal.")
        return redirect("sandbox:deal_card", deal_id=deal.pk)
    return deal, user


DealView = Callable[[HttpRequest, Deal, User], HttpResponse]


def _deal_view(
    *, may: tuple[Callable[[User, Deal], bool], str] | None = None
) -> Callable[[DealView], Callable[[HttpRequest, int], HttpResponse]]:
    """A view of one deal: called with the deal and the signed-in user, found by _deal_for."""

    def wrap(view: DealView) -> Callable[[HttpRequest, int], HttpResponse]:
        @wraps(view)
        def with_deal(request: HttpRequest, deal_id: int) -> HttpResponse:
            found = _deal_for(request, deal_id, may=may)
            return found if isinstance(found, HttpResponse) else view(request, *found)

        return with_deal

    return wrap


@require_GET
@_deal_view()
def deal_card(request: HttpRequest, deal: Deal, user: User) -> HttpResponse:
    return render_portal(request, "sandbox/deal_card.html", _card_context(request, deal, user), nav="deals")


@require_http_methods(["GET", "POST"])
@_deal_view(may=(can_edit_deal, "edit"))
def deal_edit(request: HttpRequest, deal: Deal, user: User) -> HttpResponse:
    editable = amount_is_editable(deal)
    form = DealEditForm(request.POST or None, initial=edit_initial(deal), deal=deal, amount_editable=editable)
    if request.method == "POST" and form.is_valid():
        saved = deal_save_from_card(deal=deal, user=user, data=form.cleaned_data, amount_editable=editable)
        messages.success(request, "Deal saved." if saved else "Nothing changed.")
        return redirect("sandbox:deal_card", deal_id=deal.pk)
    context = {**_card_context(request, deal, user), "form": form, "editing": True}
    return render_portal(request, "sandbox/deal_card.html", context, nav="deals")


@require_http_methods(["GET", "POST"])
@_deal_view(may=(can_delete_deal, "delete"))
def deal_delete(request: HttpRequest, deal: Deal, user: User) -> HttpResponse:
    if request.method == "GET":
        return render_portal(request, "sandbox/deal_delete.html", {"deal": deal}, nav="deals")
    category_id, title = deal.category_id, deal.title
    deal_delete_from_card(deal=deal, user=user)
    messages.success(request, f"Deal “{title}” deleted.")
    return redirect(reverse("sandbox:deal_list") + f"?category={category_id}")
