"""Deals with their contact bindings, product rows, amounts and recurrence settings."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from sandbox import pricing
from sandbox.models import (
    Deal,
    DealContact,
    Product,
    ProductRow,
    RecurringDeal,
)
from sandbox.seed import data
from sandbox.seed.common import CENT, HUNDRED, at_time, convert, stage_code, weighted


@dataclass
class DealSet:
    deals: list[Deal] = field(default_factory=list)
    bindings: list[DealContact] = field(default_factory=list)
    rows: list[ProductRow] = field(default_factory=list)
    recurrences: list[RecurringDeal] = field(default_factory=list)


@dataclass(frozen=True)
class _RowSource:
    """What a product row is made from: a catalog product or a line typed into the deal."""

    product_id: int
    name: str
    price: Decimal
    currency: str
    measure: tuple[int, str]
    type: int = 1
    description: str | None = None
    vat_rate: Decimal | None = None
    vat_included: str = "N"

    @classmethod
    def from_product(cls, product: Product) -> _RowSource:
        return cls(
            product_id=product.id,
            name=product.name,
            price=product.price,
            currency=product.currency_id,
            measure=(product.measure_code, product.measure_name),
            type=product.type,
            description=product.description or None,
            vat_rate=product.vat_rate,
            vat_included=product.vat_included,
        )


def build_deals(rng: random.Random, contacts_by_company: dict[int, list[int]], products: list[Product]) -> DealSet:
    result = DealSet()
    typed_amounts = iter(data.MANUAL_AMOUNTS)
    recurrences = {spec.deal_id: spec for spec in data.RECURRENCES}
    for deal_id, (category_id, stage) in enumerate(_deal_slots(rng), start=1):
        company_index = rng.randrange(len(data.COMPANIES))
        recurrence = recurrences.get(deal_id)
        subject = recurrence.subject if recurrence else rng.choice(data.DEAL_SUBJECTS[category_id])
        deal = _deal(rng, deal_id, category_id, stage, f"{data.COMPANIES[company_index].name}: {subject}")
        result.deals.append(deal)
        for index, contact_id in enumerate(_pick_contacts(rng, deal_id, company_index, contacts_by_company)):
            result.bindings.append(
                DealContact(
                    id=len(result.bindings) + 1,
                    deal_id=deal_id,
                    contact_id=contact_id,
                    sort=(index + 1) * 10,
                    is_primary="Y" if index == 0 else "N",
                )
            )
        rows = _rows(rng, deal, products, first_id=len(result.rows) + 1)
        result.rows.extend(rows)
        _set_amounts(deal, rows, typed_amounts)
        if recurrence:
            result.recurrences.append(_recurrence(len(result.recurrences) + 1, deal, recurrence))
    return result


def _deal_slots(rng: random.Random) -> list[tuple[int, data.StageSpec]]:
    """(funnel, stage) of each deal in id order: every stage of every funnel at least once."""
    slots = [(category[0], stage) for category in data.CATEGORIES for stage in data.STAGES]
    stage_weights = [1 if stage.semantics else data.IN_PROGRESS_WEIGHT for stage in data.STAGES]
    while len(slots) < data.DEAL_COUNT:
        slots.append((weighted(rng, data.FUNNEL_WEIGHTS), rng.choices(data.STAGES, stage_weights)[0]))
    rng.shuffle(slots)
    # A recurring deal is a template: it stays in the first stage of its funnel.
    recurring_indexes = {spec.deal_id - 1 for spec in data.RECURRENCES}
    for index in sorted(recurring_indexes):
        if slots[index][1].status_id != "NEW":
            other = next(i for i, slot in enumerate(slots) if slot[1].status_id == "NEW" and i not in recurring_indexes)
            slots[index], slots[other] = slots[other], slots[index]
    return slots


def _deal(rng: random.Random, deal_id: int, category_id: int, stage: data.StageSpec, title: str) -> Deal:
    # Ids grow with the creation date, a few days apart, the last deal three days before "now".
    days_ago = (data.DEAL_COUNT - deal_id) * 4 + 3
    created = data.BASE_TIME - timedelta(days=days_ago, hours=rng.randint(0, 8), minutes=rng.randint(0, 59))
    begindate = created.date()
    closed = stage.semantics != ""
    if closed:
        yesterday = data.BASE_TIME.date() - timedelta(days=1)
        closedate = min(begindate + timedelta(days=rng.randint(10, 60)), yesterday)
        modified = at_time(closedate, 16, rng.randint(0, 59))
    else:
        closedate = begindate + timedelta(days=rng.randint(14, 90))
        minutes_since = int((data.BASE_TIME - created).total_seconds() // 60)
        modified = created + timedelta(minutes=rng.randint(0, minutes_since))
    assignee = rng.choice(data.SALES_USER_IDS)
    source_id = rng.choice(data.SOURCES)[0]
    from_ads = source_id in ("WEB", "ADVERTISING")
    uf: dict[str, str] = {}
    if stage.status_id in ("EXECUTING", "FINAL_INVOICE", "WON"):
        uf[data.UF_CONTRACT] = f"DD-{created.year}-{deal_id:04d}"
    if rng.random() < 0.4:
        uf[data.UF_DELIVERY] = rng.choice(data.DELIVERY_TERMS)["ID"]
    return Deal(
        id=deal_id,
        title=title,
        type_id=rng.choice(data.DEAL_TYPES)[0],
        category_id=category_id,
        stage_id=stage_code(category_id, stage.status_id),
        is_new="Y" if stage.status_id == "NEW" else "N",
        is_recurring="Y" if any(spec.deal_id == deal_id for spec in data.RECURRENCES) else "N",
        is_return_customer="Y" if rng.random() < 0.2 else "N",
        probability=stage.probability,
        currency_id=weighted(rng, data.CURRENCY_WEIGHTS),
        begindate=begindate,
        closedate=closedate,
        closed="Y" if closed else "N",
        comments=rng.choice(data.DEAL_COMMENTS),
        assigned_by_id=assignee,
        created_by_id=assignee if rng.random() < 0.7 else 2,  # or the sales manager
        modify_by_id=assignee,
        moved_by_id=assignee,
        date_create=created,
        date_modify=modified,
        moved_time=modified,
        source_id=source_id,
        source_description=rng.choice(data.SOURCE_DESCRIPTIONS),
        utm_source="google" if from_ads else None,
        utm_medium="CPC" if from_ads else None,
        utm_campaign="dealdesk_spring_2025" if from_ads else None,
        last_activity_time=modified,
        last_activity_by=assignee,
        observer_ids=[2] if assignee != 2 and rng.random() < 0.3 else [],
        uf=uf,
    )


def _pick_contacts(
    rng: random.Random, deal_id: int, company_index: int, contacts_by_company: dict[int, list[int]]
) -> list[int]:
    """People of the deal's company first, then outsiders (consultants, partners) if needed."""
    if deal_id in data.DEALS_WITH_MANY_CONTACTS:
        count = data.MANY_CONTACTS
    else:
        count = weighted(rng, data.CONTACT_COUNT_WEIGHTS)
    colleagues = contacts_by_company.get(company_index, [])
    picked = rng.sample(colleagues, min(count, len(colleagues)))
    outsiders = [c for c in range(1, data.CONTACT_COUNT + 1) if c not in picked]
    return picked + rng.sample(outsiders, count - len(picked))


