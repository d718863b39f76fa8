"""Saving the deal's contacts: what reaches the sandbox portal, in two requests; contacts created in
the tab; conflicts with changes made elsewhere; contacts deleted meanwhile or never visible; users
Bitrix24 does not let write — and nothing saved half-way."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from tests.conftest import SandboxPortal
from tests.widgets.contacts.test_contacts_editor import add_option, an_unlinked_contact, bound, deal_with_contacts
from tests.widgets.tab_support import (
    DealTab,
    calls_since,
    deal_of,
    last_call_id,
    open_tab,
    portal_down,
    shown,
    text_of,
)


def contact_count() -> int:
    from sandbox.models import Contact

    return Contact.objects.count()


def found(tab: DealTab, name: str) -> str:
    return add_option(tab.get("tab_contact_search", {"cq": name}).text, name)


@pytest.fixture
def rep_tab(sandbox: SandboxPortal, tab_portal: Any) -> DealTab:
    return open_tab(sandbox, deal_with_contacts(2), user=3)


@pytest.mark.parametrize("htmx", [True, False])
def test_saving_writes_the_contacts_their_order_and_the_primary_one_in_one_request(
    rep_tab: DealTab, htmx: bool
) -> None:
    tab = rep_tab
    names = tab.contact_names()
    _, added, _, _ = an_unlinked_contact(tab.deal_id)
    tab.contacts(found(tab, added))
    tab.contacts("remove:0")
    tab.contacts(f"primary:{len(names) - 1}")  # the one just added
    tab.contacts("up:0", htmx=htmx)  # disabled in the page; a no-op if posted anyway
    tab.contacts("down:0")
    expected = tab.contact_names()
    mark = last_call_id()
    response = tab.contacts("save", htmx=htmx)
    calls = calls_since(mark)
    assert [c.method for c in calls] == ["batch"]
    assert "crm.deal.contact.items.set" in calls[0].batch_methods
    assert [name for name, _ in bound(tab.deal_id)] == expected
    assert [primary for _, primary in bound(tab.deal_id)] == [name == added for name in expected]
    assert "Saved." in text_of(response.text, "contacts-status") if not htmx else "Saved." in shown(response.text)
    assert tab.contact_names() == expected and expected[tab.primary()] == added
    assert 'value="save" class="button" disabled' in response.text  # nothing left to save
    # The primary contact changed: the card around the tab is offered a refresh (BX24.reloadWindow).
    assert "Refresh the deal card to see the new primary contact" in response.text
    # The deal's own fields follow the bindings (deals-api-spec.md §7: CONTACT_ID is the primary one).
    deal = tab.sandbox.result("crm.deal.get", {"id": tab.deal_id})
    assert int(deal["CONTACT_ID"]) == _id_of(added)


def _id_of(name: str) -> int:
    from sandbox.models import Contact

    first, last = name.split(" ", 1)
    return int(Contact.objects.get(name=first, last_name=last).pk)


def test_saving_the_same_primary_contact_does_not_offer_to_refresh_the_card(rep_tab: DealTab) -> None:
    tab = rep_tab
    tab.contacts(f"down:{tab.primary()}" if tab.primary() == 0 else "down:0")
    response = tab.contacts("save")
    assert "Saved." in shown(response.text)
    assert "Refresh the deal card" not in response.text


def test_a_contact_created_in_the_tab_is_created_and_linked_by_the_save_itself(rep_tab: DealTab) -> None:
    from sandbox.models import Contact, Multifield

    tab = rep_tab
    before = tab.contact_names()
    tab.contacts(
        "create",
        new_first_name="Nora",
        new_last_name="Quinn",
        new_phone="+44 (20) 7946-0999",
        new_email="Nora@Example.COM",
    )
    tab.contacts(f"primary:{len(before)}")
    count = contact_count()
    assert count == contact_count()  # nothing created before the save
    mark = last_call_id()
    response = tab.contacts("save")
    calls = calls_since(mark)
    assert [c.method for c in calls] == ["batch"]
    assert calls[0].batch_methods.count("crm.contact.add") == 1
    created = Contact.objects.get(name="Nora", last_name="Quinn")
    values = set(Multifield.objects.filter(element_id=created.pk, entity_id="CONTACT").values_list("type_id", "value"))
    assert values == {("PHONE", "+442079460999"), ("EMAIL", "Nora@example.com")}
    assert bound(tab.deal_id) == [*[(n, False) for n in before], ("Nora Quinn", True)]
    assert tab.contact_names() == [*before, "Nora Quinn"]
    assert "New: created when you save" not in response.text and "Saved." in shown(response.text)
    assert contact_count() == count + 1


def test_two_new_contacts_and_a_removed_one_are_saved_together(rep_tab: DealTab) -> None:
    tab = rep_tab
    before = tab.contact_names()
    for first in ("Ada", "Ben"):
        tab.contacts("create_anyway", new_first_name=first, new_last_name="Test", new_phone="", new_email="")
    tab.contacts("remove:0")
    tab.contacts("save")
    assert [name for name, _ in bound(tab.deal_id)] == [*before[1:], "Ada Test", "Ben Test"]


def test_removing_every_contact_unlinks_them_all(rep_tab: DealTab) -> None:
    tab = rep_tab
    for _ in tab.contact_names():
        tab.contacts("remove:0")
    mark = last_call_id()
    response = tab.contacts("save")
    assert len(calls_since(mark)) == 1
    assert bound(tab.deal_id) == []
    assert "Saved." in shown(response.text) and "No contacts are linked to this deal yet." in response.text


def test_contacts_changed_elsewhere_are_shown_instead_of_being_overwritten(
    sandbox: SandboxPortal, rep_tab: DealTab
) -> None:
    tab = rep_tab
    tab.contacts("remove:0")
    theirs = [{"CONTACT_ID": 1, "IS_PRIMARY": "Y"}, {"CONTACT_ID": 2}]
    assert sandbox.result("crm.deal.contact.items.set", {"id": tab.deal_id, "items": theirs}, user=2) is True
    stored = bound(tab.deal_id)
    mark = last_call_id()
    response = tab.contacts("save")
    # Binding changes keep DATE_MODIFY; the batch's own check of each loaded binding stopped it
    # before the write.
    assert len(calls_since(mark)) == 1  # nothing was written
    assert bound(tab.deal_id) == stored
    page = shown(response.text)
    assert "Someone else changed this deal's contacts" in page
    # Binding changes move neither DATE_MODIFY nor MODIFY_BY_ID: nobody is named who may not have done it.
    assert "The contacts were changed in Bitrix24 after you opened this deal." in page
    assert "Saved in Bitrix24" in page and "Your version" in page
    assert "Not saved: the contacts were changed in Bitrix24 after you opened them." in page
    # Keeping theirs loads them without a request; the next save compares with them.
    mark = last_call_id()
    tab.contacts("keep_theirs")
    assert calls_since(mark) == []
    assert tab.contact_names() == [n for n, _ in stored]
    tab.contacts("remove:1")
    assert "Saved." in shown(tab.contacts("save").text)
    assert bound(tab.deal_id) == stored[:1]


def test_a_contact_added_elsewhere_is_kept_and_shown_as_a_conflict(sandbox: SandboxPortal, rep_tab: DealTab) -> None:
    """An added binding passes every check of the loaded ones: the bindings read just before the
    write tell, and theirs are written back at once (one more request)."""
    tab = rep_tab
    tab.contacts("remove:0")
    added_id, _, _, _ = an_unlinked_contact(tab.deal_id)
    assert sandbox.result("crm.deal.contact.add", {"id": tab.deal_id, "fields": {"CONTACT_ID": added_id}}, user=2)
    stored = bound(tab.deal_id)
    mark = last_call_id()
    response = tab.contacts("save")
    assert len(calls_since(mark)) == 2
    assert bound(tab.deal_id) == stored
    assert "Not saved: the contacts were changed in Bitrix24 after you opened them." in shown(response.text)


def test_in_a_conflict_replacing_their_contacts_with_mine_saves_mine(sandbox: SandboxPortal, rep_tab: DealTab) -> None:
    tab = rep_tab
    tab.contacts("remove:0")
    mine = tab.contact_names()
    sandbox.result("crm.deal.contact.items.set", {"id": tab.deal_id, "items": [{"CONTACT_ID": 1}]}, user=2)
    tab.contacts("save")
    response = tab.contacts("overwrite")
    assert "Saved." in shown(response.text)
    assert [n for n, _ in bound(tab.deal_id)] == mine


def test_a_contact_deleted_meanwhile_is_named_and_nothing_is_saved(sandbox: SandboxPortal, rep_tab: DealTab) -> None:
    tab = rep_tab
    contact_id, name, _, _ = an_unlinked_contact(tab.deal_id)
    tab.contacts(found(tab, name))
    tab.contacts("create_anyway", new_first_name="Nora", new_last_name="Quinn", new_phone="", new_email="")
    tab.contacts("remove:0")
    assert sandbox.result("crm.contact.delete", {"id": contact_id}, user=1) is True
    stored, count = bound(tab.deal_id), contact_count()
    mark = last_call_id()
    response = tab.contacts("save")
    assert len(calls_since(mark)) == 1
    assert bound(tab.deal_id) == stored and contact_count() == count  # Nora was not created either
    index = tab.contact_names().index(name)
    problem = text_of(response.text, f"contact-{index}-problem")
    assert problem == "This contact was deleted in Bitrix24, or you may not see it. Remove it to save."
    assert "Fix the marked contacts, then save again." in shown(response.text)
    # Removing it lets the rest be saved.
    tab.contacts(f"remove:{index}")
    assert "Saved." in shown(tab.contacts("save").text)
    assert "Nora Quinn" in [n for n, _ in bound(tab.deal_id)]


def test_a_contact_id_the_user_cannot_see_is_refused_next_to_it(rep_tab: DealTab) -> None:
    """A card for a contact this user never got from Bitrix24 (signed here, as a stale page might hold)."""
    from widgets.contacts.state import ContactCard, card_sign

    tab = rep_tab
    stored = bound(tab.deal_id)
    ghost = card_sign(ContactCard(987654, "Ghost Contact"), portal_id=tab.portal_id, user_id=3)
    tab.contacts(f"add:{ghost}")
    response = tab.contacts("save")
    assert bound(tab.deal_id) == stored
    problem = text_of(response.text, f"contact-{len(stored)}-problem")
    assert problem == "This contact was deleted in Bitrix24, or you may not see it. Remove it to save."


def test_a_user_bitrix24_does_not_let_write_gets_read_only_contacts_and_no_stray_contact(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    from sandbox.models import Contact

    deal_id = deal_with_contacts(1, user=4)  # a colleague's deal: the rep may read it, not change it
    stored, count = bound(deal_id), contact_count()
    tab = open_tab(sandbox, deal_id, user=3)
    tab.contacts("create_anyway", new_first_name="Stray", new_last_name="Contact", new_phone="", new_email="")
    mark = last_call_id()
    response = tab.contacts("save")
    # The portal refused the set after creating the contact: it was deleted again (one more request).
    assert [c.method for c in calls_since(mark)] == ["batch", "batch"]
    assert bound(deal_id) == stored
    assert contact_count() == count and not Contact.objects.filter(name="Stray").exists()
    page = shown(response.text)
    assert "Not saved: Bitrix24 does not let you change this deal's contacts." in page
    assert '<section id="contacts" class="contacts readonly"' in response.text
    assert all(name in text_of(response.text, "contacts") for name, _ in stored)
    # Reopening the tab shows it read-only at once, products and contacts alike.
    again = open_tab(sandbox, deal_id, user=3)
    assert '<section id="contacts" class="contacts readonly"' in again.page
    assert '<section id="editor" class="editor readonly"' in again.page


def test_the_read_only_user_cannot_create_contacts_and_is_told_next_to_it(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    deal_id = deal_with_contacts(1)
    stored, count = bound(deal_id), contact_count()
    tab = open_tab(sandbox, deal_id, user=5)
    tab.contacts("create_anyway", new_first_name="Nope", new_last_name="", new_phone="", new_email="")
    response = tab.contacts("save")
    assert bound(deal_id) == stored and contact_count() == count
    index = len(stored)
    assert text_of(response.text, f"contact-{index}-problem") == "Bitrix24 does not let you create contacts."


def test_when_bitrix24_does_not_answer_the_save_nothing_is_lost(rep_tab: DealTab) -> None:
    tab = rep_tab
    tab.contacts("remove:0")
    edited = tab.contact_names()
    with portal_down(tab.sandbox):
        response = tab.contacts("save")
    assert response.status_code == 200
    # The save is one request that writes: a 502 page cannot say whether it was applied, and the
    # read that would tell finds the portal down too, so the tab says it could not confirm.
    assert "Not confirmed." in shown(response.text) and "Saved." not in shown(response.text)
    assert tab.contact_names() == edited
    assert "Saved." in shown(tab.contacts("save").text)
    assert [n for n, _ in bound(tab.deal_id)] == edited


def test_a_deal_changed_between_the_check_and_the_write_creates_and_links_nothing(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    """The write batch's guard: with halt=1 a stale DATE_MODIFY stops it before crm.contact.add."""
    from b24app.client import B24Client
    from b24app.models import UserToken
    from b24app.oauth import UserTokens
    from widgets.contacts.batch import write_commands
    from widgets.contacts.state import ContactCard, ContactItem

    deal_id = deal_of(3)
    open_tab(sandbox, deal_id, user=3)
    client = B24Client(UserTokens(UserToken.objects.get(user_id=3)))
    stored, count = bound(deal_id), contact_count()
    items = [ContactItem(ContactCard.created(first_name="Late", last_name="", phone="", email=""), primary=True)]
    stale = client.batch(
        write_commands(deal_id=deal_id, date_modify="2020-01-01T10:00:00+00:00", items=items), halt=True
    )
    assert "gate" in stale.errors and "new0" not in stale.results and "set" not in stale.results
    assert bound(deal_id) == stored and contact_count() == count
    read = client.call("crm.deal.get", {"id": deal_id}).result
    fresh = client.batch(write_commands(deal_id=deal_id, date_modify=read["DATE_MODIFY"], items=items), halt=True)
    assert fresh.get("set") is True and bound(deal_id) == [("Late", True)]


