"""The editor's rows (<tr> of templates/widgets/deal_tab.html's editor table), written here.

Why not in the template: each row there cost about half a millisecond of CPU in Django's template
engine (some 150 nodes: its ids, a dozen translated labels, error lists), the largest part of
opening a tab (issue 17, server cost per open). Here a row costs a few dozen string escapes.

The markup is the template's, unchanged: the template includes it with `{{ editor.rows_html }}`.
As in the template, every value is escaped; translated messages are not (Django treats a
template's literals as safe: {% translate %} is gettext(...), {% blocktranslate %} escapes only
its argument).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, gettext_noop

from widgets.common.markup import esc, move_buttons

if TYPE_CHECKING:
    from widgets.products.present import RowView


@dataclass(frozen=True)
class _Cell:
    td: str  # the cell's class
    label: str  # its column, as data-label (the narrow layout shows it)
    message: str  # the input's label, with the row's name
    before: str = ""  # attributes before data-cell
    after: str = ""  # ...and after it
    invalid: bool = True  # marked aria-invalid when it has errors


# gettext_noop: makemessages finds the messages here; they are translated when a row is written.
_NAME = _Cell("name", gettext_noop("Product"), gettext_noop("Product name, %(row)s"), before=' maxlength="255"')
_PRICE = _Cell("num", gettext_noop("Price"), gettext_noop("Price, %(row)s"), before=' inputmode="decimal"')
_QUANTITY = _Cell("num", gettext_noop("Quantity"), gettext_noop("Quantity, %(row)s"), before=' inputmode="decimal"')
_UNIT = _Cell(
    "unit",
    gettext_noop("Unit"),
    gettext_noop("Unit, %(row)s"),
    before=' maxlength="50"',
    after=' placeholder="—"',
    invalid=False,
)


def _errors(row: RowView, name: str) -> str:
    """{{ row.errors.<name>|join:" " }}."""
    return " ".join(esc(message) for message in row.errors.get(name, []))


def _invalid(row: RowView, name: str) -> str:
    return ' aria-invalid="true"' if row.errors.get(name) else ""


def _text_cell(row: RowView, name: str, cell: _Cell, label: str, *, extra: str = "", note: str = "") -> str:
    """A cell with one input (name, price, quantity, unit) and its error line."""
    i, ident = row.index, f"row-{row.index}-{name}"
    invalid = _invalid(row, name) if cell.invalid else ""
    return (
        f'<td class="{cell.td}" data-label="{gettext(cell.label)}">'
        f'<label class="sr-only" for="{ident}">{gettext(cell.message) % {"row": label}}</label>'
        f'<input id="{ident}" name="rows-{i}-{name}" value="{esc(row.data.get(name, ""))}"{cell.before}'
        f' data-cell="{name}"{cell.after} aria-describedby="{ident}-error"{invalid}{extra}>{note}'
        f'<span class="cell-error" id="{ident}-error">{_errors(row, name)}</span></td>'
    )


def _discount_cell(row: RowView, label: str, currency: str) -> str:
    i, named = row.index, {"row": label}
    return (
        f'<td class="num discount" data-label="{gettext("Discount")}"><div class="pair">'
        f'<label class="sr-only" for="row-{i}-discount">{gettext("Discount, %(row)s") % named}</label>'
        f'<input id="row-{i}-discount" name="rows-{i}-discount" value="{esc(row.data.get("discount", ""))}"'
        f' inputmode="decimal" data-cell="discount" aria-describedby="row-{i}-discount-error"'
        f"{_invalid(row, 'discount')}>"
        f'<label class="sr-only" for="row-{i}-discount_type">{gettext("Discount type, %(row)s") % named}</label>'
        f'<select id="row-{i}-discount_type" name="rows-{i}-discount_type" data-cell="discount_type">'
        f'<option value="2"{"" if row.monetary else " selected"}>%</option>'
        f'<option value="1"{" selected" if row.monetary else ""}>{currency}</option></select></div>'
        f'<span class="cell-error" id="row-{i}-discount-error">{_errors(row, "discount")}</span></td>'
    )


def _tax_cell(row: RowView, label: str) -> str:
    i, named = row.index, {"row": label}
    return (
        f'<td class="num tax" data-label="{gettext("Tax")}"><div class="pair">'
        f'<label class="sr-only" for="row-{i}-tax_rate">{gettext("Tax rate in percent, %(row)s") % named}</label>'
        f'<input id="row-{i}-tax_rate" name="rows-{i}-tax_rate" value="{esc(row.data.get("tax_rate", ""))}"'
        f' inputmode="decimal" data-cell="tax_rate" placeholder="—" aria-describedby="row-{i}-tax_rate-error"'
        f"{_invalid(row, 'tax_rate')}>"
        f'<label class="check"><input type="checkbox" id="row-{i}-tax_included" name="rows-{i}-tax_included"'
        f' data-cell="tax_included"{" checked" if row.tax_included else ""}> <span>{gettext("incl.")}</span>'
        f'<span class="sr-only">{gettext("tax included in the price, %(row)s") % named}</span></label></div>'
        f'<span class="cell-error" id="row-{i}-tax_rate-error">{_errors(row, "tax_rate")}</span></td>'
    )


def _actions_cell(row: RowView, label: str, *, first: bool, last: bool) -> str:
    i, named = row.index, {"row": label}
    up, down = gettext("Move %(row)s up") % named, gettext("Move %(row)s down") % named
    return (
        f'<td class="row-actions">{move_buttons(i, up=up, down=down, first=first, last=last)}'
        f'<button type="submit" name="action" value="delete:{i}" class="icon i-remove danger"'
        f' title="{gettext("Delete")}"><span class="sr-only">{gettext("Delete %(row)s") % named}</span></button></td>'
    )


def _name_note(row: RowView) -> str:
    if not row.currency_note:
        return ""
    return f'<span class="tag warn">{gettext("catalog price in %(code)s") % {"code": esc(row.currency_note)}}</span>'


def row_html(row: RowView, *, currency: str, first: bool, last: bool) -> str:
    """One row; `currency` the discount's money option, escaped."""
    i, label = row.index, esc(row.label)
    hidden = "".join(f'<input type="hidden" name="rows-{i}-{name}" value="{esc(value)}">' for name, value in row.hidden)
    autofocus = " data-autofocus" if row.autofocus else ""
    return (
        f'<tr id="row-{i}" data-row="{i}"><td class="idx">{row.number}{hidden}</td>'
        + _text_cell(row, "name", _NAME, label, extra=autofocus, note=_name_note(row))
        + _text_cell(row, "price", _PRICE, label)
        + _text_cell(row, "quantity", _QUANTITY, label)
        + _text_cell(row, "measure_name", _UNIT, label)
        + _discount_cell(row, label, currency)
        + _tax_cell(row, label)
        + f'<td class="num total" data-label="{gettext("Total")}">'
        + f'<span id="row-{i}-total">{esc(row.total or "—")}</span></td>'
        + _actions_cell(row, label, first=first, last=last)
        + "</tr>"
    )


def rows_html(rows: Sequence[RowView], *, currency_code: str) -> SafeString:
    """Every row of the editor's table; `currency_code` the deal's (the template's editor.currency.code)."""
    currency = esc(currency_code) if currency_code else gettext("amount")  # |default:_("amount")
    last = len(rows) - 1
    return mark_safe(  # noqa: S308 - every value above is escaped as the template escaped it
        "".join(row_html(row, currency=currency, first=n == 0, last=n == last) for n, row in enumerate(rows))
    )
