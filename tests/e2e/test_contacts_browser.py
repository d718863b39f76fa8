"""The deal tab's contacts and its "changed elsewhere" notice in a real browser, through the sandbox
portal: a sales rep adds, creates, removes and makes primary, then saves; a manager changes and then
deletes the deal in the portal's own card while the rep's tab is open."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.portal import fresh_app_cache
from tests.conftest import SandboxPortal
from tests.e2e.browser import open_deal_tab, sign_in_as, watched_page
from tests.widgets.contacts.test_contacts_editor import an_unlinked_contact, bound, deal_with_contacts
from tests.widgets.tab_support import calls_since, install, last_call_id

pytestmark = pytest.mark.browser
POLL_SECONDS = 2


@pytest.fixture
def fresh(settings: Any) -> Iterator[None]:
    settings.DEAL_DESK_VERSION_POLL_SECONDS = POLL_SECONDS
    with fresh_app_cache(settings):
        yield


def window(chromium: Any, user: int, sandbox: SandboxPortal) -> Any:
    page = watched_page(chromium)
    sign_in_as(page, sandbox, user)
    return page


def expect_visible(locator: Any, timeout: float = 10_000) -> None:
    from playwright.sync_api import expect

    expect(locator).to_be_visible(timeout=timeout)


def test_a_sales_rep_adds_creates_removes_and_makes_primary_then_saves(
    sandbox: SandboxPortal, chromium: Any, fresh: None
) -> None:
    install(sandbox)
    deal_id = deal_with_contacts(2)
    _, found_name, _, _ = an_unlinked_contact(deal_id)
    before = [name for name, _ in bound(deal_id)]
    page = window(chromium, 3, sandbox)
    frame = open_deal_tab(page, sandbox, deal_id)
    cards = frame.locator("#contacts .contact-card")
    assert cards.count() == len(before)
    assert frame.locator("#contacts .contact-card.is-primary").count() == 1

    # Find an existing contact by last name and pick it with the keyboard.
    search = frame.get_by_label("Add a contact")
    search.press_sequentially(found_name.split(" ", 1)[1], delay=30)
    frame.locator("#contact-results").get_by_role("option", name=re.compile(re.escape(found_name))).wait_for()
    search.press("ArrowDown")
    page.keyboard.press("Enter")
    expect_visible(cards.filter(has_text=found_name))

    # Create a new one inline: a bad phone number is explained next to the field, then fixed.
    frame.get_by_text("Create a new contact", exact=True).click()
    frame.get_by_label("First name").fill("Nora")
    frame.get_by_label("Last name").fill("Quinn")
    frame.get_by_label("Phone").fill("call me")
    frame.get_by_label("E-mail").fill("Nora.Quinn@Example.com")
    frame.get_by_role("button", name="Add this new contact").click()
    expect_visible(frame.locator("#new-phone-error").filter(has_text="Enter a phone number"))
    page.screenshot(path="/tmp/contacts-invalid.png", full_page=True)
    frame.get_by_label("Phone").fill("+44 (20) 7946-0999")
    frame.get_by_label("Phone").press("Enter")
    new_card = cards.filter(has_text="Nora Quinn")
    expect_visible(new_card)
    assert "New: created when you save" in new_card.inner_text()

    # Remove the first contact, make the new one primary.
    frame.get_by_role("button", name=f"Remove {before[0]} from the deal").click()
    expect_visible(frame.locator("#contacts .contact-card").first.filter(has_not_text=before[0]))
    new_card.get_by_role("button", name=re.compile("^Make primary")).click()
    expect_visible(frame.locator("#contacts .contact-card.is-primary").filter(has_text="Nora Quinn"))
    page.screenshot(path="/tmp/contacts-edited.png", full_page=True)

    frame.get_by_role("button", name="Save contacts").click()
    frame.locator("#contacts-status").filter(has_text=re.compile(r"^Saved\.")).wait_for()
    assert bound(deal_id) == [*[(n, False) for n in before[1:]], (found_name, False), ("Nora Quinn", True)]
    page.screenshot(path="/tmp/contacts-saved.png", full_page=True)

    # The primary contact changed: the card around the tab is offered a reload (BX24.reloadWindow).
    refresh = frame.get_by_role("button", name="Refresh the deal card to see the new primary contact")
    expect_visible(refresh)
    with page.expect_navigation():
        refresh.click()
    page.get_by_role("tab", name="Contacts").click()
    expect_visible(page.locator("#panel-contacts").get_by_text("Nora Quinn"))
    assert page.errors == []


def test_contacts_saved_after_the_rows_in_the_same_tab_cost_one_request(
    sandbox: SandboxPortal, chromium: Any, fresh: None
) -> None:
    # The rows save moves the deal's DATE_MODIFY; its answer swaps the contacts form's version in out
    # of band, so the contacts save's guard passes the first time (issue 17).
    install(sandbox)
    deal_id = deal_with_contacts(2)
    before = [name for name, _ in bound(deal_id)]
    page = window(chromium, 3, sandbox)
    frame = open_deal_tab(page, sandbox, deal_id)
    quantity = frame.locator("#row-0-quantity")
    quantity.fill("7")
    quantity.press("Enter")
    frame.get_by_role("button", name="Save", exact=True).click()
    frame.locator("#save-status").filter(has_text=re.compile(r"^Saved\.")).wait_for()
    frame.get_by_role("button", name=f"Remove {before[0]} from the deal").click()
    expect_visible(frame.locator("#contacts .contact-card").first.filter(has_not_text=before[0]))
    mark = last_call_id()
    frame.get_by_role("button", name="Save contacts").click()
    frame.locator("#contacts-status").filter(has_text=re.compile(r"^Saved\.")).wait_for()
    assert [call.method for call in calls_since(mark)] == ["batch"]
    assert [name for name, _ in bound(deal_id)] == before[1:]
    assert page.errors == []


def test_a_change_made_in_the_portal_while_the_tab_is_open_shows_within_the_polling_interval(
    sandbox: SandboxPortal, chromium: Any, fresh: None
) -> None:
    install(sandbox)
    deal_id = deal_with_contacts(2)
    rep = window(chromium, 3, sandbox)
    frame = open_deal_tab(rep, sandbox, deal_id)
    quantity = frame.locator("#row-0-quantity")
    quantity.fill("7")
    quantity.press("Enter")  # an unsaved edit the notice must not lose
    frame.locator("#editor-actions").get_by_text("Unsaved changes").wait_for()

    manager = window(chromium, 2, sandbox)
    manager.goto(f"{sandbox.url}crm/deal/details/{deal_id}/")
    manager.get_by_role("link", name="Edit").click()
    manager.get_by_label("Title").fill("Renamed by the manager")
    manager.get_by_label("Stage").evaluate(
        "select => { select.selectedIndex = (select.selectedIndex + 1) % select.length; }"
    )
    manager.get_by_role("button", name="Save").click()
    manager.wait_for_url(re.compile(r"/crm/deal/details/\d+/$"))

    notice = frame.locator("#freshness .notice")
    # Delivered in the background, then seen by the next poll: within two intervals and a margin.
    expect_visible(notice.filter(has_text="This deal was changed elsewhere."), timeout=(2 * POLL_SECONDS + 3) * 1000)
    expect_visible(frame.get_by_role("button", name="Reload and discard my changes"))
    rep.screenshot(path="/tmp/contacts-changed-elsewhere.png", full_page=True)

    # Keep editing: the notice goes, the edit stays.
    frame.get_by_role("button", name="Keep editing").click()
    expect_hidden(notice)
    assert frame.locator("#row-0-quantity").input_value() == "7"

    # A second change brings it back; this time reload: the tab shows the deal as it is now.
    manager.get_by_role("link", name="Edit").click()
    manager.get_by_label("Title").fill("Renamed twice")
    manager.get_by_role("button", name="Save").click()
    manager.wait_for_url(re.compile(r"/crm/deal/details/\d+/$"))
    expect_visible(notice.filter(has_text="This deal was changed elsewhere."), timeout=(2 * POLL_SECONDS + 3) * 1000)
    frame.get_by_role("button", name="Reload and discard my changes").click()
    expect_hidden(frame.locator("#freshness .notice"))
    assert frame.locator("#row-0-quantity").input_value() != "7"

    # Deleted in the portal: said so, and nothing can be saved any more.
    manager.once("dialog", lambda dialog: dialog.accept())
    manager.get_by_role("button", name="Delete").click()
    manager.wait_for_url(re.compile(r"/crm/deal/"))
    expect_visible(frame.get_by_text("This deal was deleted in Bitrix24."), timeout=(2 * POLL_SECONDS + 3) * 1000)
    frame.locator("#row-0-quantity").fill("9")
    frame.locator("#row-0-quantity").press("Enter")
    from playwright.sync_api import expect

    expect(frame.get_by_role("button", name="Save", exact=True)).to_be_disabled()
    expect(frame.get_by_role("button", name="Save contacts")).to_be_disabled()
    rep.screenshot(path="/tmp/contacts-deleted.png", full_page=True)
    assert rep.errors == [] and manager.errors == []
    for page in (rep, manager):
        page.context.close()


def expect_hidden(locator: Any) -> None:
    from playwright.sync_api import expect

    expect(locator).to_have_count(0, timeout=10_000)
