"""The save guard: a DATE_MODIFY that cannot be read means no write, never a write without a guard."""

from __future__ import annotations

import pytest

from widgets.contacts_batch import write_commands
from widgets.contacts_state import ContactCard, ContactItem
from widgets.tab_batch import GuardUnavailable, modified_window, save_commands

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
