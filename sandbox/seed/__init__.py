"""Wipes the sandbox portal and fills it with a realistic, fully reproducible demo data set.

Everything comes from the tables in sandbox.seed.data (card layouts in sandbox.seed.layouts), a
`random.Random` with a fixed seed and dates offset from a fixed "now", and every row gets an
explicit id: seeding twice gives the same rows with the same ids. One builder module per kind of
row (dictionaries.py, contacts.py, deals.py); common.py holds what they share.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from functools import partial

from django.apps import apps
from django.core.management.color import no_style
from django.db import connections, models, transaction

from sandbox.seed import data
from sandbox.seed.contacts import build_contacts
from sandbox.seed.deals import build_deals
from sandbox.seed.dictionaries import (
    build_app,
    build_card_configs,
    build_categories,
    build_currencies,
    build_portal,
    build_products,
    build_statuses,
    build_user_fields,
    build_users,
)


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
    rng = random.Random(data.RANDOM_SEED)  # noqa: S311 - reproducible demo data, not a secret
    with transaction.atomic(using=using):
        _wipe(using)
        save = partial(_save, using)
        save([build_portal()])
        users = save(build_users())
        currencies = save(build_currencies())
        categories = save(build_categories())
        statuses = save(build_statuses())
        user_fields = save(build_user_fields())
        products = save(build_products())
        contacts, multifields, contacts_by_company = build_contacts(rng)
        save(contacts)
        save(multifields)
        deals = build_deals(rng, contacts_by_company, products)
        save(deals.deals)
        save(deals.bindings)
        save(deals.rows)
        save(deals.recurrences)
        card_configs = save(build_card_configs())
        save([build_app()])
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
