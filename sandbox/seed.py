"""Wipes the sandbox portal and fills it with a realistic, fully reproducible demo data set.

Everything comes from the tables in sandbox.seed_data, a `random.Random` with a fixed seed and
dates offset from a fixed "now", and every row gets an explicit id: seeding twice gives the same
rows with the same ids.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from copy import deepcopy
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from django.apps import apps
from django.conf import settings
from django.core.management.color import no_style
from django.db import connections, models, transaction
from django.utils.text import slugify

from sandbox import pricing
from sandbox import seed_data as data
from sandbox.models import (
    App,
    CardConfig,
    Category,
    Contact,
    Currency,
    Deal,
    DealContact,
    DealUserField,
    Multifield,
    Portal,
    Product,
    ProductRow,
    RecurringDeal,
    Status,
    User,
)

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


@dataclass(frozen=True)
class SeedSummary:
    users: int
    currencies: int
    categories: int
    statuses: int
    user_fields: int
    products: int
    contacts: int
    multifields: int
    deals: int
    deal_contacts: int
    product_rows: int
    recurring_deals: int
    card_configs: int

    def __str__(self) -> str:
        counts = ", ".join(f"{getattr(self, f.name)} {f.name.replace('_', ' ')}" for f in fields(self))
        return f"Seeded the sandbox portal: {counts}."


def seed_portal(*, using: str = "sandbox") -> SeedSummary:
    """Replace everything the sandbox portal holds (app install, tokens, logs too) with the demo."""
    rng = random.Random(data.RANDOM_SEED)
    with transaction.atomic(using=using):
        _wipe(using)
        save = partial(_save, using)
        save([_portal()])
        users = save(_users())
        currencies = save(_currencies())
        categories = save(_categories())
        statuses = save(_statuses())
        user_fields = save(_user_fields())
        products = save(_products())
        contacts, multifields, contacts_by_company = _contacts(rng)
        save(contacts)
        save(multifields)
        deals = _deals(rng, contacts_by_company, products)
        save(deals.deals)
        save(deals.bindings)
        save(deals.rows)
        save(deals.recurrences)
        card_configs = save(_card_configs())
        save([_app()])
        _reset_sequences(using, to_max=True)
    return SeedSummary(
        users=len(users),
        currencies=len(currencies),
        categories=len(categories),
        statuses=len(statuses),
        user_fields=len(user_fields),
        products=len(products),
        contacts=len(contacts),
        multifields=len(multifields),
        deals=len(deals.deals),
        deal_contacts=len(deals.bindings),
        product_rows=len(deals.rows),
        recurring_deals=len(deals.recurrences),
        card_configs=len(card_configs),
    )


# --- Wiping ---------------------------------------------------------------------------------------


def _sandbox_models() -> list[type[models.Model]]:
    return list(apps.get_app_config("sandbox").get_models())


def _wipe(using: str) -> None:
    # All sandbox models, not a hand-kept list, so a table added later is reset as well.
    for model in reversed(_sandbox_models()):
        model._default_manager.using(using).all().delete()
    _reset_sequences(using, to_max=False)


def _reset_sequences(using: str, *, to_max: bool) -> None:
    """Restart id sequences (before seeding), or move them past the explicit ids (after it).

    SQLite moves its sequence past explicit ids by itself but never back; PostgreSQL does neither.
    """
    connection = connections[using]
    style = no_style()
    if to_max:
        statements = connection.ops.sequence_reset_sql(style, _sandbox_models())
    else:
        sequences = [
            {"table": model._meta.db_table, "column": model._meta.pk.column}
            for model in _sandbox_models()
            if isinstance(model._meta.pk, models.AutoField)
        ]
        statements = connection.ops.sequence_reset_by_name_sql(style, sequences)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _save[M: models.Model](using: str, objects: list[M]) -> list[M]:
    if objects:
        type(objects[0])._default_manager.using(using).bulk_create(objects)
    return objects


# --- Portal, people and dictionaries --------------------------------------------------------------


def _portal() -> Portal:
    return Portal(id=1, member_id=data.MEMBER_ID, license=data.LICENSE)


def _users() -> list[User]:
    return [
        User(
            id=spec.id,
            name=spec.name,
            last_name=spec.last_name,
            email=f"{spec.name}.{spec.last_name}@{data.USER_EMAIL_DOMAIN}".lower(),
            role=spec.role,
            work_position=spec.work_position,
            department_ids=list(spec.department_ids),
            personal_gender=spec.gender,
            time_zone=spec.time_zone,
            date_register=data.BASE_TIME - timedelta(days=spec.registered_days_ago),
            last_login=data.BASE_TIME - timedelta(hours=spec.id * 5),
        )
        for spec in data.USERS
    ]


def _currencies() -> list[Currency]:
    return [
        # CurrencySpec's fields are named after the model's.
        Currency(**asdict(spec), date_update=data.BASE_TIME - timedelta(days=1))
        for spec in data.CURRENCIES
    ]


def _categories() -> list[Category]:
    return [Category(id=id_, name=name, sort=sort, is_default=default) for id_, name, sort, default in data.CATEGORIES]


def _stage_id(category_id: int, status_id: str) -> str:
    return status_id if category_id == 0 else f"C{category_id}:{status_id}"


def _statuses() -> list[Status]:
    rows: list[Status] = []
    for category_id, _name, _sort, _default in data.CATEGORIES:
        entity = "DEAL_STAGE" if category_id == 0 else f"DEAL_STAGE_{category_id}"
        for index, stage in enumerate(data.STAGES, start=1):
            system = stage.status_id in data.SYSTEM_STAGES
            rows.append(
                Status(
                    entity_id=entity,
                    status_id=_stage_id(category_id, stage.status_id),
                    name=data.STAGE_NAMES[category_id][stage.status_id],
                    name_init=data.DEFAULT_STAGE_NAMES[stage.status_id] if system else "",
                    sort=index * 10,
                    system="Y" if system else "N",
                    # The default funnel's stages carry no category id (crm.status.list shows null).
                    category_id=category_id or None,
                    color=stage.color,
                    semantics=stage.semantics,
                )
            )
    for entity, items in (
        ("DEAL_TYPE", data.DEAL_TYPES),
        ("SOURCE", data.SOURCES),
        ("CONTACT_TYPE", data.CONTACT_TYPES),
    ):
        rows.extend(
            Status(entity_id=entity, status_id=code, name=name, sort=index * 10)
            for index, (code, name) in enumerate(items, start=1)
        )
    for id_, row in enumerate(rows, start=1):
        row.id = id_
    return rows


def _user_fields() -> list[DealUserField]:
    return [
        DealUserField(
            id=id_,
            field_name=name,
            user_type_id=type_id,
            label=label,
            sort=sort,
            items=deepcopy(items),
        )
        for id_, (name, type_id, label, sort, items) in enumerate(data.USER_FIELDS, start=1)
    ]


def _products() -> list[Product]:
    products: list[Product] = []
    for id_, spec in enumerate(data.PRODUCTS, start=1):
        created = data.BASE_TIME - timedelta(days=500 - id_ * 5)
        products.append(
            Product(
                id=id_,
                name=spec.name,
                code=slugify(spec.name),
                price=Decimal(spec.price),
                currency_id=spec.currency,
                sort=id_ * 10,
                vat_rate=None if spec.vat_rate is None else Decimal(spec.vat_rate),
                vat_included=spec.vat_included,
                measure_code=spec.measure[0],
                measure_name=spec.measure[1],
                xml_id=str(id_),
                type=spec.type,
                date_create=created,
                timestamp_x=created + timedelta(days=30),
            )
        )
    return products


def _card_configs() -> list[CardConfig]:
    # Funnel 2 deliberately has no stored layout: crm.deal.details.configuration.get answers null.
    return [
        CardConfig(
            id=id_,
            category_id=category_id,
            scope=CardConfig.Scope.COMMON,
            user_id=None,
            data=deepcopy(layout),
        )
        for id_, (category_id, layout) in enumerate(sorted(data.CARD_LAYOUTS.items()), start=1)
    ]


def _app() -> App:
    public_url = settings.APP_PUBLIC_URL
    return App(
        id=1,
        client_id=settings.B24_CLIENT_ID,
        client_secret=settings.B24_CLIENT_SECRET,
        name=data.APP_NAME,
        code=data.APP_CODE,
        version=1,
        handler_url=public_url,
        install_url=f"{public_url}b24/install/",
        event_install_url="",
        redirect_uri=f"{public_url}b24/oauth/callback/",
        scope=data.APP_SCOPE,
        state=App.State.NOT_INSTALLED,
    )


# --- Contacts -------------------------------------------------------------------------------------


def _contacts(rng: random.Random) -> tuple[list[Contact], list[Multifield], dict[int, list[int]]]:
    """Contacts, their phones and e-mails, and the contact ids of each company (by index)."""
    names = rng.sample(
        [(first, last) for first in data.FIRST_NAMES for last in data.LAST_NAMES],
        data.CONTACT_COUNT,
    )
    company_of = {contact_id: rng.randrange(len(data.COMPANIES)) for contact_id in range(1, data.CONTACT_COUNT + 1)}
    for leader, follower in (data.SHARED_PHONE_CONTACTS, data.SHARED_EMAIL_CONTACTS):
        company_of[follower] = company_of[leader]  # colleagues sharing a number or mailbox
    contacts: list[Contact] = []
    channels: list[Multifield] = []
    used_phones: set[str] = set()
    for contact_id, (first, last) in enumerate(names, start=1):
        company = data.COMPANIES[company_of[contact_id]]
        created = data.BASE_TIME - timedelta(days=400 - contact_id * 6, hours=rng.randint(0, 9))
        assignee = rng.choice(data.SALES_USER_IDS)
        contacts.append(
            Contact(
                id=contact_id,
                name=first,
                last_name=last,
                post=rng.choice(data.POSTS),
                type_id=_weighted(rng, (("CLIENT", 8), ("PARTNER", 2), ("SUPPLIER", 1), ("OTHER", 1))),
                source_id=rng.choice(data.SOURCES)[0],
                assigned_by_id=assignee,
                created_by_id=assignee,
                modify_by_id=assignee,
                comments=rng.choice(data.CONTACT_COMMENTS) if rng.random() < 0.15 else "",
                date_create=created,
                date_modify=created + timedelta(days=rng.randint(0, 30), minutes=rng.randint(0, 600)),
            )
        )
        for type_id, value_type, value in _channels(rng, contact_id, first, last, company, used_phones, channels):
            channels.append(
                Multifield(
                    id=len(channels) + 1,
                    entity_id="CONTACT",
                    element_id=contact_id,
                    type_id=type_id,
                    value_type=value_type,
                    value=value,
                )
            )
    by_company: dict[int, list[int]] = defaultdict(list)
    for contact_id, company_index in company_of.items():
        by_company[company_index].append(contact_id)
    return contacts, channels, dict(by_company)


def _channels(
    rng: random.Random,
    contact_id: int,
    first: str,
    last: str,
    company: data.CompanySpec,
    used_phones: set[str],
    earlier: Sequence[Multifield],
) -> list[tuple[str, str, str]]:
    """(TYPE_ID, VALUE_TYPE, VALUE) of one contact's phones and e-mails."""
    if contact_id in data.CONTACTS_WITHOUT_CHANNELS:
        return []
    phone_count = _weighted(rng, ((0, 1), (1, 6), (2, 3)))
    has_email = rng.random() < 0.9
    if contact_id in data.SHARED_PHONE_CONTACTS:
        phone_count = max(phone_count, 1)
    result: list[tuple[str, str, str]] = []
    for index in range(phone_count):
        mobile = index == 1
        if contact_id == data.SHARED_PHONE_CONTACTS[1] and index == 0:
            value = next(
                f.value for f in earlier if f.element_id == data.SHARED_PHONE_CONTACTS[0] and f.type_id == "PHONE"
            )
        else:
            value = _new_phone(rng, company, used_phones, mobile=mobile)
        result.append(("PHONE", "MOBILE" if mobile else "WORK", value))
    if contact_id in data.SHARED_EMAIL_CONTACTS:
        result.append(("EMAIL", "WORK", f"purchasing@{company.domain}"))
    elif has_email:
        local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
        result.append(("EMAIL", "WORK", f"{local}@{company.domain}"))
    return result


