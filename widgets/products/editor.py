"""What the editor's buttons do to the rows, before anything is saved: no REST here.

The rows live in the page (widgets.products.state); each request brings them all, one of these
functions changes them, and the page gets them back. Rows with typing errors are carried as typed,
so moving or deleting another row never loses what someone is in the middle of fixing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from widgets.common import pricing
from widgets.common.auth import StateInvalid
from widgets.common.money import CurrencyFormat, plain
from widgets.common.pricing import RowTerms
from widgets.products.forms import ROW_FIELDS, RowDraft, row_draft
from widgets.products.signing import ProductChoice
from widgets.products.state import EditorRow, WireRow

PASTE_COLUMNS = ("name", "quantity", "price")
_NOT_NUMERIC = re.compile(r"[^\d,.\-\s\u00a0]")
DEFAULT_UNIT_CODE = 796  # pcs, what Bitrix24's own editor gives a new row


def draft_of(row: EditorRow, fmt: CurrencyFormat) -> RowDraft:
    """A valid row spelled out for its inputs, with the deal currency's decimal point."""
    terms = row.terms
    point = fmt.dec_point if fmt.dec_point in (".", ",") else "."
    monetary = terms.discount_type == pricing.MONETARY
    data = {
        "id": "" if row.id is None else str(row.id),
        "product_id": str(row.product_id),
        "name": row.name,
        "price": plain(terms.price, places=pricing.PRICE_PLACES, dec_point=point),
        "quantity": plain(terms.quantity, places=-1, dec_point=point),
        "measure_code": "" if row.measure_code is None else str(row.measure_code),
        "measure_code_for": row.measure_name if row.measure_code is not None else "",
        "measure_name": row.measure_name,
        "discount_type": str(terms.discount_type),
        "discount": plain(terms.discount, places=pricing.PRICE_PLACES if monetary else -1, dec_point=point),
        "tax_rate": "" if terms.tax_rate is None else plain(terms.tax_rate, places=-1, dec_point=point),
        "tax_included": "on" if terms.tax_included else "",
        "price_currency": row.price_currency,
    }
    return RowDraft(data=data, row=row)


def drafts_of(rows: Sequence[EditorRow | WireRow], fmt: CurrencyFormat) -> list[RowDraft]:
    return [draft_of(row if isinstance(row, EditorRow) else EditorRow.from_wire(row), fmt) for row in rows]


def respelled(drafts: list[RowDraft], fmt: CurrencyFormat) -> list[RowDraft]:
    """Valid rows re-spelled the canonical way ("10" becomes "10.00"); others left as typed."""
    return [draft_of(d.row, fmt) if d.row is not None else d for d in drafts]


def new_row(
    *, fmt: CurrencyFormat, name: str = "", product: ProductChoice | None = None, deal_currency: str = ""
) -> RowDraft:
    """A row added by hand (shown unvalidated until the person edits it) or from the catalog."""
    if product is not None:
        row = EditorRow(
            id=None,
            product_id=product.id,
            name=product.name,
            terms=RowTerms(price=pricing.cents(product.price)),
            measure_code=product.measure_code,
            measure_name=product.measure_name,
            price_currency=product.currency if product.currency and product.currency != deal_currency else "",
        )
        return draft_of(row, fmt)
    unit = _("pcs")
    data = dict.fromkeys(ROW_FIELDS, "")
    data.update(
        name=name,
        price="0",
        quantity="1",
        discount_type=str(pricing.PERCENTAGE),
        discount="0",
        product_id="0",
        measure_code=str(DEFAULT_UNIT_CODE),
        measure_code_for=unit,
        measure_name=unit,
    )
    return row_draft(data) if name else RowDraft(data=data)


@dataclass
class RowsEdited:
    drafts: list[RowDraft]
    focus: int | None = None  # the row whose first input gets the focus
    error: str = ""
    paste_text: str = ""
    paste_errors: list[str] = field(default_factory=list)
    added: bool = False


def too_many() -> str:
    return _("A deal can have at most %(count)d product rows.") % {"count": pricing.MAX_ROWS}


