"""What a deal write asks for and how it is applied: the `fields` of crm.deal.add/update and
crm.item.update read into `Changes`, then written to the deal with what follows from them (stage,
funnel, amounts, contact bindings).

Behaviour per deals-api-spec.md §4, §5, §9.1 and rules §11. Helpers for the REST methods in
sandbox/methods/deals.py and sandbox/methods/deal_items.py, and for other sandbox modules:

- `touch_deal(deal, user) -> None` — stamps DATE_MODIFY = now and MODIFY_BY_ID = user, and saves
  those two columns. Call it after changing anything that belongs to a deal.
- `deal_changed_event(deal, user) -> None` — queues ONCRMDEALUPDATE for the deal.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sandbox.deal_fields import DealContext, Stage
from sandbox.events import queue_event
from sandbox.models import Contact, Currency, Deal, DealContact, DealUserField, Status, User
from sandbox.pricing import deal_totals, stored_row_prices
from sandbox.wire import parse_day, parse_decimal, strict_int, yn

INT_MAX = 2**31 - 1  # PositiveIntegerField / IntegerField columns
MONEY_LIMIT = Decimal(10) ** 18  # DecimalField(max_digits=20, decimal_places=2)
CENT = Decimal("0.01")
_SKIP: Any = object()  # "ignore this field": Bitrix24 drops values it cannot use, without an error


def touch_deal(deal: Deal, user: User) -> None:
    """DATE_MODIFY = now, MODIFY_BY_ID = user; saves only those two columns."""
    deal.date_modify = timezone.now()
    deal.modify_by_id = user.pk
    deal.save(update_fields=["date_modify", "modify_by_id"])


def deal_changed_event(deal: Deal, user: User) -> None:
    queue_event("ONCRMDEALUPDATE", {"FIELDS": {"ID": str(deal.pk)}}, user=user)


# --- Reading `fields` --------------------------------------------------------------------------------

# Writable scalar fields: API name -> (model attribute, kind, max length).
SIMPLE_FIELDS: dict[str, tuple[str, str, int]] = {
    "TITLE": ("title", "str", 255), "TYPE_ID": ("type_id", "code", 50),
    "IS_RECURRING": ("is_recurring", "yn", 0), "IS_RETURN_CUSTOMER": ("is_return_customer", "yn", 0),
    "IS_REPEATED_APPROACH": ("is_repeated_approach", "yn", 0), "PROBABILITY": ("probability", "int", 0),
    "OPPORTUNITY": ("opportunity", "money", 0), "IS_MANUAL_OPPORTUNITY": ("is_manual_opportunity", "yn", 0),
    "TAX_VALUE": ("tax_value", "money", 0), "COMPANY_ID": ("company_id", "ref_id", 0),
    "BEGINDATE": ("begindate", "date", 0), "CLOSEDATE": ("closedate", "date", 0),
    "OPENED": ("opened", "yn", 0), "CLOSED": ("closed", "yn", 0), "COMMENTS": ("comments", "str", 0),
    "ASSIGNED_BY_ID": ("assigned_by_id", "user", 0), "SOURCE_ID": ("source_id", "code", 50),
    "SOURCE_DESCRIPTION": ("source_description", "str", 0), "ADDITIONAL_INFO": ("additional_info", "str", 0),
    "LOCATION_ID": ("location_id", "nstr", 50), "ORIGINATOR_ID": ("originator_id", "nstr", 255),
    "ORIGIN_ID": ("origin_id", "nstr", 255), "UTM_SOURCE": ("utm_source", "nstr", 255),
    "UTM_MEDIUM": ("utm_medium", "nstr", 255), "UTM_CAMPAIGN": ("utm_campaign", "nstr", 255),
    "UTM_CONTENT": ("utm_content", "nstr", 255), "UTM_TERM": ("utm_term", "nstr", 255),
}  # fmt: skip
SPECIAL_FIELDS = ("CATEGORY_ID", "STAGE_ID", "CURRENCY_ID", "CONTACT_ID", "CONTACT_IDS")


class FieldError(Exception):
    """A value Bitrix24 refuses instead of ignoring; `title` is the field's name in the message."""

    def __init__(self, title: str) -> None:
        super().__init__(title)
        self.title = title


