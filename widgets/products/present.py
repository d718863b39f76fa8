"""What the deal tab's template shows, worked out from the state and the rows: row totals, the
footer, the read-only and conflict tables, the status line. Money is formatted as the deal's
currency says (widgets.common.money); the arithmetic is widgets.common.pricing's."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from widgets.common import pricing
from widgets.common.money import CurrencyFormat, plain
from widgets.common.text import when_of
from widgets.products.forms import RowDraft
from widgets.products.row_html import rows_html
from widgets.products.signing import state_sign
from widgets.products.state import Bases, EditorRow, TabState, WireRow, bases_of, priced_row, rows_wire

if TYPE_CHECKING:
    from widgets.common.freshness import Freshness
    from widgets.contacts.present import ContactsView

HIDDEN_FIELDS = ("id", "product_id", "measure_code", "measure_code_for", "price_currency")
CELL_FIELDS = ("name", "price", "quantity", "measure_name", "discount", "tax_rate")


@dataclass(frozen=True)
class RowView:
    index: int
    data: dict[str, str]
    errors: dict[str, list[str]]
    total: str
    catalog: bool
    currency_note: str
    autofocus: bool

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def tax_included(self) -> bool:
        return self.data.get("tax_included", "") not in ("", "false", "0")

    @property
    def monetary(self) -> bool:
        return self.data.get("discount_type") == str(pricing.MONETARY)

    @property
    def hidden(self) -> list[tuple[str, str]]:
        return [(name, self.data.get(name, "")) for name in HIDDEN_FIELDS]

    @property
    def error_texts(self) -> list[tuple[str, str]]:
        return [(name, " ".join(self.errors.get(name, []))) for name in CELL_FIELDS]

    @property
    def label(self) -> str:
        """How the row is named in its inputs' labels."""
        name = self.data.get("name", "").strip()
        return name or _("row %(number)d") % {"number": self.number}


@dataclass(frozen=True)
class PlainRow:
    name: str
    quantity: str
    price: str
    discount: str
    tax: str
    total: str
    differs: bool = False  # in a conflict: not the same as the other version's row at this place


@dataclass(frozen=True)
class Footer:
    subtotal: str
    discount: str
    tax: str
    total: str
    show_discount: bool
    show_tax: bool
    partial: bool  # some rows have errors and are not counted


@dataclass(frozen=True)
class Conflict:
    theirs: list[PlainRow]
    theirs_total: str
    mine: list[PlainRow]
    mine_total: str
    changed_by: str
    changed_at: str

    @property
    def sides(self) -> list[dict[str, object]]:
        return [
            {"title": _("Saved in Bitrix24"), "rows": self.theirs, "total": self.theirs_total},
            {"title": _("Your version"), "rows": self.mine, "total": self.mine_total},
        ]


@dataclass
class ProductsView:
    deal_id: int
    currency: CurrencyFormat
    mode: str  # "edit" | "readonly" | "conflict"
    state_token: str
    rows: list[RowView] = field(default_factory=list)
    plain: list[PlainRow] = field(default_factory=list)
    footer: Footer | None = None
    undo_token: str = ""
    theirs_token: str = ""
    dirty: bool = False
    has_errors: bool = False
    error: str = ""
    retry: str = ""
    status: str = ""
    paste_text: str = ""
    paste_errors: list[str] = field(default_factory=list)
    conflict: Conflict | None = None
    saved: bool = False  # just saved
    amount_changed: bool = False  # ...and the deal's amount changed: the card around the tab shows the old one
    deal_touched: bool = False  # ...and the deal itself was updated (DATE_MODIFY moved): ONCRMDEALUPDATE follows
    status_tone: str = "ok"  # "ok" or "warn": how the status line is coloured
    session: bool = False  # the user's token is dead: offer to reload the tab, not to retry
    reload: bool = False  # the outcome cannot be shown without reading the deal again: offer a reload

    @property
    def empty(self) -> bool:
        return not self.rows and not self.plain

    @property
    def rows_html(self) -> SafeString:
        """The editable rows' <tr>s (widgets.products.row_html: the template's costliest loop, in Python)."""
        return rows_html(self.rows, currency_code=self.currency.code)


def _money(fmt: CurrencyFormat, amount: Decimal) -> str:
    return fmt.money(amount)


def _discount_text(discount_type: int, amount: Decimal, fmt: CurrencyFormat) -> str:
    if not amount:
        return "—"
    if discount_type == pricing.MONETARY:
        return fmt.money(amount)
    return f"{plain(amount, places=-1, dec_point=fmt.dec_point)} %"


def _tax_text(rate: Decimal | None, included: bool, fmt: CurrencyFormat) -> str:
    if rate is None:
        return "—"
    text = f"{plain(rate, places=-1, dec_point=fmt.dec_point)} %"
    return _("%(rate)s incl.") % {"rate": text} if included else text


def plain_row(row: EditorRow, bases: Bases, fmt: CurrencyFormat) -> PlainRow:
    terms = row.terms
    quantity = plain(terms.quantity, places=-1, dec_point=fmt.dec_point)
    return PlainRow(
        name=row.name,
        quantity=f"{quantity} {row.measure_name}".strip(),
        price=fmt.money(terms.price),
        discount=_discount_text(terms.discount_type, terms.discount, fmt),
        tax=_tax_text(terms.tax_rate, terms.tax_included, fmt),
        total=fmt.money(priced_row(row, bases).total),
    )


def _totals(rows: list[EditorRow], bases: Bases) -> pricing.Totals:
    return pricing.totals(priced_row(row, bases) for row in rows)


