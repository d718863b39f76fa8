"""A write whose answer was lost: the tab reads the deal again and tells the truth.

The sandbox applies the write and then loses its answer (faults applied_slow / applied_reset /
applied_down, over real HTTP). The tab must then say "saved" when Bitrix24 holds what was sent,
"not saved" when it still holds the old state, and "could not confirm" with a reload otherwise:
never "nothing was saved" about a write that was applied.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.conftest import SandboxPortal
from tests.widgets.contacts.test_contacts_editor import bound, deal_with_contacts
from tests.widgets.layout_support import (  # noqa: F401 - fixtures
    AdminPage,
    Installed,
    admin_fixture,
    editor_fields,
    installed_fixture,
    stored_layout,
)
from tests.widgets.products.test_tab_save import stored_rows
from tests.widgets.tab_support import calls_since, deal_of, last_call_id, open_tab, sandbox_fault, shown

SLOW_MS = 1500


@pytest.fixture
def lose_answers(sandbox: SandboxPortal, tab_portal: Any, settings: Any) -> Iterator[Any]:
    settings.B24_HTTP_TIMEOUT = 0.5  # below the fault's delay: the app gives up before the answer

    def switch(fault: str) -> None:
        sandbox_fault(sandbox, fault=fault, delay_ms=SLOW_MS if fault == "applied_slow" else 0)

    yield switch
    sandbox_fault(sandbox, fault="", delay_ms=0)
    time.sleep(SLOW_MS / 1000)  # let an answer still held finish before the databases are flushed


def first_quantity(deal_id: int) -> Decimal:
    return stored_rows(deal_id)[0][1]


@pytest.mark.parametrize("fault", ["applied_slow", "applied_reset"])
def test_rows_applied_but_unanswered_are_read_again_and_shown_as_saved(
    sandbox: SandboxPortal, lose_answers: Any, fault: str
) -> None:
    tab = open_tab(sandbox, deal_of(3), user=3)
    edited = tab.edit(rows_0_quantity="23")
    lose_answers(fault)
    mark = last_call_id()
    response = tab.post("save", fields=edited)
    calls = calls_since(mark)
    assert first_quantity(tab.deal_id) == Decimal("23")  # the portal did apply it
    text = shown(response.text)
    assert "Saved." in text and "nothing was saved" not in text.lower(), text
    assert len(calls) == 2  # the write (one request) whose answer was lost, and one read to confirm
    assert calls[-1].batch_methods == ["crm.deal.get", "crm.deal.productrows.get"]


def test_rows_refused_inside_an_unanswered_write_are_shown_as_not_saved(
    sandbox: SandboxPortal, lose_answers: Any
) -> None:
    deal_id = deal_of(3)
    before = stored_rows(deal_id)
    tab = open_tab(sandbox, deal_id, user=5)  # the read-only user: the portal refuses the set itself
    edited = tab.edit(rows_0_quantity="99")
    lose_answers("applied_slow")
    response = tab.post("save", fields=edited)
    assert stored_rows(deal_id) == before
    text = shown(response.text)
    assert "Deal Desk read the deal again: nothing was saved." in text, text
    assert 'name="action" value="save"' in response.text  # Retry


def test_rows_whose_write_and_read_back_both_go_unanswered_say_they_could_not_be_confirmed(
    sandbox: SandboxPortal, lose_answers: Any
) -> None:
    tab = open_tab(sandbox, deal_of(3), user=3)
    edited = tab.edit(rows_0_quantity="31")
    lose_answers("applied_down")  # the write is applied, then the portal answers only 502 pages
    response = tab.post("save", fields=edited)
    assert first_quantity(tab.deal_id) == Decimal("31")
    text = shown(response.text)
    assert "cannot tell whether your changes were saved" in text, text
    assert "Not saved" not in text and "nothing was saved" not in text.lower()
    assert "data-reload-tab" in response.text


# --- contacts ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["applied_slow", "applied_reset"])
def test_contacts_applied_but_unanswered_are_read_again_and_shown_as_saved(
    sandbox: SandboxPortal, lose_answers: Any, fault: str
) -> None:
    from sandbox.models import Contact

    tab = open_tab(sandbox, deal_with_contacts(2), user=3)
    tab.contacts("create_anyway", new_first_name="Late", new_last_name="Answer", new_phone="", new_email="")
    tab.contacts("remove:0")
    expected = tab.contact_names()
    lose_answers(fault)
    mark = last_call_id()
    response = tab.contacts("save")
    calls = calls_since(mark)
    assert [name for name, _ in bound(tab.deal_id)] == expected  # the portal did apply it
    assert Contact.objects.filter(name="Late", last_name="Answer").count() == 1
    text = shown(response.text)
    assert "Saved." in text and "nothing was saved" not in text.lower(), text
    assert tab.contact_names() == expected
    assert len(calls) == 2 and calls[-1].method == "crm.deal.contact.items.get"  # the write, one read


def test_contacts_refused_inside_an_unanswered_write_say_they_are_as_they_were_and_name_the_risk(
    sandbox: SandboxPortal, lose_answers: Any
) -> None:
    deal_id = deal_with_contacts(1, user=4)  # a colleague's deal: the rep may read it, not change it
    stored = bound(deal_id)
    tab = open_tab(sandbox, deal_id, user=3)
    tab.contacts("create_anyway", new_first_name="Stray", new_last_name="Contact", new_phone="", new_email="")
    lose_answers("applied_slow")
    response = tab.contacts("save")
    assert bound(deal_id) == stored
    text = shown(response.text)
    assert "Deal Desk read the deal again: its contacts are as they were." in text, text
    # The lost answer held the new contact's id: it exists, and the tab does not pretend otherwise.
    assert "New contacts may have been created in Bitrix24 without being linked" in text
    assert "nothing was saved" not in text.lower()


def test_contacts_whose_write_and_read_back_both_go_unanswered_say_they_could_not_be_confirmed(
    sandbox: SandboxPortal, lose_answers: Any
) -> None:
    tab = open_tab(sandbox, deal_with_contacts(2), user=3)
    tab.contacts("remove:0")
    expected = tab.contact_names()
    lose_answers("applied_down")
    response = tab.contacts("save")
    assert [name for name, _ in bound(tab.deal_id)] == expected
    text = shown(response.text)
    assert "cannot tell whether your changes were saved" in text, text
    assert "Not saved" not in text and "nothing was saved" not in text.lower()


# --- card layouts ---------------------------------------------------------------------------------------------


@pytest.fixture
def layout_answers_lost(installed: Installed, settings: Any) -> Iterator[Any]:
    settings.B24_HTTP_TIMEOUT = 0.5

    def switch(fault: str) -> None:
        sandbox_fault(installed.sandbox, fault=fault, delay_ms=SLOW_MS if fault == "applied_slow" else 0)

    yield switch
    sandbox_fault(installed.sandbox, fault="", delay_ms=0)
    time.sleep(SLOW_MS / 1000)


def retitled(admin: AdminPage, titles: list[str]) -> list[tuple[str, str]]:
    fields = [(k, v) for k, v in editor_fields(admin.response.text) if k != "title"]
    return [*fields, *(("title", t) for t in titles), ("action", "save")]


@pytest.mark.parametrize("fault", ["applied_slow", "applied_reset"])
def test_a_layout_applied_but_unanswered_is_read_again_and_saved_as_a_version(
    admin: AdminPage, layout_answers_lost: Any, fault: str
) -> None:
    from widgets.models import LayoutVersion

    titles = ["Deal", "Details", "Products"]
    layout_answers_lost(fault)
    mark = last_call_id()
    response = admin.post("layout_save", retitled(admin, titles))
    calls = calls_since(mark)
    assert [s["title"] for s in stored_layout(0) or []] == titles  # the portal did apply it
    assert "Saved as version" in response.text, response.text[:3000]
    assert "Nothing was changed" not in response.text and "nothing was changed" not in response.text
    assert [s["title"] for s in LayoutVersion.objects.order_by("-pk").first().layout] == titles  # type: ignore[union-attr]
    assert calls[-1].method == "crm.deal.details.configuration.get"


def test_a_layout_whose_write_and_read_back_both_go_unanswered_says_it_could_not_be_confirmed(
    admin: AdminPage, layout_answers_lost: Any
) -> None:
    from widgets.models import LayoutVersion

    titles = ["One", "Two", "Three"]
    versions = LayoutVersion.objects.count()
    layout_answers_lost("applied_down")
    response = admin.post("layout_save", retitled(admin, titles))
    assert [s["title"] for s in stored_layout(0) or []] == titles
    assert "cannot tell whether the change was saved" in response.text
    assert "othing was changed" not in response.text and "Saved as version" not in response.text
    assert LayoutVersion.objects.count() == versions


def test_a_layout_read_again_as_its_last_version_was_not_applied_and_anything_else_cannot_be_told() -> None:
    from b24app.errors import OutcomeUnknown
    from widgets.layouts.confirm import NOT_FOUND, NotApplied, layout_write_confirm

    lost = OutcomeUnknown("TIMEOUT", "no answer")
    mine, before = [{"name": "mine"}], [{"name": "before"}]
    layout_write_confirm(read=lambda: mine, sent=mine, before=before, exc=lost)  # saved: returns
    with pytest.raises(NotApplied):
        layout_write_confirm(read=lambda: before, sent=mine, before=before, exc=lost)
    for now, last in (([{"name": "theirs"}], before), (before, NOT_FOUND)):
        with pytest.raises(OutcomeUnknown) as raised:
            layout_write_confirm(read=lambda now=now: now, sent=mine, before=last, exc=lost)  # type: ignore[misc]
        assert not isinstance(raised.value, NotApplied)