def editor_apply(
    *, name: str, argument: str, drafts: list[RowDraft], q: str, paste: str, deal_currency: str, fmt: CurrencyFormat
) -> RowsEdited:
    """Apply one button (or a cell change, "recalc") to the rows."""
    index = int(argument) if argument.isdigit() and int(argument) < len(drafts) else None
    if name in ("add", "add_text", "add_product", "paste") and len(drafts) >= pricing.MAX_ROWS:
        return RowsEdited(drafts=drafts, error=too_many(), paste_text=paste)
    if name == "add":
        return RowsEdited(drafts=[*respelled(drafts, fmt), new_row(fmt=fmt)], focus=len(drafts), added=True)
    if name == "add_text" and q.strip():
        drafts = [*respelled(drafts, fmt), new_row(fmt=fmt, name=q.strip()[:255])]
        return RowsEdited(drafts=drafts, focus=len(drafts) - 1, added=True)
    if name == "add_product":
        try:
            product = ProductChoice.read(argument)
        except StateInvalid:
            return RowsEdited(drafts=drafts)
        drafts = [*respelled(drafts, fmt), new_row(fmt=fmt, product=product, deal_currency=deal_currency)]
        return RowsEdited(drafts=drafts, focus=len(drafts) - 1, added=True)
    if name == "delete" and index is not None:
        rest = respelled(drafts[:index] + drafts[index + 1 :], fmt)
        return RowsEdited(drafts=rest, focus=min(index, len(rest) - 1) if rest else None)
    if name in ("up", "down") and index is not None:
        target = index - 1 if name == "up" else index + 1
        if 0 <= target < len(drafts):
            drafts = list(drafts)
            drafts[index], drafts[target] = drafts[target], drafts[index]
            return RowsEdited(drafts=respelled(drafts, fmt), focus=target)
    if name == "paste":
        return paste_apply(drafts=respelled(drafts, fmt), text=paste, fmt=fmt)
    return RowsEdited(drafts=drafts)


def paste_apply(*, drafts: list[RowDraft], text: str, fmt: CurrencyFormat) -> RowsEdited:
    """Rows pasted from a spreadsheet: one a line, name <TAB> quantity <TAB> price.

    Good lines become rows; the others stay in the box with a message each, to be fixed and pasted again.
    """
    added: list[RowDraft] = []
    errors: list[str] = []
    left: list[str] = []
    lines = [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]
    for number, line in enumerate(lines, start=1):
        cells = [cell.strip() for cell in line.split("\t")]
        if len(drafts) + len(added) >= pricing.MAX_ROWS:
            errors.append(_("Line %(line)d: %(problem)s") % {"line": number, "problem": too_many()})
            left.append(line)
            continue
        values = dict(zip(PASTE_COLUMNS, [*cells, "", ""], strict=False))
        for column in ("quantity", "price"):
            # "$1,200.00" or "12 pcs" as spreadsheets show them: keep the number.
            digits = _NOT_NUMERIC.sub("", values[column]).strip()
            values[column] = digits if any(c.isdigit() for c in digits) else values[column]
        data = new_row(fmt=fmt).data
        data.update(name=values["name"][:255], quantity=values["quantity"] or "1", price=values["price"] or "0")
        draft = row_draft(data)
        if draft.row is None:
            problems = "; ".join(
                f"{_field_title(name)}: {' '.join(messages)}" for name, messages in draft.errors.items()
            )
            errors.append(_("Line %(line)d: %(problem)s") % {"line": number, "problem": problems})
            left.append(line)
        else:
            added.append(draft_of(draft.row, fmt))
    if not lines:
        errors.append(_("Paste rows copied from a spreadsheet: product name, quantity and price, one row a line."))
    focus = len(drafts) if added else None
    return RowsEdited(
        drafts=drafts + added, focus=focus, paste_text="\n".join(left), paste_errors=errors, added=bool(added)
    )


def _field_title(name: str) -> str:
    titles = {"name": _("product"), "quantity": _("quantity"), "price": _("price")}
    return titles.get(name, name)