@dataclass
class Changes:
    values: dict[str, Any] = field(default_factory=dict)  # model attribute -> value
    uf: dict[str, Any] = field(default_factory=dict)  # UF name -> value (None clears)
    category_id: int | None = None
    stage_id: str | None = None
    contact_ids: list[int] | None = None  # the whole set, first one primary
    contact_id: int | None = None  # deprecated CONTACT_ID: 0 unbinds everybody

    @property
    def touches_amount(self) -> bool:
        return bool({"opportunity", "tax_value", "is_manual_opportunity"} & set(self.values))


def _text(value: Any) -> str | None:
    """A scalar as PHP turns it into a string; None for arrays, which no text field takes."""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _scalar(kind: str, value: Any, max_length: int) -> Any:
    if kind in ("str", "code", "nstr"):
        if value is None or value == "":
            return None if kind == "nstr" else ""
        text = _text(value)
        if text is None:
            return _SKIP
        text = text.strip() if kind == "code" else text
        return text[:max_length] if max_length else text
    if kind == "yn":
        flag = yn(value, "?") if isinstance(value, str | int | bool) else "?"
        return flag if flag in ("Y", "N") else _SKIP
    if kind == "money":
        amount = parse_decimal(value) if not isinstance(value, list | dict) else None
        if amount is None or abs(amount) >= MONEY_LIMIT:
            return _SKIP
        return amount.quantize(CENT, ROUND_HALF_UP)
    if kind == "date":
        if value is None or value == "":
            return None
        return parse_day(value) or _SKIP
    if value is None or value == "" or (kind == "ref_id" and value in (0, "0")):
        return None if kind in ("int", "ref_id") else _SKIP
    number = strict_int(value)
    low = -INT_MAX if kind == "int" else 1
    return number if number is not None and low <= number <= INT_MAX else _SKIP


def _id_list(value: Any) -> list[int]:
    items = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else [value]
    ids = [n for n in (strict_int(v) for v in items[:500] if not isinstance(v, list | dict)) if n and 0 < n <= INT_MAX]
    existing = set(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True))
    return list(dict.fromkeys(i for i in ids if i in existing))


def _currency(value: Any) -> str:
    text = _text(value)
    match = Currency.objects.filter(code__iexact=text.strip()).first() if text and len(text) < 10 else None
    if match is None:
        raise FieldError("Currency")
    return match.code


def parse_fields(raw: dict[str, Any], context: DealContext, *, allow_category: bool) -> Changes:
    """What `fields` asks for. Unknown, read-only and (on update) immutable keys are dropped, as
    "An incorrect field in `fields` will be ignored" (§5.2, restservice.php internalizeFields)."""
    changes = Changes()
    for key, value in raw.items():
        if key in SIMPLE_FIELDS:
            attr, kind, max_length = SIMPLE_FIELDS[key]
            parsed = _scalar(kind, value, max_length)
            if parsed is not _SKIP:
                changes.values[attr] = parsed
        elif key == "CURRENCY_ID" and value not in (None, ""):
            changes.values["currency_id"] = _currency(value)
        elif key == "STAGE_ID" and _text(value):
            changes.stage_id = str(_text(value)).strip()
        elif key == "CATEGORY_ID" and allow_category:
            number = strict_int(value)
            # -1 marks an unusable funnel id: add falls back to the default funnel, a move refuses it.
            changes.category_id = number if number is not None and 0 <= number <= INT_MAX else -1
        elif key == "CONTACT_IDS":
            changes.contact_ids = _id_list(value) if value not in (None, "") else []
        elif key == "CONTACT_ID":
            number = strict_int(value) if value not in (None, "") else 0
            if number is not None and 0 <= number <= INT_MAX:
                changes.contact_id = number
        elif key.startswith("UF_") and (uf := context.user_field(key)) is not None:
            parsed = _uf_value(uf, value)
            if parsed is not _SKIP:
                changes.uf[key] = parsed
    return changes