def _total(rows: list[EditorRow], bases: Bases) -> Decimal:
    return _totals(rows, bases).total


def footer_of(rows: list[EditorRow], bases: Bases, fmt: CurrencyFormat, *, partial: bool) -> Footer:
    result = _totals(rows, bases)
    return Footer(
        subtotal=fmt.money(result.subtotal),
        discount=fmt.money(result.discount),
        tax=fmt.money(result.tax),
        total=fmt.money(result.total),
        show_discount=bool(result.discount),
        show_tax=any(row.terms.tax_rate is not None for row in rows),
        partial=partial,
    )


def is_dirty(drafts: list[RowDraft], state: TabState, bases: Bases) -> bool:
    rows = [draft.row for draft in drafts]
    if any(row is None for row in rows):
        return True
    loaded = [EditorRow.from_wire(row) for row in state.rows]
    return rows_wire([r for r in rows if r is not None], bases) != rows_wire(loaded, bases)


def products_view(
    *,
    state: TabState,
    drafts: list[RowDraft],
    mode: str = "edit",
    undo: tuple[WireRow, ...] | list[WireRow] = (),
    undo_token: str = "",
    focus: int | None = None,
    status: str = "",
    status_tone: str = "ok",
    error: str = "",
    paste_text: str = "",
    paste_errors: list[str] | None = None,
    saved: bool = False,
) -> ProductsView:
    fmt = state.deal.currency
    bases = bases_of(state.rows, list(undo))
    views = []
    for index, draft in enumerate(drafts):
        row = draft.row
        total = fmt.money(priced_row(row, bases).total) if row else ""
        currency = draft.data.get("price_currency", "")
        views.append(
            RowView(
                index=index,
                data=draft.data,
                errors=draft.errors,
                total=total,
                catalog=draft.data.get("product_id", "0") not in ("", "0"),
                currency_note=currency if currency and currency != fmt.code else "",
                autofocus=index == focus,
            )
        )
    valid = [d.row for d in drafts if d.row is not None]
    view = ProductsView(
        deal_id=state.deal.id,
        currency=fmt,
        mode=mode,
        state_token=state_sign(state),
        rows=views,
        footer=footer_of(valid, bases, fmt, partial=len(valid) < len(drafts)),
        undo_token=undo_token,
        dirty=is_dirty(drafts, state, bases),
        has_errors=len(valid) < len(drafts),
        status=status,
        status_tone=status_tone,
        error=error,
        paste_text=paste_text,
        paste_errors=paste_errors or [],
        saved=saved,
    )
    if mode == "readonly":
        view.plain = [plain_row(row, bases, fmt) for row in valid]
        view.rows = []
    return view


def conflict_of(*, theirs: TabState, mine: list[EditorRow], bases: Bases, changed_by: str, changed_at: str) -> Conflict:
    fmt = theirs.deal.currency
    their_rows = [EditorRow.from_wire(row) for row in theirs.rows]
    their_bases = bases_of(theirs.rows)
    their_plain = [plain_row(row, their_bases, fmt) for row in their_rows]
    my_plain = [plain_row(row, bases, fmt) for row in mine]
    return Conflict(
        theirs=_marked(their_plain, my_plain),
        theirs_total=fmt.money(_total(their_rows, their_bases)),
        mine=_marked(my_plain, their_plain),
        mine_total=fmt.money(_total(mine, bases)),
        changed_by=changed_by,
        changed_at=when_of(changed_at),
    )


def _marked(rows: list[PlainRow], others: list[PlainRow]) -> list[PlainRow]:
    """Rows that differ from the other version's row at the same place, so the eye finds them."""
    return [replace(row, differs=index >= len(others) or row != others[index]) for index, row in enumerate(rows)]


# --- the page around the editor ----------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    token: str
    name: str
    price: str
    currency: str
    other_currency: bool


@dataclass(frozen=True)
class Results:
    q: str
    hits: list[Hit] = field(default_factory=list)
    error: bool = False
    session: bool = False  # the user's token is no longer accepted: reopening the deal helps, Retry does not

    def __bool__(self) -> bool:
        return bool(self.q)


def tab_page_context(
    *,
    deal_id: int,
    widget_token: str,
    lang: str,
    state: TabState | None,
    editor: ProductsView | None,
    reauth: bool = False,
    problem: str = "",
    results: Results | None = None,
    placement_url: str = "",
    oob: bool = False,
    contacts: ContactsView | None = None,
    contacts_token: str = "",
    fresh: Freshness | None = None,
    poll_seconds: int = 0,
) -> dict[str, object]:
    """`contacts` is the contacts section (widgets.contacts.present.ContactsView), `fresh` the
    "changed elsewhere" notice (widgets.common.freshness.Freshness); `contacts_token` keeps the contacts'
    signed state in the products form when only the products are re-rendered."""
    deal = state.deal if state is not None else None
    return {
        "deal_id": deal_id,
        "widget_token": widget_token,
        "LANGUAGE_CODE": lang,
        "deal": deal,
        "deal_amount": deal.currency.money(deal.opportunity) if deal is not None else "",
        "editor": editor,
        "problem": problem if state is None else "",
        "reauth": ("admin" if state is not None and state.is_admin else "user") if reauth else "",
        "results": results,
        "placement_url": placement_url,
        "oob": oob,
        "contacts": contacts,
        "contacts_token": contacts_token or (contacts.state_token if contacts is not None else ""),
        "fresh": fresh,
        "poll_seconds": poll_seconds,
    }