def _rows(rng: random.Random, deal: Deal, products: list[Product], *, first_id: int) -> list[ProductRow]:
    if deal.id in data.DEALS_WITHOUT_ROWS:
        return []
    count = weighted(rng, data.ROW_COUNT_WEIGHTS)
    free_text = 1 if rng.random() < 0.25 else 0
    sources = [_RowSource.from_product(product) for product in rng.sample(products, count - free_text)]
    if free_text:
        name, price, measure = rng.choice(data.FREE_TEXT_ROWS)
        sources.append(_RowSource(product_id=0, name=name, price=Decimal(price), currency="USD", measure=measure))
    return [
        _row(rng, deal, source, row_id=first_id + index, sort=(index + 1) * 10) for index, source in enumerate(sources)
    ]


def _row(rng: random.Random, deal: Deal, source: _RowSource, *, row_id: int, sort: int) -> ProductRow:
    netto = convert(source.price, source.currency, deal.currency_id)
    tax_rate: Decimal | None
    if source.vat_rate is not None:
        tax_rate, tax_included = source.vat_rate, source.vat_included
    else:
        tax_rate = weighted(rng, ((None, 2), (Decimal(10), 1), (Decimal(20), 1)))
        tax_included = rng.choice("YN")
    discount_type_id, discount_rate, discount_sum = _discount(rng, netto, deal.currency_id)
    # The same arithmetic as crm.deal.productrows.set, so seeded rows read back exactly. PRICE is
    # the core's only anchor: the final price of the list price after the discount, with tax.
    factor = 1 + (tax_rate or 0) / Decimal(100)
    off = discount_sum if discount_type_id == 1 else netto * discount_rate / Decimal(100)
    exclusive = netto - off
    prices = pricing.row_prices(
        pricing.parse_row_input(
            {
                "PRICE": str(pricing.cents(exclusive * factor)),
                "QUANTITY": str(_quantity(rng, source)),
                "DISCOUNT_TYPE_ID": discount_type_id,
                "DISCOUNT_RATE": None if discount_type_id == 1 else str(discount_rate),
                "DISCOUNT_SUM": str(discount_sum) if discount_type_id == 1 else None,
                "TAX_RATE": None if tax_rate is None else str(tax_rate),
                "TAX_INCLUDED": tax_included,
            }
        )
    )
    return ProductRow(
        id=row_id,
        deal_id=deal.id,
        product_id=source.product_id,
        product_name=source.name,
        original_product_name=source.name if source.product_id else "",
        product_description=source.description,
        price=prices.price,
        price_exclusive=prices.price_exclusive,
        price_netto=prices.price_netto,
        price_brutto=prices.price_brutto,
        price_account=prices.price_account,
        quantity=prices.quantity,
        discount_type_id=prices.discount_type_id,
        discount_rate=prices.discount_rate,
        discount_sum=prices.discount_sum,
        tax_rate=tax_rate,
        tax_included=tax_included,
        measure_code=source.measure[0],
        measure_name=source.measure[1],
        sort=sort,
        type=source.type,
    )


