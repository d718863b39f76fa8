"""The portal, its people and dictionaries: users, currencies, funnels and stages, user fields,
the catalog, card configurations and the Deal Desk app row."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import asdict
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils.text import slugify

from sandbox.models import (
    App,
    CardConfig,
    Category,
    Currency,
    DealUserField,
    Portal,
    Product,
    Status,
    User,
)
from sandbox.seed import data
from sandbox.seed.common import stage_code
from sandbox.seed.layouts import CARD_LAYOUTS


def build_portal() -> Portal:
    return Portal(id=1, member_id=data.MEMBER_ID, license=data.LICENSE)


def build_users() -> list[User]:
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


def build_currencies() -> list[Currency]:
    return [
        # CurrencySpec's fields are named after the model's.
        Currency(**asdict(spec), date_update=data.BASE_TIME - timedelta(days=1))
        for spec in data.CURRENCIES
    ]


def build_categories() -> list[Category]:
    return [Category(id=id_, name=name, sort=sort, is_default=default) for id_, name, sort, default in data.CATEGORIES]


def build_statuses() -> list[Status]:
    rows: list[Status] = []
    for category_id, _name, _sort, _default in data.CATEGORIES:
        entity = "DEAL_STAGE" if category_id == 0 else f"DEAL_STAGE_{category_id}"
        for index, stage in enumerate(data.STAGES, start=1):
            system = stage.status_id in data.SYSTEM_STAGES
            rows.append(
                Status(
                    entity_id=entity,
                    status_id=stage_code(category_id, stage.status_id),
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


def build_user_fields() -> list[DealUserField]:
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


def build_products() -> list[Product]:
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


def build_card_configs() -> list[CardConfig]:
    # Funnel 2 deliberately has no stored layout: crm.deal.details.configuration.get answers null.
    return [
        CardConfig(
            id=id_,
            category_id=category_id,
            scope=CardConfig.Scope.COMMON,
            user_id=None,
            data=deepcopy(layout),
        )
        for id_, (category_id, layout) in enumerate(sorted(CARD_LAYOUTS.items()), start=1)
    ]


def build_app() -> App:
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
