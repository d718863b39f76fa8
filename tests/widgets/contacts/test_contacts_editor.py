"""The contacts section of the deal tab before anything is saved: what it shows, the search, adding,
removing, making primary, reordering and creating a contact — over HTTP through the sandbox, as
htmx requests and as plain form posts. Nothing here writes to the portal."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SandboxPortal
from tests.widgets.tab_support import DealTab, calls_since, deal_of, last_call_id, open_tab, shown, text_of


def bound(deal_id: int) -> list[tuple[str, bool]]:
    """The deal's contacts in the sandbox, in order: ("Anna Smith", primary)."""
    from sandbox.models import DealContact

    rows = DealContact.objects.filter(deal_id=deal_id).select_related("contact").order_by("sort", "id")
    return [(f"{r.contact.name} {r.contact.last_name}".strip(), r.is_primary == "Y") for r in rows]


def deal_with_contacts(count: int, user: int = 3) -> int:
    """A seeded deal of `user` with at least `count` contacts (the first such deal)."""
    from sandbox.models import Deal, DealContact

    for deal in Deal.objects.filter(assigned_by_id=user).order_by("id"):
        if DealContact.objects.filter(deal=deal).count() >= count:
            return int(deal.pk)
    raise AssertionError("no such seeded deal")


def add_option(response_text: str, name: str) -> str:
    """The value of the search list's button that adds `name`."""
    for value, label in re.findall(r'value="(add:[^"]+)">\s*<span class="option-name">([^<]*)<', response_text):
        if html.unescape(label) == name:
            return html.unescape(value)
    raise AssertionError(f"{name} is not offered: {shown(response_text)[:1500]}")


def an_unlinked_contact(deal_id: int) -> tuple[int, str, str, str]:
    """(id, full name, phone, e-mail) of a seeded contact not linked to the deal, with a phone and an e-mail."""
    from sandbox.models import Contact, DealContact, Multifield

    linked = set(DealContact.objects.filter(deal_id=deal_id).values_list("contact_id", flat=True))
    for contact in Contact.objects.exclude(pk__in=linked).order_by("id"):
        phones = Multifield.objects.filter(entity_id="CONTACT", element_id=contact.pk, type_id="PHONE")
        emails = Multifield.objects.filter(entity_id="CONTACT", element_id=contact.pk, type_id="EMAIL")
        if phones.exists() and emails.exists():
            name = f"{contact.name} {contact.last_name}"
            return contact.pk, name, phones.first().value, emails.first().value  # type: ignore[union-attr]
    raise AssertionError("no such contact")


@pytest.fixture
def rep_tab(sandbox: SandboxPortal, tab_portal: Any) -> DealTab:
    return open_tab(sandbox, deal_with_contacts(2), user=3)