def _discount(rng: random.Random, netto: Decimal, currency: str) -> tuple[int, Decimal, Decimal]:
    """(DISCOUNT_TYPE_ID, DISCOUNT_RATE, DISCOUNT_SUM): none, a percentage or an amount per unit."""
    roll = rng.random()
    if roll < 0.5:
        return 2, Decimal(0), Decimal(0)
    if roll < 0.8:
        return 2, Decimal(rng.choice(("5", "7.5", "10", "12", "15", "20"))), Decimal(0)
    amount = convert(Decimal(rng.choice(("5.00", "10.00", "25.00", "49.90", "100.00"))), "USD", currency)
    if amount > netto / 5:  # nobody knocks 50 off a 90 item
        amount = (netto / 10).quantize(CENT, ROUND_HALF_UP)
    return 1, Decimal(0), amount


def _quantity(rng: random.Random, source: _RowSource) -> Decimal:
    if source.measure == data.HOURS:
        choices: tuple[str, ...] = ("2", "4", "7.5", "8", "16", "40")
    elif source.type == data.SERVICE:
        choices = ("1", "1", "2", "3")
    else:
        choices = ("1", "2", "3", "5", "10", "12", "25", "40")
    return Decimal(rng.choice(choices))


def _set_amounts(deal: Deal, rows: list[ProductRow], typed_amounts: Iterator[str]) -> None:
    """OPPORTUNITY and TAX_VALUE as crm.deal.productrows.set leaves them (deals-api-spec.md R5)."""
    if not rows:
        deal.opportunity = Decimal(next(typed_amounts))
        return
    # The core's basket calculation over the stored rows (sandbox.pricing.deal_totals).
    totals = pricing.deal_totals(pricing.stored_row_prices(row) for row in rows)
    total = totals.opportunity
    deal.tax_value = totals.tax_value
    if deal.id in data.DEALS_WITH_MANUAL_OPPORTUNITY:
        # A negotiated round figure (about 10 % off the rows, to the hundred), typed over the total.
        deal.is_manual_opportunity = "Y"
        deal.opportunity = max((total * Decimal("0.009")).to_integral_value(ROUND_HALF_UP) * 100, HUNDRED)
    else:
        deal.opportunity = total.quantize(CENT, ROUND_HALF_UP)


def _recurrence(recurrence_id: int, deal: Deal, spec: data.RecurrenceSpec) -> RecurringDeal:
    today = data.BASE_TIME.date()
    return RecurringDeal(
        id=recurrence_id,
        deal_id=deal.id,
        active="Y",
        next_execution=today + timedelta(days=spec.next_in_days),
        last_execution=None if spec.last_days_ago is None else today - timedelta(days=spec.last_days_ago),
        counter_repeat=spec.counter_repeat,
        start_date=deal.begindate,
        category_id=deal.category_id,
        is_limit=spec.is_limit,
        limit_repeat=spec.limit_repeat,
        limit_date=None if spec.limit_in_days is None else today + timedelta(days=spec.limit_in_days),
        params={
            "MODE": "multiple",
            "MULTIPLE_TYPE": spec.period,
            "MULTIPLE_INTERVAL": spec.interval,
            "OFFSET_BEGINDATE_TYPE": "day",
            "OFFSET_BEGINDATE_VALUE": 0,
            "OFFSET_CLOSEDATE_TYPE": "day",
            "OFFSET_CLOSEDATE_VALUE": 14,
        },
    )
