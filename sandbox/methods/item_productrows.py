"""crm.item.productrow.fields / add / update / get / list / set / delete, for deals (ownerType D).

The same rows as crm.deal.productrows.*: a row is validated and priced by the very functions
crm.deal.productrows.set uses (sandbox.methods.productrows.read_row, sandbox.pricing), and after
every change the deal's OPPORTUNITY / TAX_VALUE are recalculated from all its rows with
sandbox.pricing.deal_totals unless IS_MANUAL_OPPORTUNITY is Y, DATE_MODIFY / MODIFY_BY_ID are
touched and ONCRMDEALUPDATE is queued - as that method does.

Answers and errors per b24restdocs (api-reference/crm/universal/product-rows/); what the pages
leave out per Bitrix's Crm\\Controller\\Item\\ProductRow: `set` writes new rows (an `id` is not
writable), rows without a single writable field are dropped, `update` with nothing writable is
refused field by field, the list needs `=ownerType` and `=ownerId` in its filter.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone

from sandbox import item_rows
from sandbox.events import queue_event
from sandbox.listing import paginate
from sandbox.methods.productrows import MAX_ROWS, RowDraft, fill_row, price_totals, products_by_id, read_row, save_rows
from sandbox.models import Deal, ProductRow, User
from sandbox.permissions import can_edit_deal, can_read_crm
from sandbox.pricing import PricingError, RowPrices, deal_totals
from sandbox.rest import engine
from sandbox.rest.engine import EngineError
from sandbox.rest.errors import RestError
from sandbox.rest.registry import Call, ListResult, rest_method

ROW_ORDER = ("sort", "id")
DB_ID_MAX = 2**63 - 1  # ids beyond this exist nowhere (and would overflow the database's integer)


def access_denied() -> EngineError:
    return EngineError("ACCESS_DENIED", "Access denied")


def row_not_found() -> EngineError:
    return EngineError("NOT_FOUND", "Item not found")


def owner_not_found() -> EngineError:
    return EngineError("OWNER_NOT_FOUND", "Owner was not found")


def not_supported(owner_type: str) -> EngineError:
    return EngineError(
        "ENTITY_TYPE_NOT_SUPPORTED", f"Entity type {item_rows.owner_type_name(owner_type)} is not supported"
    )


def row_error(exc: RestError) -> EngineError:
    """A row the pricing refuses: the legacy family's text, as a codeless engine error (code 0)."""
    return EngineError(0, exc.description.removesuffix("<br>"))


# --- Owners and rights -----------------------------------------------------------------------------


def owner_deal(owner_type: str, owner_id: Any, user: User) -> Deal:
    """The deal a write addresses, locked; only deals have rows in the sandbox."""
    code = owner_type.strip().upper()
    if code not in item_rows.WITH_ROWS:
        raise not_supported(owner_type)
    deal_id = engine_whole(owner_id)
    usable = code == "D" and 0 < deal_id <= DB_ID_MAX
    deal = Deal.objects.select_for_update().filter(pk=deal_id).first() if usable else None
    if deal is None:
        raise owner_not_found()
    if not can_edit_deal(user, deal):
        raise access_denied()
    return deal


