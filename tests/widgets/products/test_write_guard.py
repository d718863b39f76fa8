"""The save guard: a DATE_MODIFY that cannot be read means no write, never a write without a guard."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SandboxPortal
from tests.widgets.contacts.test_contacts_editor import bound, deal_with_contacts
from tests.widgets.products.test_tab_save import stored_rows
from tests.widgets.tab_support import calls_since, deal_of, last_call_id, open_tab, shown
from widgets.common.guard import GuardUnavailable, modified_window
from widgets.contacts.batch import write_commands
from widgets.contacts.state import ContactCard, ContactItem
from widgets.products.batch import save_commands

UNREADABLE = [
    "",
    "   ",
    "yesterday",
    "2026-12-07",
    "2026-12-07T10:00:00",
    "07.12.2026 10:00:00",
    "2026-13-40T00:00:00+03:00",
]


def test_a_full_time_with_its_offset_gives_the_second_it_names() -> None:
    assert modified_window("2026-12-07T10:00:00+03:00") == {
        ">=DATE_MODIFY": "2026-12-07T10:00:00+03:00",
        "<DATE_MODIFY": "2026-12-07T10:00:01+03:00",
    }


@pytest.mark.parametrize("value", UNREADABLE)
def test_an_unreadable_date_modify_gives_no_guard(value: str) -> None:
    with pytest.raises(GuardUnavailable):
        modified_window(value)


@pytest.mark.parametrize("value", UNREADABLE)
def test_no_rows_write_is_built_without_a_guard(value: str) -> None:
    with pytest.raises(GuardUnavailable):
        save_commands(deal_id=5, date_modify=value, rows=[])


@pytest.mark.parametrize("value", UNREADABLE)
def test_no_contacts_write_is_built_without_a_guard(value: str) -> None:
    items = [ContactItem(ContactCard.unseen(7), True, 10)]
    with pytest.raises(GuardUnavailable):
        write_commands(deal_id=5, date_modify=value, items=items)


# --- over HTTP: a portal that answers DATE_MODIFY empty ---------------------------------------------------
# The sandbox cannot hold such a deal (its DATE_MODIFY is required), so the one function that spells
# its times is replaced for the save: the app still reads the deal over HTTP, as from a real portal.


@pytest.fixture
def date_modify_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox import deal_fields

    monkeypatch.setattr(deal_fields, "datetime_str", lambda value: "")


def test_rows_are_not_written_when_date_modify_cannot_be_read(
    sandbox: SandboxPortal, tab_portal: Any, date_modify_unreadable: None
) -> None:
    tab = open_tab(sandbox, deal_of(3), user=3)
    before = stored_rows(tab.deal_id)
    edited = tab.edit(rows_0_quantity="41")
    mark = last_call_id()
    response = tab.post("save", fields=edited)
    assert stored_rows(tab.deal_id) == before
    assert calls_since(mark) == []  # the save's one request is guarded by the DATE_MODIFY the tab loaded
    text = shown(response.text)
    assert "could not check for changes" in text and "Nothing was saved: reload the tab" in text, text
    assert "data-reload-tab" in response.text


def test_contacts_are_not_written_when_date_modify_cannot_be_read(
    sandbox: SandboxPortal, tab_portal: Any, date_modify_unreadable: None
) -> None:
    tab = open_tab(sandbox, deal_with_contacts(2), user=3)
    stored = bound(tab.deal_id)
    tab.contacts("remove:0")
    mark = last_call_id()
    response = tab.contacts("save")
    assert bound(tab.deal_id) == stored
    assert calls_since(mark) == []  # the save's one request is guarded by the DATE_MODIFY the tab loaded
    assert "could not check for changes" in shown(response.text)
