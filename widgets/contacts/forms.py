"""Parsing what the contacts editor posts: its controls, the contacts in their order, and a new
contact typed in — with phone numbers and e-mail addresses checked and written one way.

Phone numbers are kept E.164-like: "+1 (212) 555-01.23" becomes "+12125550123". Bitrix24 filters
contacts by stored PHONE or EMAIL values that start with the text, as stored, without normalising
(bitrix24-lists.md), so one spelling per number is what makes the duplicate check find the contact
who already has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.validators import EmailValidator
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from widgets.common.posted import button_of, count_of
from widgets.contacts.state import ContactCard, ContactItem, card_read

CONTACTS_PREFIX = "contacts"
MAX_POSTED = 500  # a deal linked to more contacts than the editor adds (MAX_CONTACTS) still posts them all
_PHONE_PUNCTUATION = re.compile(r"[\s\u00a0\-.()/]")
PHONE_DIGITS = (7, 15)  # E.164 numbers have at most 15 digits; no real number has fewer than 7


def phone_normalise(text: str) -> str:
    """The number with only its digits and a leading +; ValidationError when it is not a number."""
    compact = _PHONE_PUNCTUATION.sub("", text.strip())
    plus, digits = (compact[:1], compact[1:]) if compact.startswith("+") else ("", compact)
    if not digits or not digits.isascii() or not digits.isdigit():
        raise forms.ValidationError(
            _("Enter a phone number: digits, spaces, dashes or brackets, with + and the country code."),
            code="invalid",
        )
    if not PHONE_DIGITS[0] <= len(digits) <= PHONE_DIGITS[1]:
        raise forms.ValidationError(_("A phone number has 7 to 15 digits."), code="length")
    return plus + digits


def email_normalise(text: str) -> str:
    """The address with its domain in lower case (the part before @ may be case-sensitive)."""
    address = text.strip()
    EmailValidator(message=_("Enter an e-mail address like name@example.com."))(address)
    local, _at, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


class NewContactForm(forms.Form):
    """A contact created in the tab: a name, and optionally a phone number and an e-mail."""

    first_name = forms.CharField(required=False, max_length=50, strip=True)
    last_name = forms.CharField(required=False, max_length=50, strip=True)
    phone = forms.CharField(required=False, max_length=40, strip=True)
    email = forms.CharField(required=False, max_length=250, strip=True)

    def clean_phone(self) -> str:
        text = self.cleaned_data.get("phone") or ""
        return phone_normalise(text) if text else ""

    def clean_email(self) -> str:
        text = self.cleaned_data.get("email") or ""
        return email_normalise(text) if text else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("first_name") and not data.get("last_name") and "first_name" not in self.errors:
            self.add_error("first_name", _("Enter the contact's name."))
        return data

    def card(self) -> ContactCard:
        data = self.cleaned_data
        return ContactCard.created(
            first_name=data["first_name"], last_name=data["last_name"], phone=data["phone"], email=data["email"]
        )

    @property
    def typed(self) -> bool:
        return any(str(self.data.get(f"new-{name}", "")).strip() for name in self.fields)


class ContactsControls(forms.Form):
    """The editor's own fields besides the contacts. `action` is the pressed button's value."""

    cstate = forms.CharField(max_length=200_000)
    theirs = forms.CharField(required=False, max_length=200_000)
    state = forms.CharField(required=False, max_length=400_000)  # the products' state, for a full page
    action = forms.CharField(required=False, max_length=4000)
    cq = forms.CharField(required=False, max_length=100, strip=True)


class ContactSearchForm(forms.Form):
    cq = forms.CharField(required=False, max_length=100, strip=True)


@dataclass
class ContactsInput:
    controls: ContactsControls
    items: list[ContactItem]
    new: NewContactForm

    @property
    def action(self) -> tuple[str, str]:
        """("save", "") or ("remove", "3"): the button's name and its argument."""
        return button_of(self.controls.cleaned_data.get("action"), default="noop")


def contacts_input(post: QueryDict, *, portal_id: int, user_id: int) -> ContactsInput | None:
    """The posted editor, or None when its controls are malformed (not a person's typo).

    Raises StateInvalid when a contact card was not signed by us for this user.
    """
    controls = ContactsControls(post)
    if not controls.is_valid():
        return None
    count = count_of(post, f"{CONTACTS_PREFIX}-count", digits=4)
    if count is None or count > MAX_POSTED:
        return None
    primary = post.get(f"{CONTACTS_PREFIX}-primary", "")
    items = [
        ContactItem(
            card_read(post.get(f"{CONTACTS_PREFIX}-{index}-card", ""), portal_id=portal_id, user_id=user_id),
            primary=primary == str(index),
        )
        for index in range(count)
    ]
    new = NewContactForm(post, prefix="new")
    return ContactsInput(controls=controls, items=items, new=new)


NEW_FIELD_LABELS = {
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "phone": gettext_lazy("Phone"),
    "email": gettext_lazy("E-mail"),
}