def _uf_value(uf: DealUserField, value: Any) -> Any:
    if uf.multiple == "Y":
        items = list(value.values()) if isinstance(value, dict) else value if isinstance(value, list) else [value]
        return [v for v in (_uf_one(uf, item) for item in items if item not in (None, "")) if v is not _SKIP]
    if isinstance(value, list | dict):
        return _SKIP
    return None if value is None or value == "" else _uf_one(uf, value)


def _uf_one(uf: DealUserField, value: Any) -> Any:
    """One UF value, stored as the legacy API sends it back: a string in the type's format."""
    text = _text(value)
    if text is None:
        return _SKIP
    kind = uf.user_type_id
    if kind == "enumeration":
        return text if text in {str(item.get("ID")) for item in uf.items} else _SKIP
    if kind == "integer":
        number = strict_int(value)
        return str(number) if number is not None else _SKIP
    if kind == "double":
        amount = parse_decimal(value)
        return format(amount.normalize(), "f") if amount is not None else _SKIP
    if kind == "boolean":
        return {"Y": "1", "N": "0"}.get(yn(value, "?"), _SKIP)
    if kind == "date":
        day = parse_day(value)
        return day.isoformat() if day else _SKIP
    if kind == "datetime":
        try:
            moment = parse_datetime(text.strip())
        except ValueError:
            moment = None
        return moment.isoformat() if moment else _SKIP
    if kind == "money":
        return _uf_money(text)
    return text


def _uf_money(text: str) -> Any:
    """A money value is stored as "amount|CURRENCY" ("100.5|USD"); no currency means the base one."""
    amount_text, _, code = text.partition("|")
    amount = parse_decimal(amount_text)
    if amount is None or abs(amount) >= MONEY_LIMIT:
        return _SKIP
    base = Currency.objects.filter(base=True).values_list("code", flat=True).first() or "USD"
    currency = Currency.objects.filter(code__iexact=code.strip()).values_list("code", flat=True).first()
    return f"{format(amount.normalize(), 'f')}|{currency or base}"


# --- Writing a deal -------------------------------------------------------------------------------


def _set_stage(deal: Deal, stage: Stage, user: User, context: DealContext) -> None:
    """Stage and what follows from it: funnel, IS_NEW, CLOSED on final stages, who moved it when."""
    first = context.first_stage(stage.category_id)
    deal.stage_id = stage.status_id
    deal.category_id = stage.category_id
    deal.is_new = "Y" if first and first.status_id == stage.status_id else "N"
    deal.closed = "Y" if stage.semantic in ("S", "F") else "N"
    deal.moved_by_id = user.pk
    deal.moved_time = timezone.now()


def _apply(deal: Deal, changes: Changes) -> None:
    for attr, value in changes.values.items():
        setattr(deal, attr, value)
    for name, value in changes.uf.items():
        if value is None:
            deal.uf.pop(name, None)
        else:
            deal.uf[name] = value


def _bindings(deal: Deal) -> list[tuple[int, int, str]]:
    return list(DealContact.objects.filter(deal=deal).values_list("contact_id", "sort", "is_primary"))