def engine_whole(value: Any) -> int:
    """PHP (int) of an ownerId: leading digits, 0 for anything else."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    digits = text[1:] if text[:1] in "+-" else text
    number = int(digits) if digits.isdigit() and len(digits) < 19 else 0
    return -number if text.startswith("-") else number


def stored_row(row_id: int) -> ProductRow | None:
    return ProductRow.objects.filter(pk=row_id).first() if 0 < row_id <= DB_ID_MAX else None


def readable_row(call: Call) -> ProductRow:
    row = stored_row(engine.int_param(call, "id"))
    if row is None:
        raise row_not_found()
    if not can_read_crm(call.user):
        raise access_denied()
    return row


def writable_row(call: Call) -> tuple[ProductRow, Deal]:
    row_id = engine.int_param(call, "id")
    row = stored_row(row_id)
    if row is None:
        raise row_not_found()
    deal = Deal.objects.select_for_update().get(pk=row.deal_id)
    if not can_edit_deal(call.user, deal):
        raise access_denied()
    return ProductRow.objects.get(pk=row_id), deal


# --- Writing -------------------------------------------------------------------------------------


def draft_of(raw: dict[str, Any]) -> RowDraft:
    try:
        return read_row(raw)
    except RestError as exc:
        raise row_error(exc) from exc


def written(accepted: dict[str, Any]) -> dict[str, Any]:
    return {key: accepted[key] for key in item_rows.WRITTEN if key in accepted}


def stored_prices(row: ProductRow) -> RowPrices:
    return RowPrices(
        price=row.price,
        price_exclusive=row.price_exclusive,
        price_netto=row.price_netto,
        price_brutto=row.price_brutto,
        quantity=row.quantity,
        discount_type_id=row.discount_type_id,
        discount_rate=row.discount_rate,
        discount_sum=row.discount_sum,
        tax_rate=row.tax_rate,
        tax_included=row.tax_included == "Y",
    )


def deal_rows_changed(deal: Deal, user: User) -> None:
    """The deal after a change of its rows, as crm.deal.productrows.set leaves it."""
    fields = ["date_modify", "modify_by_id"]
    if deal.is_manual_opportunity != "Y":
        try:
            totals = deal_totals(stored_prices(row) for row in deal.product_rows.all())
        except PricingError as exc:
            raise EngineError(0, exc.message) from exc
        deal.opportunity, deal.tax_value = totals.opportunity, totals.tax_value
        fields += ["opportunity", "tax_value"]
    deal.date_modify = timezone.now()
    deal.modify_by_id = user.pk
    deal.save(update_fields=fields)
    queue_event("ONCRMDEALUPDATE", {"FIELDS": {"ID": str(deal.pk)}}, user=user)


DISCOUNT_KEYS = ("DISCOUNT_RATE", "DISCOUNT_SUM")


def update_input(stored: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The stored row with the sent changes on top. A stored discount amount the client did not
    send is dropped when the discount changes, except the one that anchors the (new) type: the
    core keeps a sent DISCOUNT_SUM over a percent rate (bitrix24-pricing.md, "which field wins"),
    so carrying the old sum along would silently undo a new rate, and the other way round."""
    merged = {**stored, **changes}
    if not any(key in changes for key in ("DISCOUNT_TYPE_ID", *DISCOUNT_KEYS)):
        return merged
    anchor = "DISCOUNT_RATE" if str(merged.get("DISCOUNT_TYPE_ID")) == "2" else "DISCOUNT_SUM"
    for key in DISCOUNT_KEYS:
        if key not in changes and key != anchor:
            merged.pop(key, None)
    return merged


def save_one(row: ProductRow, draft: RowDraft) -> None:
    fill_row(row, draft, products_by_id({draft.product_id}).get(draft.product_id))
    row.save()
    if not row.product_name:
        # Neither a product nor a name: the row is called by its own id, as in crm.deal.productrows.set.
        row.product_name = f"[{row.pk}]"
        row.save(update_fields=["product_name"])


# --- The methods ---------------------------------------------------------------------------------


@rest_method("crm.item.productrow.fields", scope="crm")
def productrow_fields(call: Call) -> dict[str, Any]:
    return {"fields": item_rows.fields_description()}


@rest_method("crm.item.productrow.add", scope="crm")
def productrow_add(call: Call) -> dict[str, Any]:
    """The owner is named inside `fields` (ownerType, ownerId)."""
    accepted = item_rows.accepted(engine.array_param(call, "fields"))
    deal = owner_deal(engine.shown(accepted.get("OWNER_TYPE", "")), accepted.get("OWNER_ID"), call.user)
    draft = draft_of(written(accepted))
    row = ProductRow(deal=deal)
    save_one(row, draft)
    deal_rows_changed(deal, call.user)
    answer = item_rows.row_json(row, store=False)
    if "TAX_RATE" not in accepted:
        answer.pop("taxRate")  # "a rate the client never sent is not part of the row this action answers"
    return {"productRow": answer}


@rest_method("crm.item.productrow.update", scope="crm")
def productrow_update(call: Call) -> dict[str, Any]:
    """Only what is sent changes; the rest of the row, its final price included, stays."""
    raw = engine.array_param(call, "fields")
    row, deal = writable_row(call)
    accepted = item_rows.accepted(raw)
    if not accepted:
        first = next(iter(raw), None) if isinstance(raw, dict) else (0 if raw else None)
        if first is not None:
            raise EngineError("INVALID_ARG_VALUE", f"Field '{first}' not available for update")
    changes = written(accepted)
    if changes:
        before = item_rows.row_json(row)
        save_one(row, draft_of(update_input(item_rows.stored_input(row), changes)))
        if item_rows.row_json(row) != before:
            deal_rows_changed(deal, call.user)
    return {"productRow": item_rows.row_json(row, store=False)}


@rest_method("crm.item.productrow.get", scope="crm")
def productrow_get(call: Call) -> dict[str, Any]:
    return {"productRow": item_rows.row_json(readable_row(call))}


@rest_method("crm.item.productrow.delete", scope="crm")
def productrow_delete(call: Call) -> None:
    row, deal = writable_row(call)
    row.delete()
    deal_rows_changed(deal, call.user)


