"""Deal ↔ contact bindings: crm.deal.contact.* (one contact) and crm.deal.contact.items.* (the set).

Sources: deals-api-spec.md §7 and Appendix A.2, and the current pages under
https://apidocs.bitrix24.com/api-reference/crm/deals/contacts/ . A deal with contacts always has
exactly one primary binding; the deal's CONTACT_ID / CONTACT_IDS are derived from these rows by
the deal methods, so this module only keeps the DealContact rows; a binding change never moves the deal's
DATE_MODIFY nor sends ONCRMDEALUPDATE (crm/lib/binding/dealcontact.php).
Error texts differ per method on purpose: they are copied from each method's page. Keys inside
`fields` and `items` are PHP array keys, so they are case-sensitive (CONTACT_ID, not contact_id).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.models import Contact, Deal, DealContact
from sandbox.permissions import can_add, can_edit_deal, can_read_crm
from sandbox.rest.errors import RestError, legacy
from sandbox.rest.registry import Call, rest_method
from sandbox.wire import field_descriptor

MAX_ITEMS = 500  # not a Bitrix24 limit; keeps one call from writing an unbounded set
SORT_MAX = 2**31 - 1  # SORT is a 32-bit column on the portal
PHP_INT_MAX = 2**63 - 1
_LEADING_INT = re.compile(r"^\s*([+-]?\d+)")

# Per-method texts (Appendix A.2): add/delete quote 'ownerEntityID', the items.* methods do not.
OWNER_QUOTED = "The parameter 'ownerEntityID' is invalid or not defined."
OWNER_PLAIN = "The parameter ownerEntityID is invalid or not defined."


@dataclass(frozen=True)
class Binding:
    contact_id: int
    sort: int
    is_primary: bool


def php_int(value: Any) -> int:
    """PHP's (int) cast, which the portal applies to ids: "12" → 12, "12abc" → 12, "abc" → 0.

    An array is 0 when empty and **1** otherwise, null is 0, true is 1: a misdirected write with an
    array id lands on record 1 (CCrmRestHelper::resolveEntityID, bitrix24-batch.md "Ids").
    """
    if isinstance(value, list | dict):
        return 1 if value else 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = int(value) if value == value and abs(value) < 2**63 else 0
    elif isinstance(value, str):
        match = _LEADING_INT.match(value)
        number = int(match.group(1)) if match else 0
    else:
        return 0
    return max(-PHP_INT_MAX - 1, min(PHP_INT_MAX, number))


def as_php_array(value: Any) -> dict[str, Any] | None:
    """A JSON object or list is a PHP array; anything else is not."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    return None


# --- Reading and writing bindings -----------------------------------------------------------------


def bindings_of(deal: Deal) -> list[DealContact]:
    return list(DealContact.objects.filter(deal=deal).order_by("sort", "id"))


def binding_json(binding: DealContact) -> dict[str, Any]:
    # Numbers here are JSON numbers, unlike deal fields (items.get sample, §7.4).
    return {
        "CONTACT_ID": binding.contact_id,
        "SORT": binding.sort,
        "ROLE_ID": binding.role_id,
        "IS_PRIMARY": binding.is_primary,
    }


def ensure_primary(deal_id: int) -> None:
    """ "There is always a primary contact in the deal": promote the first binding if none is."""
    rows = DealContact.objects.filter(deal_id=deal_id).order_by("sort", "id")
    first = rows.first()
    if first is not None and not rows.filter(is_primary="Y").exists():
        DealContact.objects.filter(pk=first.pk).update(is_primary="Y")


def normalize_items(raw_items: Iterable[Any]) -> list[Binding]:
    """items.set input → bindings: skip bad elements, keep the first of duplicates, pick one primary.

    As the current docs say: elements without a CONTACT_ID > 0 are skipped without error; SORT
    missing or ≤ 0 becomes (i + 1) * 10; the first IS_PRIMARY=Y wins, else the first item.
    """
    seen: set[int] = set()
    picked: list[tuple[int, int, bool]] = []
    for index, raw in enumerate(raw_items):
        item = as_php_array(raw)
        if item is None:
            continue
        contact_id = php_int(item.get("CONTACT_ID"))
        if contact_id <= 0 or contact_id in seen:
            continue
        seen.add(contact_id)
        sort = php_int(item.get("SORT"))
        sort = min(sort, SORT_MAX) if sort > 0 else (index + 1) * 10
        picked.append((contact_id, sort, str(item.get("IS_PRIMARY") or "").strip().upper() == "Y"))
    primary = next((cid for cid, _, wants in picked if wants), picked[0][0] if picked else None)
    return [Binding(cid, sort, cid == primary) for cid, sort, _ in picked]


def replace_bindings(deal: Deal, wanted: list[Binding]) -> bool:
    """Make the deal's bindings exactly `wanted`; True when anything changed."""
    current = {(b.contact_id, b.sort, b.is_primary == "Y") for b in bindings_of(deal)}
    if current == {(b.contact_id, b.sort, b.is_primary) for b in wanted}:
        return False
    DealContact.objects.filter(deal=deal).delete()
    DealContact.objects.bulk_create(
        DealContact(deal=deal, contact_id=b.contact_id, sort=b.sort, is_primary="Y" if b.is_primary else "N")
        for b in wanted
    )
    return True


def check_contacts_exist(contact_ids: list[int]) -> None:
    """The portal checks read access to each contact a call binds; a missing contact fails it.

    Wording from the crm.quote.contact.items.set / crm.lead.contact.items.set pages.
    """
    existing = set(Contact.objects.filter(pk__in=contact_ids).values_list("pk", flat=True))
    for contact_id in contact_ids:
        if contact_id not in existing:
            raise legacy(f"[Contact #{contact_id}] You do not have permission to view this item")