def test_the_tab_shows_the_deals_contacts_in_order_with_phones_emails_and_the_primary_badge(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    from sandbox.models import DealContact, Multifield

    deal_id = deal_with_contacts(2)
    tab = open_tab(sandbox, deal_id, user=3)
    assert tab.contact_names() == [name for name, _ in bound(deal_id)]
    assert tab.primary() == [primary for _, primary in bound(deal_id)].index(True)
    section = text_of(tab.page, "contacts")
    for binding in DealContact.objects.filter(deal_id=deal_id):
        for channel in Multifield.objects.filter(entity_id="CONTACT", element_id=binding.contact_id):
            assert channel.value in section
            scheme = "tel" if channel.type_id == "PHONE" else "mailto"
            assert f'href="{scheme}:{channel.value}"' in tab.page
    assert section.count("Primary") == 1
    assert 'value="save" class="button" disabled' in tab.page  # nothing to save yet


def test_a_deal_without_contacts_invites_to_find_or_create_one(sandbox: SandboxPortal, tab_portal: Any) -> None:
    from sandbox.models import DealContact

    deal_id = deal_of(3)
    DealContact.objects.filter(deal_id=deal_id).delete()
    tab = open_tab(sandbox, deal_id, user=3)
    assert "No contacts are linked to this deal yet." in tab.page
    assert "Find a contact below, or create a new one." in tab.page
    assert tab.contact("contacts-count") == "0"


def test_opening_a_deal_with_ten_contacts_costs_one_request_and_shows_all_ten(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    from sandbox.models import Contact, DealContact

    deal_id = deal_of(3)
    DealContact.objects.filter(deal_id=deal_id).delete()
    contacts = list(Contact.objects.order_by("id")[:10])
    DealContact.objects.bulk_create(
        DealContact(deal_id=deal_id, contact=c, sort=(i + 1) * 10, is_primary="Y" if i == 3 else "N")
        for i, c in enumerate(contacts)
    )
    mark = last_call_id()
    tab = open_tab(sandbox, deal_id, user=3)
    assert [c.method for c in calls_since(mark)] == ["batch"]
    assert tab.contact_names() == [f"{c.name} {c.last_name}" for c in contacts]
    assert tab.primary() == 3


def test_a_linked_contact_this_user_may_not_read_keeps_its_place() -> None:
    """crm.contact.get refused for one binding (the sandbox lets everyone read every contact, so the
    opening batch's answer is built here): the contact stays in the list, unnamed, and is kept on save."""
    from django.template.loader import render_to_string

    from b24app.client import BatchResult
    from b24app.errors import AccessDenied
    from widgets.contacts.batch import bindings_of, cards_from_slots, contact_items
    from widgets.contacts.present import contacts_view
    from widgets.contacts.state import ContactsState

    answer = BatchResult(
        results={
            "bindings": [
                {"CONTACT_ID": 5, "SORT": 10, "ROLE_ID": 0, "IS_PRIMARY": "N"},
                {"CONTACT_ID": 9, "SORT": 20, "ROLE_ID": 0, "IS_PRIMARY": "Y"},
            ],
            "c0": {"ID": "5", "NAME": "Anna", "LAST_NAME": "Smith", "PHONE": [{"VALUE": "+12125550100"}]},
        },
        errors={"c1": AccessDenied("", "Access denied")},
        totals={},
        nexts={},
    )
    bindings = bindings_of(answer)
    items = contact_items(bindings, cards_from_slots(answer, bindings))
    assert [(i.card.id, i.card.name, i.card.hidden, i.primary) for i in items] == [
        (5, "Anna Smith", False, False),
        (9, "", True, True),
    ]
    view = contacts_view(state=ContactsState(1, 3, 7, items))
    page = render_to_string("widgets/deal_tab.html#contacts", {"contacts": view, "deal_id": 7})
    assert "Contact #9" in page and "Bitrix24 does not show you this contact's details." in shown(page)
    assert 'name="contacts-1-card"' in page and 'name="contacts-primary" value="1"' in page


@pytest.mark.parametrize("htmx", [True, False])
def test_searching_contacts_by_name_phone_or_email_lists_them_in_one_request(rep_tab: DealTab, htmx: bool) -> None:
    tab = rep_tab
    _contact_id, name, phone, email = an_unlinked_contact(tab.deal_id)
    first, last = name.split(" ", 1)
    for query in (last, first.lower(), name, f"{last} {first}", phone, email.upper()):
        mark = last_call_id()
        response = tab.get("tab_contact_search", {"cq": query}, htmx=htmx)
        assert response.status_code == 200
        assert len(calls_since(mark)) == (1 if htmx else 2), query  # without htmx, the whole tab too
        assert add_option(response.text, name), query
        assert f"Create “{query}” as a new contact" in html.unescape(response.text)


def add_sandbox_contact(tab: DealTab, first: str, last: str, *, phone: str = "", email: str = "") -> int:
    fields: dict[str, Any] = {"NAME": first, "LAST_NAME": last}
    if phone:
        fields["PHONE"] = [{"VALUE": phone, "VALUE_TYPE": "WORK"}]
    if email:
        fields["EMAIL"] = [{"VALUE": email, "VALUE_TYPE": "WORK"}]
    contact_id = tab.sandbox.result("crm.contact.add", {"fields": fields})
    assert isinstance(contact_id, int)
    return contact_id


def test_a_phone_or_email_search_lists_only_contacts_with_that_very_value(rep_tab: DealTab) -> None:
    """bitrix24-lists.md "Multifields": Bitrix24's PHONE/EMAIL filters match stored values that start
    with the value. Expected: searching a whole number or address offers the contact that has it,
    not the one whose number or address only starts with it."""
    tab = rep_tab
    add_sandbox_contact(tab, "Exact", "Number", phone="+12125550123", email="ann@example.co")
    add_sandbox_contact(tab, "Longer", "Number", phone="+121255501234", email="ann@example.com")
    phone = tab.get("tab_contact_search", {"cq": "+1 212 555 0123"})
    assert add_option(phone.text, "Exact Number")
    assert "Longer Number" not in shown(phone.text)
    email = tab.get("tab_contact_search", {"cq": "ANN@example.co"})
    assert add_option(email.text, "Exact Number")
    assert "Longer Number" not in shown(email.text)


def test_a_duplicate_check_ignores_contacts_whose_number_only_starts_with_the_new_one(rep_tab: DealTab) -> None:
    """bitrix24-lists.md "Multifields" (starts-with). Expected: a new contact whose phone and e-mail
    are the start of someone else's is added without a duplicate warning."""
    tab = rep_tab
    add_sandbox_contact(tab, "Longer", "Number", phone="+121255501234", email="nora@example.com")
    before = tab.contact_names()
    response = tab.contacts(
        "create", new_first_name="Nora", new_last_name="Short", new_phone="+12125550123", new_email="nora@example.co"
    )
    assert "already belongs to" not in shown(response.text)
    assert tab.contact_names() == [*before, "Nora Short"]


def test_a_contact_already_on_the_deal_is_listed_but_not_offered_again(rep_tab: DealTab) -> None:
    tab = rep_tab
    name = tab.contact_names()[0]
    linked = ",".join(str(n) for n in _ids(tab))
    response = tab.get("tab_contact_search", {"cq": name, "linked": linked})
    assert "already linked to this deal" in response.text
    with pytest.raises(AssertionError):
        add_option(response.text, name)


def _ids(tab: DealTab) -> list[int]:
    from widgets.contacts.state import card_read

    count = int(tab.contact("contacts-count"))
    cards = [card_read(tab.contact(f"contacts-{i}-card"), portal_id=tab.portal_id, user_id=3) for i in range(count)]
    return [card.id for card in cards]


def test_a_partial_phone_number_finds_nothing_and_says_why(rep_tab: DealTab) -> None:
    mark = last_call_id()
    response = rep_tab.get("tab_contact_search", {"cq": "555-01"})
    assert calls_since(mark) == []
    assert "Phone numbers and e-mail addresses are found when typed in full." in shown(response.text)


def test_when_bitrix24_does_not_answer_the_search_it_offers_to_retry(rep_tab: DealTab) -> None:
    from tests.widgets.tab_support import portal_down

    with portal_down(rep_tab.sandbox):
        response = rep_tab.get("tab_contact_search", {"cq": "Smith"})
    assert response.status_code == 200
    assert "Bitrix24 did not answer the contact search." in response.text and ">Retry</button>" in response.text


@pytest.mark.parametrize("htmx", [True, False])
def test_adding_a_found_contact_puts_it_last_without_a_request(rep_tab: DealTab, htmx: bool) -> None:
    tab = rep_tab
    before = tab.contact_names()
    _, name, _, _ = an_unlinked_contact(tab.deal_id)
    option = add_option(tab.get("tab_contact_search", {"cq": name}).text, name)
    mark = last_call_id()
    response = tab.contacts(option, htmx=htmx)
    assert calls_since(mark) == []
    assert response.status_code == 200
    assert tab.contact_names() == [*before, name]
    assert f"{name} added. Save to link them to the deal." in shown(response.text)
    assert 'value="save" class="button">' in response.text and "Unsaved changes" in response.text
    if htmx:
        assert response.text.lstrip().startswith('<form id="contacts"')
        assert 'hx-swap-oob="innerHTML:#contacts-status"' in response.text
    else:
        assert response.text.lstrip().startswith("<!DOCTYPE html>") and '<form id="editor"' in response.text
    # Adding the same contact twice is refused with a message.
    again = tab.contacts(option)
    assert tab.contact_names() == [*before, name]
    assert f"{name} is already linked to this deal." in shown(again.text)


@pytest.mark.parametrize("htmx", [True, False])
def test_remove_make_primary_and_reorder_change_only_the_editor(rep_tab: DealTab, htmx: bool) -> None:
    tab = rep_tab
    names = tab.contact_names()
    stored = bound(tab.deal_id)
    mark = last_call_id()
    tab.contacts("down:0", htmx=htmx)
    assert tab.contact_names() == [names[1], names[0], *names[2:]]
    tab.contacts("primary:0", htmx=htmx)
    assert tab.primary() == 0
    tab.contacts("up:1", htmx=htmx)
    assert tab.contact_names() == names
    assert tab.primary() == 1
    tab.contacts("remove:1", htmx=htmx)  # the primary one: the first left takes the badge
    assert tab.contact_names() == [names[0], *names[2:]]
    assert tab.primary() == 0
    assert calls_since(mark) == [] and bound(tab.deal_id) == stored
    cancelled = tab.contacts("cancel", htmx=htmx)
    assert tab.contact_names() == names and "Changes discarded." in cancelled.text


def test_removing_every_contact_leaves_none_primary(rep_tab: DealTab) -> None:
    tab = rep_tab
    for _ in tab.contact_names():
        tab.contacts("remove:0")
    assert tab.contact("contacts-count") == "0" and tab.primary() == -1
    assert "No contacts are linked to this deal yet." in tab.response.text


def test_a_contact_card_that_was_not_signed_by_the_app_is_refused(rep_tab: DealTab) -> None:
    from widgets.contacts.state import ContactCard, card_sign

    tab = rep_tab
    forged = dict(tab.contact_fields)
    forged["contacts-0-card"] = forged["contacts-0-card"][:-4] + "AAAA"
    assert tab.contacts("save", fields=list(forged.items())).status_code == 403
    # A card signed for another user is not this user's either.
    other = card_sign(ContactCard(1, "Someone"), portal_id=tab.portal_id, user_id=2)
    assert tab.contacts(f"add:{other}").status_code == 403
    assert tab.session.post(tab.url("tab_contacts"), data={"action": "save"}, timeout=30).status_code == 403


# --- a new contact typed in --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ({"new_first_name": "", "new_last_name": ""}, "Enter the contact's name."),
        (
            {"new_phone": "call me"},
            "Enter a phone number: digits, spaces, dashes or brackets, with + and the country code.",
        ),
        ({"new_phone": "+1 555"}, "A phone number has 7 to 15 digits."),
        ({"new_phone": "+1 212 555 0100 12345 6"}, "A phone number has 7 to 15 digits."),
        ({"new_email": "anna@"}, "Enter an e-mail address like name@example.com."),
        ({"new_email": "anna smith@example.com"}, "Enter an e-mail address like name@example.com."),
    ],
)
def test_a_new_contact_with_a_bad_phone_or_email_is_explained_next_to_the_field(
    rep_tab: DealTab, typed: dict[str, str], error: str
) -> None:
    tab = rep_tab
    before = tab.contact_names()
    fields: dict[str, Any] = {"new_first_name": "Nora", "new_last_name": "Quinn", "new_phone": "", "new_email": ""}
    fields.update(typed)
    mark = last_call_id()
    response = tab.contacts("create", **fields)
    assert calls_since(mark) == []
    assert response.status_code == 200
    field_name = next(name for name in typed if error).replace("new_", "")
    if field_name == "last_name":
        field_name = "first_name"
    assert text_of(response.text, f"new-{field_name}-error") == error
    assert f'id="new-{field_name}"' in response.text and 'aria-invalid="true"' in response.text
    assert tab.contact_names() == before
    assert '<details class="new-contact" id="new-contact" open>' in response.text
    assert tab.contact("new-first_name") == fields["new_first_name"]  # what was typed is kept