def write_contacts(deal: Deal, changes: Changes) -> None:
    """CONTACT_IDS replaces the set (first one primary); the deprecated CONTACT_ID binds one
    contact and makes it primary, or with 0 unbinds everybody."""
    if changes.contact_ids is not None:
        wanted = [(c, (i + 1) * 10, "Y" if i == 0 else "N") for i, c in enumerate(changes.contact_ids)]
    elif changes.contact_id is not None:
        current = _bindings(deal)
        if changes.contact_id == 0:
            wanted = []
        elif changes.contact_id not in {c for c, _s, _p in current}:
            if not Contact.objects.filter(pk=changes.contact_id).exists():
                return
            next_sort = max((s for _c, s, _p in current), default=0) + 10
            wanted = [(c, s, "N") for c, s, _p in current] + [(changes.contact_id, next_sort, "Y")]
        else:
            wanted = [(c, s, "Y" if c == changes.contact_id else "N") for c, s, _p in current]
    else:
        return
    if wanted == _bindings(deal):
        return
    DealContact.objects.filter(deal=deal).delete()
    DealContact.objects.bulk_create(
        DealContact(deal=deal, contact_id=c, sort=sort, is_primary=primary) for c, sort, primary in wanted
    )


def _recalculate_amounts(deal: Deal) -> None:
    """In automatic mode the amount follows the product rows, if there are any (§11 R5)."""
    rows = list(deal.product_rows.all())
    if deal.is_manual_opportunity == "Y" or not rows:
        return
    # The basket calculation of productrows.set, but over the prices as stored, not re-rounded
    # to cents first (bitrix24-pricing.md; docs/sandbox.md "Price arithmetic").
    totals = deal_totals(stored_row_prices(row) for row in rows)
    deal.opportunity, deal.tax_value = totals.opportunity, totals.tax_value


def _snapshot(deal: Deal) -> tuple[dict[str, Any], list[tuple[int, int, str]]]:
    values = {f.attname: copy.deepcopy(getattr(deal, f.attname)) for f in Deal._meta.concrete_fields}
    return values, _bindings(deal)


def save_update(deal: Deal, changes: Changes, stage: Stage | None, user: User, context: DealContext) -> bool:
    """Apply an update; save and stamp only when something really changed. True if it did."""
    before = _snapshot(deal)
    _apply(deal, changes)
    if stage is not None and (stage.status_id != deal.stage_id or stage.category_id != deal.category_id):
        _set_stage(deal, stage, user, context)
    if changes.touches_amount:
        _recalculate_amounts(deal)
    write_contacts(deal, changes)
    if _snapshot(deal) == before:
        return False
    deal.date_modify = timezone.now()
    deal.modify_by_id = user.pk
    deal.save()
    return True


def new_deal(user: User, changes: Changes, context: DealContext) -> Deal:
    """Defaults of crm.deal.add (§4.1, R7): first type, first source, base currency, dates."""
    now = timezone.now()
    today = timezone.localdate()
    first_type = Status.objects.filter(entity_id="DEAL_TYPE").order_by("sort", "id").first()
    first_source = Status.objects.filter(entity_id="SOURCE").order_by("sort", "id").first()
    base = Currency.objects.filter(base=True).first()
    deal = Deal(
        title="",
        type_id=first_type.status_id if first_type else "SALE",
        source_id=first_source.status_id if first_source else "",
        currency_id=base.code if base else "USD",
        assigned_by_id=user.pk,
        created_by_id=user.pk,
        modify_by_id=user.pk,
        date_create=now,
        date_modify=now,
        begindate=today,
        closedate=today + timedelta(days=7),
        last_activity_time=now,
        last_activity_by=user.pk,
    )
    _apply(deal, changes)
    # An empty date on add means "the default", not "no date".
    deal.begindate = deal.begindate or today
    deal.closedate = deal.closedate or today + timedelta(days=7)
    stage = _stage_for_add(changes, context)
    if stage is not None:
        _set_stage(deal, stage, user, context)
    return deal


def _stage_for_add(changes: Changes, context: DealContext) -> Stage | None:
    """Funnel as given (≥ 0 and existing, else the default one), or the given stage's funnel when
    CATEGORY_ID is absent; a stage outside the funnel falls back to its first stage."""
    asked = context.stages.get(changes.stage_id or "")
    category = changes.category_id
    if category is None or category not in context.categories:
        category = asked.category_id if changes.category_id is None and asked else 0
    if asked is not None and asked.category_id == category:
        return asked
    return context.first_stage(category)
