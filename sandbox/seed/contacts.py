"""Contacts with their phones and e-mails, grouped by company."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from sandbox.models import (
    Contact,
    Multifield,
)
from sandbox.seed import data
from sandbox.seed.common import weighted


def build_contacts(rng: random.Random) -> tuple[list[Contact], list[Multifield], dict[int, list[int]]]:
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
                type_id=weighted(rng, (("CLIENT", 8), ("PARTNER", 2), ("SUPPLIER", 1), ("OTHER", 1))),
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
    phone_count = weighted(rng, ((0, 1), (1, 6), (2, 3)))
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