@pytest.mark.parametrize("htmx", [True, False])
def test_a_new_contact_is_checked_for_duplicates_and_added_to_be_created_on_save(rep_tab: DealTab, htmx: bool) -> None:
    tab = rep_tab
    before = tab.contact_names()
    mark = last_call_id()
    response = tab.contacts(
        "create",
        htmx=htmx,
        new_first_name="Nora",
        new_last_name="Quinn",
        new_phone="+44 (20) 7946-0999",
        new_email="Nora.Quinn@Example.COM",
    )
    calls = calls_since(mark)
    assert [c.method for c in calls] == ["batch"] and set(calls[0].batch_methods) == {"crm.contact.list"}
    assert tab.contact_names() == [*before, "Nora Quinn"]
    page = shown(response.text)
    assert "New: created when you save" in page
    assert "+442079460999" in page and "Nora.Quinn@example.com" in page  # normalised
    assert "Nora Quinn will be created in Bitrix24 when you save." in page
    assert tab.contact("new-first_name") == "" and tab.contact("new-phone") == ""  # the form is cleared


def test_a_new_contacts_phone_that_belongs_to_someone_offers_that_contact_instead(rep_tab: DealTab) -> None:
    tab = rep_tab
    _, name, phone, email = an_unlinked_contact(tab.deal_id)
    before = tab.contact_names()
    response = tab.contacts("create", new_first_name="Someone", new_last_name="Else", new_phone=phone, new_email="")
    page = text_of(response.text, "duplicates")
    assert f"This phone number already belongs to {name}." in page
    assert f"Use {name} instead" in page and "Create a new contact anyway" in page
    assert tab.contact_names() == before
    use = re.search(r'value="(add:[^"]+)" class="button small">Use', response.text)
    assert use is not None
    tab.contacts(html.unescape(use.group(1)))
    assert tab.contact_names() == [*before, name]
    # The same e-mail, typed in capitals, is found too; creating it anyway is still possible.
    response = tab.contacts(
        "create", new_first_name="Other", new_last_name="Person", new_phone="", new_email=email.upper()
    )
    assert f"This e-mail address already belongs to {name}." in text_of(response.text, "duplicates")
    assert "They are already linked to this deal." in text_of(response.text, "duplicates")
    mark = last_call_id()
    tab.contacts("create_anyway")
    assert calls_since(mark) == []
    assert tab.contact_names() == [*before, name, "Other Person"]