@rest_method("crm.item.productrow.set", scope="crm")
def productrow_set(call: Call) -> dict[str, Any]:
    """Replaces every row of the owner with the rows sent (new rows, new ids) and answers them all."""
    owner_type = engine.str_param(call, "ownerType")
    owner_id = engine.int_param(call, "ownerId")
    raw_rows = engine.array_param(call, "productRows")
    deal = owner_deal(owner_type, owner_id, call.user)
    sources = raw_rows.values() if isinstance(raw_rows, dict) else raw_rows
    rows = [written(item_rows.accepted(r)) for r in sources if isinstance(r, dict) and item_rows.accepted(r)]
    if len(rows) > MAX_ROWS:
        raise EngineError(0, f"The parameter productRows must not contain more than {MAX_ROWS} rows.")
    drafts = [draft_of(r) for r in rows]  # every row is checked before the first write
    try:
        price_totals(drafts)
    except RestError as exc:
        raise row_error(exc) from exc
    had_rows = deal.product_rows.exists()
    deal.product_rows.all().delete()
    save_rows(deal, drafts, {})
    if had_rows or drafts:
        deal_rows_changed(deal, call.user)
    return {"productRows": [item_rows.row_json(r, store=False) for r in deal.product_rows.order_by(*ROW_ORDER)]}


# --- crm.item.productrow.list --------------------------------------------------------------------

_FILTER_FIELDS = {"ID": "pk", "OWNER_ID": "deal_id", "PRODUCT_ID": "product_id"}
_FILTER_OPS = ("!=", ">=", "<=", "=", "!", ">", "<", "@")  # longest first, as the controller splits keys
_ORDER_FIELDS = {"ID": "id", "SORT": "sort"}


@rest_method("crm.item.productrow.list", scope="crm")
def productrow_list(call: Call) -> ListResult:
    """`filter` must name the owner (=ownerType, =ownerId); other keys: id, ownerId, productId."""
    raw_filter = call.param("filter")
    filter_ = {item_rows.upper_key(k): v for k, v in raw_filter.items()} if isinstance(raw_filter, dict) else {}
    owner_type, owner_id = filter_.get("=OWNER_TYPE"), filter_.get("=OWNER_ID")
    if not isinstance(owner_type, str | int | float) or isinstance(owner_type, bool) or owner_type in ("", 0):
        raise EngineError("REQUIRED_ARG_MISSING", "Argument '=ownerType' is required")
    deal_id = single_owner_id(owner_id)
    if deal_id is None:
        raise EngineError("REQUIRED_ARG_MISSING", "Argument '=ownerId' is required")
    code = str(owner_type).strip().upper()
    deal = Deal.objects.filter(pk=deal_id).first() if code == "D" else None
    # The list never tells an unknown type or an absent owner from one the user may not read.
    if code not in item_rows.WITH_ROWS or deal is None or not can_read_crm(call.user):
        raise access_denied()
    check_filter_values(filter_)
    qs = ProductRow.objects.filter(deal=deal)
    qs = qs.filter(extra_conditions(filter_)).order_by(*ordering(call.param("order")))
    page = paginate(qs, call.param("start"))
    return ListResult({"productRows": [item_rows.row_json(r) for r in page.rows]}, page.total, page.next)


def single_owner_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    number = value if isinstance(value, int) else None
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        number = int(value)
    return number if number is not None and 0 < number <= DB_ID_MAX else None


def check_filter_values(filter_: dict[str, Any]) -> None:
    for key, value in filter_.items():
        if ("<" in key or ">" in key) and "><" not in key and not isinstance(value, str | int | float):
            raise EngineError("INVALID_ARG_VALUE", f"Value for filter key '{key}' should be either string or number")


def extra_conditions(filter_: dict[str, Any]) -> Q:
    condition = Q()
    for key, value in filter_.items():
        op = next((o for o in _FILTER_OPS if key.startswith(o)), "")
        column = _FILTER_FIELDS.get(key[len(op) :])
        if column is None or column == "deal_id":
            continue  # the owner is already fixed and cannot be redefined
        if op == "@":
            if isinstance(value, list) and value:
                condition &= Q(**{f"{column}__in": [engine_whole(v) for v in value]})
            continue
        if isinstance(value, list | dict):
            continue
        number = engine_whole(value)
        lookup = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}.get(op)
        if lookup:
            condition &= Q(**{f"{column}__{lookup}": number})
        elif op in ("!", "!="):
            condition &= ~Q(**{column: number})
        else:
            condition &= Q(**{column: number})
    return condition


def ordering(raw: Any) -> list[str]:
    chosen: list[str] = []
    for key, direction in raw.items() if isinstance(raw, dict) else []:
        name, way = str(key).upper(), str(direction).upper()
        if name in _ORDER_FIELDS and way in ("ASC", "DESC"):
            chosen.append(("-" if way == "DESC" else "") + _ORDER_FIELDS[name])
    return chosen or list(ROW_ORDER)