# --- Checks shared by the methods -----------------------------------------------------------------


def owner_id(call: Call, message: str) -> int:
    deal_id = php_int(call.param("id"))
    if deal_id <= 0:
        raise legacy(message)
    return deal_id


def find_deal(deal_id: int, message: str = "Not found.") -> Deal:
    deal = Deal.objects.filter(pk=deal_id).first()
    if deal is None:
        raise legacy(message)
    return deal


def deal_access_denied() -> RestError:
    """No right on this particular deal: an AccessException, 403 (Appendix A.2, protocol §3.5)."""
    return RestError("ACCESS_DENIED", "Access denied!", 403)


def require_modify(call: Call, deal_id: int) -> Deal:
    """Modify rights: none at all on deals → "Access denied." (400); not on this deal → 403."""
    if not can_add(call.user):  # a role that may not add deals may not modify any either
        raise legacy("Access denied.")
    deal = find_deal(deal_id)
    if not can_edit_deal(call.user, deal):
        raise deal_access_denied()
    return deal


# --- Methods --------------------------------------------------------------------------------------


@rest_method("crm.deal.contact.fields", scope="crm")
def deal_contact_fields(call: Call) -> dict[str, Any]:
    return {
        "SORT": field_descriptor("integer", "Sorting"),
        "IS_PRIMARY": field_descriptor("char", "Primary"),
        "CONTACT_ID": field_descriptor("integer", "Contact", required=True),
    }


@rest_method("crm.deal.contact.items.get", scope="crm")
def deal_contact_items_get(call: Call) -> list[dict[str, Any]]:
    deal_id = owner_id(call, OWNER_PLAIN)
    if not can_read_crm(call.user):
        raise legacy("Access denied.")
    # Every role reads every deal (sandbox/permissions.py), so there is no per-deal 403 here.
    deal = find_deal(deal_id)
    return [binding_json(b) for b in bindings_of(deal)]


@rest_method("crm.deal.contact.items.set", scope="crm")
def deal_contact_items_set(call: Call) -> bool:
    deal_id = owner_id(call, OWNER_PLAIN)
    raw = call.param("items")
    # {} and keyed objects are PHP arrays too; a list is the usual form.
    items = list(raw.values()) if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise legacy("The parameter items must be array.")
    if len(items) > MAX_ITEMS:
        raise legacy(f"The parameter items must not contain more than {MAX_ITEMS} elements.")
    deal = require_modify(call, deal_id)
    wanted = normalize_items(items)
    current_ids = set(DealContact.objects.filter(deal=deal).values_list("contact_id", flat=True))
    check_contacts_exist([b.contact_id for b in wanted if b.contact_id not in current_ids])
    # A binding change writes the binding table (and the deal's CONTACT_ID) only: DATE_MODIFY stays
    # and no ONCRMDEALUPDATE is sent (crm/lib/binding/dealcontact.php; bitrix24-batch.md "Ids").
    replace_bindings(deal, wanted)
    # true also when the set did not change (crm.lead.contact.items.set page).
    return True


@rest_method("crm.deal.contact.items.delete", scope="crm")
def deal_contact_items_delete(call: Call) -> bool:
    deal_id = owner_id(call, OWNER_PLAIN)
    # This page's texts have no trailing period, and its 400 is about reading deals at all.
    if not can_read_crm(call.user):
        raise legacy("Access denied")
    deal = find_deal(deal_id, "Not found")
    if not can_edit_deal(call.user, deal):
        raise deal_access_denied()
    DealContact.objects.filter(deal=deal).delete()  # DATE_MODIFY stays, no event (as items.set)
    return True


@rest_method("crm.deal.contact.add", scope="crm")
def deal_contact_add(call: Call) -> bool:
    deal_id = owner_id(call, OWNER_QUOTED)
    fields = as_php_array(call.param("fields"))
    if fields is None:
        raise legacy("The parameter 'fields' must be array.")
    contact_id = php_int(fields.get("CONTACT_ID"))
    if contact_id <= 0:
        raise legacy("The parameter 'fields' is not valid.")
    deal = require_modify(call, deal_id)
    existing = bindings_of(deal)
    if any(b.contact_id == contact_id for b in existing):
        return False
    check_contacts_exist([contact_id])
    sort = php_int(fields.get("SORT"))
    if sort <= 0:
        # Not documented: append after the current bindings (10 for the first, as old docs say).
        sort = max((b.sort for b in existing), default=0) + 10
    wants_primary = str(fields.get("IS_PRIMARY") or "").strip().upper() == "Y"
    primary = wants_primary or not any(b.is_primary == "Y" for b in existing)
    if primary:
        DealContact.objects.filter(deal=deal).update(is_primary="N")
    DealContact.objects.create(
        deal=deal, contact_id=contact_id, sort=min(sort, SORT_MAX), is_primary="Y" if primary else "N"
    )
    return True  # DATE_MODIFY stays, no event (as items.set)


@rest_method("crm.deal.contact.delete", scope="crm")
def deal_contact_delete(call: Call) -> bool:
    deal_id = owner_id(call, OWNER_QUOTED)
    fields = as_php_array(call.param("fields"))
    if fields is None:
        raise legacy("The parameter 'item' must be array.")  # sic, as the page says
    contact_id = php_int(fields.get("CONTACT_ID"))
    if contact_id <= 0:
        raise legacy("The parameter 'fields' is not valid.")
    deal = require_modify(call, deal_id)
    deleted, _ = DealContact.objects.filter(deal=deal, contact_id=contact_id).delete()
    if not deleted:
        return False
    ensure_primary(deal.pk)  # removing the primary promotes the first remaining binding
    return True  # DATE_MODIFY stays, no event (as items.set)