def test_create_as_a_new_contact_from_the_search_fills_in_the_form(rep_tab: DealTab) -> None:
    tab = rep_tab
    response = tab.contacts("prefill", cq="Nora Quinn")
    assert tab.contact("new-first_name") == "Nora" and tab.contact("new-last_name") == "Quinn"
    assert '<details class="new-contact" id="new-contact" open>' in response.text
    tab.contacts("prefill", cq="+1 212 555 0199")
    assert tab.contact("new-phone") == "+1 212 555 0199" and tab.contact("new-first_name") == ""
    tab.contacts("prefill", cq="nora@example.com")
    assert tab.contact("new-email") == "nora@example.com"


# --- phone numbers and e-mails, directly -------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("+1 (212) 555-0123", "+12125550123"),
        ("+44 20 7946 0958", "+442079460958"),
        ("8 (495) 123-45-67", "84951234567"),
        ("212.555.0123", "2125550123"),
        ("+7\u00a0495\u00a0123\u00a04567", "+74951234567"),
    ],
)
def test_phone_numbers_keep_only_their_digits_and_a_leading_plus(typed: str, kept: str) -> None:
    from widgets.contacts.forms import phone_normalise

    assert phone_normalise(typed) == kept


@given(st.text(alphabet="0123456789 -.()+", min_size=1, max_size=30))
def test_a_normalised_phone_number_normalises_to_itself(text: str) -> None:
    from django import forms

    from widgets.contacts.forms import phone_normalise

    try:
        once = phone_normalise(text)
    except forms.ValidationError:
        return
    assert phone_normalise(once) == once
    assert once.lstrip("+").isdigit() and 7 <= len(once.lstrip("+")) <= 15


