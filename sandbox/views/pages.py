"""The portal's home page and the deal lists, plus the CRM display helpers the pages share."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from sandbox.models import App, Category, Currency, Deal, PlacementBinding, Status, User
from sandbox.views.tools import not_found, render_portal

DEALS_PER_PAGE = 50
DEAL_TAB = "CRM_DEAL_DETAIL_TAB"


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    color: str
    semantics: str  # "" in progress, S won, F lost


def stage_entity(category_id: int) -> str:
    """DEAL_STAGE for the default funnel, DEAL_STAGE_<id> for the others (deals-api-spec.md §4.3)."""
    return "DEAL_STAGE" if category_id == 0 else f"DEAL_STAGE_{category_id}"


def funnel_stages(category_id: int) -> list[Stage]:
    rows = Status.objects.filter(entity_id=stage_entity(category_id)).order_by("sort", "id")
    return [Stage(r.status_id, r.name, r.color or "#a8adb4", r.semantics) for r in rows]


def all_stages() -> dict[str, Stage]:
    rows = Status.objects.filter(entity_id__startswith="DEAL_STAGE")
    return {r.status_id: Stage(r.status_id, r.name, r.color or "#a8adb4", r.semantics) for r in rows}


def format_money(amount: Decimal | None, currency: Currency | None) -> str:
    """An amount as the portal shows it, from the currency's format ("$#", "# €")."""
    if amount is None:
        return ""
    if currency is None:
        return f"{Decimal(amount).quantize(Decimal('0.01')):,}"
    places = Decimal(1).scaleb(-currency.decimals) if currency.decimals else Decimal(1)
    value = Decimal(amount).quantize(places, rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    # THOUSANDS_SEP really is the HTML entity "&nbsp;" for some currencies (protocol §9 item 15).
    separator = (currency.thousands_sep or "").replace("&nbsp;", "\u00a0")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    number = sign + separator.join(groups) + (currency.dec_point + fraction if fraction else "")
    return currency.format_string.replace("#", number) if "#" in currency.format_string else number


def currencies() -> dict[str, Currency]:
    return {c.code: c for c in Currency.objects.all()}


def user_names() -> dict[int, str]:
    return {u.pk: u.full_name for u in User.objects.all()}


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    apps = list(App.objects.order_by("id"))
    tabs = PlacementBinding.objects.filter(placement=DEAL_TAB, app__state=App.State.INSTALLED).count()
    first_deal = Deal.objects.order_by("id").first()
    context = {
        "apps": apps,
        "any_installed": any(a.is_installed for a in apps),
        "deal_tabs": tabs,
        "first_deal": first_deal,
        "categories": Category.objects.all(),
        "deal_count": Deal.objects.count(),
    }
    return render_portal(request, "sandbox/home.html", context, nav="home")


@require_GET
def deal_list(request: HttpRequest) -> HttpResponse:
    categories = list(Category.objects.all())
    try:
        category_id = int(request.GET.get("category", "0"))
    except ValueError:
        category_id = -1
    category = next((c for c in categories if c.pk == category_id), None)
    if category is None:
        return not_found(request, "There is no such sales funnel.")
    stages = funnel_stages(category.pk)
    stage_map = {s.id: s for s in stages}
    deals = Deal.objects.filter(category_id=category.pk).order_by("-id")
    page = Paginator(deals, DEALS_PER_PAGE).get_page(request.GET.get("page"))
    money = currencies()
    names = user_names()
    rows = [
        {
            "deal": deal,
            "stage": stage_map.get(deal.stage_id),
            "amount": format_money(deal.opportunity, money.get(deal.currency_id)),
            "assignee": names.get(deal.assigned_by_id, f"User #{deal.assigned_by_id}"),
        }
        for deal in page.object_list
    ]
    counts = {c.pk: Deal.objects.filter(category_id=c.pk).count() for c in categories}
    context = {
        "categories": [(c, counts[c.pk]) for c in categories],
        "category": category,
        "stages": stages,
        "rows": rows,
        "page": page,
    }
    return render_portal(request, "sandbox/deal_list.html", context, nav="deals")
