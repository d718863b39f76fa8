"""A save that creates more contacts than one batch request holds lands on its own deal, nowhere else.

Bitrix24 reads a crm `id` as PHP (int): an unresolved `$result[guard][0][ID]` in a second request
becomes deal 1 (bitrix24-batch.md, "Ids"). So no write request may refer to another request's results.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import SandboxPortal
from tests.widgets.contacts.test_contacts_editor import bound
from tests.widgets.tab_support import DealTab, calls_since, last_call_id, open_tab, shown

NEW = 60


def contact_names(deal_id: int) -> list[str]:
    return [name for name, _ in bound(deal_id)]


@pytest.fixture
def rep_tab(sandbox: SandboxPortal, tab_portal: Any) -> DealTab:
    from sandbox.models import Deal, DealContact

    deals = Deal.objects.filter(assigned_by_id=3).exclude(pk=1).order_by("id")
    deal_id = next(d.pk for d in deals if 1 <= DealContact.objects.filter(deal=d).count() <= 20)
    return open_tab(sandbox, deal_id, user=3)


def test_sixty_new_contacts_are_created_and_linked_to_this_deal_and_deal_one_is_untouched(rep_tab: DealTab) -> None:
    from sandbox.models import Contact, Deal, DealContact

    tab = rep_tab
    before = contact_names(tab.deal_id)
    deal_one = list(
        DealContact.objects.filter(deal_id=1).order_by("id").values_list("contact_id", "is_primary", "sort")
    )
    deal_one_modified = Deal.objects.get(pk=1).date_modify
    contacts_before = Contact.objects.count()
    names = [f"Bulk{n:02d}" for n in range(NEW)]
    for first in names:
        tab.contacts("create_anyway", new_first_name=first, new_last_name="Many", new_phone="", new_email="")
    mark = last_call_id()
    response = tab.contacts("save")

    assert "Saved." in shown(response.text), shown(response.text)
    assert contact_names(tab.deal_id) == [*before, *(f"{n} Many" for n in names)]
    assert Contact.objects.count() == contacts_before + NEW
    created = Contact.objects.filter(last_name="Many")
    assert sorted(c.name for c in created) == names and all(c.pk != 1 for c in created)
    assert (
        list(DealContact.objects.filter(deal_id=1).order_by("id").values_list("contact_id", "is_primary", "sort"))
        == deal_one
    )
    assert Deal.objects.get(pk=1).date_modify == deal_one_modified
    calls = calls_since(mark)
    assert all(c.batch_size <= 50 for c in calls)
    writes = [c for c in calls if "crm.deal.contact.items.set" in c.batch_methods]
    assert len(writes) == 1 and writes[0] is calls[-1]  # the set comes last, after every contact exists


@pytest.mark.parametrize("linking", [0, 30, 40])
@pytest.mark.parametrize("new", [0, 1, 45, 46, 93, 94, 100])
def test_every_write_request_holds_its_own_guard_and_at_most_fifty_commands(new: int, linking: int) -> None:
    from widgets.contacts.batch import creation_requests, save_commands
    from widgets.contacts.state import ContactCard, ContactItem

    items = [ContactItem(ContactCard.unseen(7), True, 10)]
    items += [ContactItem(ContactCard.unseen(100 + n), False, 0) for n in range(linking)]
    items += [ContactItem(ContactCard(0, f"N{n}", first_name=f"N{n}"), False, 0) for n in range(new)]
    when = "2026-12-07T10:00:00+03:00"
    ids = [100 + n for n in range(linking)]
    early = creation_requests(deal_id=5, date_modify=when, items=items, linking=len(ids))
    created = {j: 1000 + j for j in range(sum(len([k for k in r if k.startswith("new")]) for r in early))}
    requests = [*early, save_commands(deal_id=5, date_modify=when, items=items, linking=ids, created=created)]
    for commands in requests:
        # Only reads come before the guard; every write after it.
        keys = list(commands)
        assert len(commands) <= 50 and "guard" in keys
        assert all(k in ("was", "before") or k.startswith("see") for k in keys[: keys.index("guard")])
        # Every reference names a command of the same request, and an earlier one.
        for position, (key, (_method, params)) in enumerate(commands.items()):
            for ref in re.findall(r"\$result\[(\w+)\]", repr(params)):
                assert ref in list(commands)[:position], (key, ref)
    adds = [k for r in requests for k in r if k.startswith("new")]
    assert sorted(adds) == sorted(f"new{j}" for j in range(new))
    linked = requests[-1]["set"][1]["items"]
    first_new = 1 + linking
    assert [i["CONTACT_ID"] for i in linked[first_new : first_new + len(created)]] == [
        1000 + j for j in range(len(created))
    ]
