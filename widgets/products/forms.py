"""Parsing what the deal tab posts: the editor's rows (one small form per row) and its controls.

All validation happens here, on the server; the browser only shows what comes back. Numbers are
accepted as people type them: "1 200,50" and "1,200.50" both mean 1200.5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from django import forms
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from widgets.common import pricing
from widgets.common.posted import button_of, count_of
from widgets.common.pricing import RowTerms
from widgets.products.state import EditorRow, measure_code_of

ROWS_PREFIX = "rows"
ROW_FIELDS = (
    "id",
    "product_id",
    "name",
    "price",
    "quantity",
    "measure_code",
    "measure_code_for",
    "measure_name",
    "discount_type",
    "discount",
    "tax_rate",
    "tax_included",
    "price_currency",
)
ABSOLUTE_MAX_ROWS = 2 * pricing.MAX_ROWS  # what is parsed at all; more than MAX_ROWS is an error
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
_SPACES = re.compile(r"[\s\u00a0\u202f'’]")


def number_of(text: str) -> Decimal | None:
    """A number as typed, with "," or "." for decimals and spaces between thousands; None if not one."""
    value = _SPACES.sub("", text or "")
    if "," in value and "." in value:
        # Whichever comes last separates the decimals; the other groups thousands.
        thousands = "," if value.rfind(".") > value.rfind(",") else "."
        value = value.replace(thousands, "")
    if value.count(",") == 1:
        value = value.replace(",", ".")
    if not _NUMBER.match(value) or len(value) > 40:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        return None


class NumberField(forms.Field):
    """A decimal with at most `places` places, typed with either decimal separator."""

    def __init__(self, *, places: int, minimum: Decimal, maximum: Decimal, **kwargs: Any) -> None:
        self.places, self.minimum, self.maximum = places, minimum, maximum
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:
        text = str(value or "").strip()
        if not text:
            return None
        number = number_of(text)
        if number is None:
            raise forms.ValidationError(_("Enter a number."), code="invalid")
        if pricing.places(number) > self.places:
            raise forms.ValidationError(
                _("Use at most %(places)d decimal places.") % {"places": self.places}, code="places"
            )
        if abs(number) >= self.maximum:
            raise forms.ValidationError(_("This number is too large."), code="max")
        return number


class RowForm(forms.Form):
    id = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    product_id = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    name = forms.CharField(max_length=255, error_messages={"required": gettext_lazy("Enter a product name.")})
    price = NumberField(
        places=pricing.PRICE_PLACES,
        minimum=pricing.ZERO,
        maximum=pricing.MAX_PRICE,
        error_messages={"required": gettext_lazy("Enter a price (0 or more).")},
    )
    quantity = NumberField(
        places=pricing.QUANTITY_PLACES,
        minimum=pricing.ZERO,
        maximum=pricing.MAX_QUANTITY,
        error_messages={"required": gettext_lazy("Enter a quantity.")},
    )
    measure_code = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    measure_code_for = forms.CharField(required=False, max_length=50)  # the unit name the code belongs to
    measure_name = forms.CharField(required=False, max_length=50)
    discount_type = forms.TypedChoiceField(
        choices=[(pricing.PERCENTAGE, "%"), (pricing.MONETARY, "amount")],
        coerce=int,
        empty_value=None,
        required=False,
    )
    discount = NumberField(places=pricing.RATE_PLACES, minimum=pricing.ZERO, maximum=pricing.MAX_PRICE, required=False)
    tax_rate = NumberField(places=pricing.RATE_PLACES, minimum=pricing.ZERO, maximum=pricing.MAX_PRICE, required=False)
    tax_included = forms.BooleanField(required=False)
    price_currency = forms.CharField(required=False, max_length=10)

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if not name:
            raise forms.ValidationError(_("Enter a product name."), code="required")
        return name

    def clean_price(self) -> Decimal:
        price: Decimal = self.cleaned_data["price"]
        if price < 0:
            raise forms.ValidationError(_("The price cannot be negative."), code="min")
        return price

    def clean_quantity(self) -> Decimal:
        quantity: Decimal = self.cleaned_data["quantity"]
        if quantity <= 0:
            raise forms.ValidationError(_("The quantity must be more than zero."), code="min")
        return quantity

    def clean_tax_rate(self) -> Decimal | None:
        rate: Decimal | None = self.cleaned_data["tax_rate"]
        if rate is not None and not pricing.ZERO <= rate <= pricing.HUNDRED:
            raise forms.ValidationError(_("The tax rate must be between 0 and 100%."), code="range")
        return rate

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        discount = data.get("discount") or pricing.ZERO
        data["discount"] = discount
        data["discount_type"] = data.get("discount_type") or pricing.PERCENTAGE
        if discount < 0:
            self.add_error("discount", _("The discount cannot be negative."))
        elif data.get("discount_type") == pricing.PERCENTAGE and discount > pricing.HUNDRED:
            self.add_error("discount", _("A percentage discount must be between 0 and 100."))
        elif "price" in data and "tax_rate" in data and not self.errors.get("discount"):
            terms = self.terms(data)
            if data["discount_type"] == pricing.MONETARY and discount > terms.netto:
                self.add_error("discount", _("The discount cannot be more than the price."))
            elif data["discount_type"] == pricing.PERCENTAGE and discount == pricing.HUNDRED and not terms.price:
                # A 100 % discount keeps the list price only in DISCOUNT_SUM, which is 0 here (§6.1).
                self.add_error("discount", _("A discount of 100% needs a price above zero."))
        return data

    @staticmethod
    def terms(data: dict[str, Any]) -> RowTerms:
        return RowTerms(
            price=data["price"],
            quantity=data.get("quantity") or pricing.ONE,
            discount_type=data.get("discount_type") or pricing.PERCENTAGE,
            discount=data.get("discount") or pricing.ZERO,
            tax_rate=data.get("tax_rate"),
            tax_included=bool(data.get("tax_included")),
        )

    def editor_row(self) -> EditorRow:
        data = self.cleaned_data
        unit = (data.get("measure_name") or "").strip()
        # A renamed unit no longer has the code it came with; a standard name brings its own.
        kept = unit == (data.get("measure_code_for") or "").strip()
        code = data.get("measure_code") if kept else measure_code_of(unit)
        return EditorRow(
            id=data.get("id"),
            product_id=data.get("product_id") or 0,
            name=data["name"],
            terms=self.terms(data),
            measure_code=code,
            measure_name=unit,
            price_currency=(data.get("price_currency") or "").strip().upper(),
        )


@dataclass
class RowDraft:
    """One row of the editor: the values as typed, and the parsed row when they are valid."""

    data: dict[str, str]
    row: EditorRow | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


def row_draft(data: dict[str, str]) -> RowDraft:
    form = RowForm(data)
    if form.is_valid():
        return RowDraft(data=data, row=form.editor_row())
    return RowDraft(data=data, errors={name: [str(e) for e in errs] for name, errs in form.errors.items()})


class EditorControls(forms.Form):
    """The editor's own fields besides the rows. `action` is the pressed button's value."""

    state = forms.CharField(max_length=400_000)
    undo = forms.CharField(required=False, max_length=400_000)
    theirs = forms.CharField(required=False, max_length=400_000)
    action = forms.CharField(required=False, max_length=2000)
    q = forms.CharField(required=False, max_length=200)
    paste = forms.CharField(required=False, max_length=200_000)
    cstate = forms.CharField(required=False, max_length=200_000)  # the contacts' state, for a full page


# Every row posts its cells and a few hidden fields: 500 rows are far more fields than Django's
# DATA_UPLOAD_MAX_NUMBER_FIELDS (1000) lets request.POST read.
MAX_FIELDS = ABSOLUTE_MAX_ROWS * (len(ROW_FIELDS) + 2) + 50


class TooManyFields(Exception):
    pass


def form_data(request: HttpRequest) -> QueryDict:
    """The editor's urlencoded body, parsed with a field limit that fits the largest table."""
    if request.content_type != "application/x-www-form-urlencoded":
        return request.POST
    try:
        pairs = parse_qsl(
            request.body.decode(request.encoding or "utf-8", errors="replace"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
        )
    except ValueError as exc:
        raise TooManyFields(str(exc)) from exc
    data = QueryDict(mutable=True)
    for name, value in pairs:
        data.appendlist(name, value)
    return data


@dataclass
class EditorInput:
    controls: EditorControls
    drafts: list[RowDraft]
    too_many: bool

    @property
    def action(self) -> tuple[str, str]:
        """("save", "") or ("delete", "3"): the button's name and its argument."""
        return button_of(self.controls.cleaned_data.get("action"), default="recalc")


def editor_input(post: QueryDict) -> EditorInput | None:
    """The posted editor, or None when its controls are missing or malformed (not a person's typo)."""
    controls = EditorControls(post)
    if not controls.is_valid():
        return None
    count = count_of(post, f"{ROWS_PREFIX}-count", digits=5) or 0
    drafts = []
    for index in range(min(count, ABSOLUTE_MAX_ROWS)):
        data = {name: post.get(f"{ROWS_PREFIX}-{index}-{name}", "") for name in ROW_FIELDS}
        drafts.append(row_draft(data))
    return EditorInput(controls=controls, drafts=drafts, too_many=count > pricing.MAX_ROWS)


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, strip=True)
    cur = forms.CharField(required=False, max_length=10)  # the deal's currency, to flag other prices


class DealVersionForm(forms.Form):
    """A poll of the deal's version (widgets.common.freshness): what the tab knows and what it shows."""

    v = forms.IntegerField(min_value=0, max_value=2**62)
    shown = forms.IntegerField(required=False, min_value=0, max_value=2**62)