def test_email_addresses_keep_their_local_part_and_lower_case_their_domain() -> None:
    from widgets.contacts.forms import email_normalise

    assert email_normalise("  Nora.Quinn@Example.COM ") == "Nora.Quinn@example.com"


# --- around the section ------------------------------------------------------------------------------


def test_the_contacts_are_read_only_while_the_portal_needs_re_authorization(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    from b24app.models import Portal

    Portal.objects.update(status=Portal.Status.NEEDS_REAUTH)
    deal_id = deal_with_contacts(2)
    tab = open_tab(sandbox, deal_id, user=3)
    assert '<section id="contacts" class="contacts readonly"' in tab.page and '<form id="contacts"' not in tab.page
    section = text_of(tab.page, "contacts")
    assert all(name in section for name, _ in bound(deal_id)) and "Primary" in section
    assert "Make primary" not in section


def test_a_products_post_without_htmx_shows_the_contacts_as_loaded(rep_tab: DealTab) -> None:
    tab = rep_tab
    names = tab.contact_names()
    response = tab.post("add", htmx=False)
    assert response.text.lstrip().startswith("<!DOCTYPE html>")
    assert '<form id="contacts"' in response.text and tab.contact_names() == names


def test_the_contacts_section_speaks_the_users_language(sandbox: SandboxPortal, tab_portal: Any) -> None:
    tab = open_tab(sandbox, deal_with_contacts(2), user=3, lang="ru")
    page = shown(tab.page)
    assert "Контакты" in page and "Сохранить контакты" in page and "Создать новый контакт" in page
    response = tab.contacts("create", new_first_name="", new_last_name="", new_phone="123", new_email="")
    assert text_of(response.text, "new-phone-error") == "В номере телефона от 7 до 15 цифр."
    assert text_of(response.text, "new-first_name-error") == "Введите имя контакта."


def test_contacts_that_could_not_be_loaded_offer_a_retry_instead_of_an_empty_editor() -> None:
    """crm.deal.contact.items.get failed: an empty editor would unlink them all on the next save."""
    from django.template.loader import render_to_string

    page = render_to_string("widgets/deal_tab.html#contacts", {"contacts": None, "deal_id": 7})
    assert "Bitrix24 did not answer, so the contacts could not be loaded." in page
    assert 'hx-get="/deal-tab/7/" hx-target="#tab"' in page and ">Retry</button>" in page
    assert "<form" not in page