def _new_phone(rng: random.Random, company: data.CompanySpec, used: set[str], *, mobile: bool) -> str:
    """An unused E.164 number from the ranges set aside for fiction."""
    while True:
        if company.country == "GB":
            prefix = "+447700900" if mobile else "+442079460"
            number = f"{prefix}{rng.randint(0, 999):03d}"
        else:
            area = rng.choice(("917", "646", "650", "773")) if mobile else company.area_code
            number = f"+1{area}55501{rng.randint(0, 99):02d}"
        if number not in used:
            used.add(number)
            return number


# --- Deals ----------------------------------------------------------------------------------------


@dataclass
class _DealSet:
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


def _deals(rng: random.Random, contacts_by_company: dict[int, list[int]], products: list[Product]) -> _DealSet:
    result = _DealSet()
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
        slots.append((_weighted(rng, data.FUNNEL_WEIGHTS), rng.choices(data.STAGES, stage_weights)[0]))
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
        modified = _at(closedate, 16, rng.randint(0, 59))
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
        stage_id=_stage_id(category_id, stage.status_id),
        is_new="Y" if stage.status_id == "NEW" else "N",
        is_recurring="Y" if any(spec.deal_id == deal_id for spec in data.RECURRENCES) else "N",
        is_return_customer="Y" if rng.random() < 0.2 else "N",
        probability=stage.probability,
        currency_id=_weighted(rng, data.CURRENCY_WEIGHTS),
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
        count = _weighted(rng, data.CONTACT_COUNT_WEIGHTS)
    colleagues = contacts_by_company.get(company_index, [])
    picked = rng.sample(colleagues, min(count, len(colleagues)))
    outsiders = [c for c in range(1, data.CONTACT_COUNT + 1) if c not in picked]
    return picked + rng.sample(outsiders, count - len(picked))