def test_htmx_and_plain_posts_of_a_save_answer_with_the_section_or_the_whole_page(rep_tab: DealTab) -> None:
    tab = rep_tab
    tab.contacts("remove:0")
    partial = tab.contacts("save")
    assert partial.text.lstrip().startswith('<form id="contacts"')
    assert 'hx-swap-oob="innerHTML:#contacts-status"' in partial.text
    tab.contacts("remove:0")
    page = tab.contacts("save", htmx=False)
    assert page.text.lstrip().startswith("<!DOCTYPE html>") and '<form id="editor"' in page.text
    assert re.search(r'id="contacts-status"[^>]*><span class="ok">Saved\.', page.text)
    assert html.unescape(tab.value("rows-0-name"))  # the products are there too, as loaded


def test_a_rows_save_then_a_contacts_save_in_the_same_tab_cost_one_request_each(rep_tab: DealTab) -> None:
    # The rows save moves DATE_MODIFY; the contacts form must carry the new one, or its guard fails
    # and the save costs a second request (issue 17). htmx's out-of-band swap is followed by DealTab.
    tab = rep_tab
    assert tab.rows() >= 1
    tab.post(rows_0_quantity="7")
    before = tab.contact("cstate")
    mark = last_call_id()
    assert "Saved." in shown(tab.post("save").text)
    assert len(calls_since(mark)) == 1
    assert tab.contact("cstate") != before  # the contacts form now carries the deal's new version
    tab.contacts("remove:0")
    expected = tab.contact_names()
    mark = last_call_id()
    response = tab.contacts("save")
    assert [c.method for c in calls_since(mark)] == ["batch"]
    assert "Saved." in shown(response.text) and [name for name, _ in bound(tab.deal_id)] == expected
    # And the other way round: the rows saved after the contacts are one request too.
    tab.post(rows_0_quantity="8")
    mark = last_call_id()
    assert "Saved." in shown(tab.post("save").text)
    assert len(calls_since(mark)) == 1