def _rows(rng: random.Random, deal: Deal, products: list[Product], *, first_id: int) -> list[ProductRow]:
    if deal.id in data.DEALS_WITHOUT_ROWS:
        return []
    count = _weighted(rng, data.ROW_COUNT_WEIGHTS)
    free_text = 1 if rng.random() < 0.25 else 0
    sources = [_RowSource.from_product(product) for product in rng.sample(products, count - free_text)]
    if free_text:
        name, price, measure = rng.choice(data.FREE_TEXT_ROWS)
        sources.append(_RowSource(product_id=0, name=name, price=Decimal(price), currency="USD", measure=measure))
    return [
        _row(rng, deal, source, row_id=first_id + index, sort=(index + 1) * 10) for index, source in enumerate(sources)
    ]


def _row(rng: random.Random, deal: Deal, source: _RowSource, *, row_id: int, sort: int) -> ProductRow:
    netto = _convert(source.price, source.currency, deal.currency_id)
    tax_rate: Decimal | None
    if source.vat_rate is not None:
        tax_rate, tax_included = source.vat_rate, source.vat_included
    else:
        tax_rate = _weighted(rng, ((None, 2), (Decimal(10), 1), (Decimal(20), 1)))
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
    amount = _convert(Decimal(rng.choice(("5.00", "10.00", "25.00", "49.90", "100.00"))), "USD", currency)
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


# --- Helpers --------------------------------------------------------------------------------------


def _weighted[T](rng: random.Random, choices: Iterable[tuple[T, int]]) -> T:
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights)[0]


def _convert(amount: Decimal, from_currency: str, to_currency: str) -> Decimal:
    """Convert through the base currency with the seeded rates, to whole cents."""
    source = data.CURRENCY_BY_CODE[from_currency]
    target = data.CURRENCY_BY_CODE[to_currency]
    in_base = amount * source.amount / source.amount_cnt
    return (in_base * target.amount_cnt / target.amount).quantize(CENT, ROUND_HALF_UP)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=data.BASE_TIME.tzinfo)
