"""Live freshness: Bitrix24's deal events bump a version in the cache; an open tab polls it without a
REST request and says when the deal was changed or deleted elsewhere — but not for its own saves."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from tests.conftest import SandboxPortal
from tests.widgets.contacts.test_contacts_editor import deal_with_contacts
from tests.widgets.tab_support import DealTab, calls_since, deal_of, last_call_id, open_tab, send_event, shown


def known(page: str) -> dict[str, str]:
    """The poller's query: v (the version the page stands for) and, with a notice, shown."""
    found = re.search(r'<div id="freshness" class="freshness" hx-get="[^"?]*\?([^"]*)"', page)
    assert found, page[:3000]
    return dict(pair.split("=", 1) for pair in found.group(1).replace("&amp;", "&").split("&"))


def poll(tab: DealTab, params: dict[str, str] | None = None) -> requests.Response:
    return tab.get("tab_version", params if params is not None else known(tab.page))


@pytest.fixture
def rep_tab(sandbox: SandboxPortal, tab_portal: Any) -> DealTab:
    return open_tab(sandbox, deal_with_contacts(2), user=3)


def test_polling_an_unchanged_deal_answers_204_without_a_rest_request(rep_tab: DealTab) -> None:
    tab = rep_tab
    assert known(tab.page) == {"v": "0"}
    assert 'hx-trigger="every 10s, focus from:window"' in tab.page
    mark = last_call_id()
    response = poll(tab)
    assert response.status_code == 204 and response.text == ""
    assert calls_since(mark) == []
    assert response.headers["X-Widget-Token"]  # the poll also keeps the token fresh


def test_the_version_endpoint_needs_the_tabs_token_and_a_version(rep_tab: DealTab) -> None:
    url = rep_tab.url("tab_version")
    assert requests.get(url, params={"v": "0"}, timeout=30).status_code == 403
    headers = rep_tab.headers(htmx=True)
    assert requests.get(url, params={"v": "x"}, headers=headers, timeout=30).status_code == 400
    assert requests.get(url, headers=headers, timeout=30).status_code == 400
    other = rep_tab.url("tab_version").replace(f"/{rep_tab.deal_id}/", f"/{rep_tab.deal_id + 1}/")
    assert requests.get(other, params={"v": "0"}, headers=headers, timeout=30).status_code == 403


@pytest.mark.parametrize("event", ["ONCRMDEALUPDATE", "ONCRMDEALMOVETOCATEGORY"])
def test_a_change_made_elsewhere_shows_a_notice_with_reload(
    sandbox: SandboxPortal, tab_portal: Any, rep_tab: DealTab, event: str
) -> None:
    tab = rep_tab
    page = tab.page
    send_event(sandbox, tab_portal, event, tab.deal_id)
    mark = last_call_id()
    response = poll(tab, known(page))
    assert calls_since(mark) == []
    assert response.status_code == 200
    text = shown(response.text)
    assert "This deal was changed elsewhere." in text
    assert "Reload and discard my changes" in text and "Keep editing" in text
    assert f'hx-get="/deal-tab/{tab.deal_id}/" hx-target="#tab"' in response.text
    assert known(response.text) == {"v": "0", "shown": "1"}
    # The next poll has nothing new to say, so the notice stays as it is.
    assert poll(tab, known(response.text)).status_code == 204


def keep_editing_url(notice: str) -> str:
    keep = re.search(r'hx-post="([^"]+)" hx-target="#freshness"', notice)
    assert keep is not None, notice[:3000]
    return keep.group(1)


def test_keep_editing_hides_the_notice_until_the_next_change(
    sandbox: SandboxPortal, tab_portal: Any, rep_tab: DealTab
) -> None:
    tab = rep_tab
    send_event(sandbox, tab_portal, "ONCRMDEALUPDATE", tab.deal_id)
    notice = poll(tab, {"v": "0"})
    assert keep_editing_url(notice.text) == f"/deal-tab/{tab.deal_id}/keep-editing/"
    quiet = tab.session.post(
        tab.sandbox.app_url.rstrip("/") + keep_editing_url(notice.text), headers=tab.headers(htmx=True), timeout=30
    )
    assert quiet.status_code == 200 and "changed elsewhere" not in quiet.text
    assert known(quiet.text) == {"v": "1"}
    assert poll(tab, {"v": "1"}).status_code == 204
    send_event(sandbox, tab_portal, "ONCRMDEALUPDATE", tab.deal_id)
    assert "This deal was changed elsewhere." in shown(poll(tab, {"v": "1"}).text)


def test_keep_editing_over_get_is_refused_and_polls_change_nothing(
    sandbox: SandboxPortal, tab_portal: Any, rep_tab: DealTab
) -> None:
    from django.core.cache import cache

    from widgets.common.freshness import deal_version_bump, deal_version_key, own_save

    tab = rep_tab
    with own_save(portal_id=tab_portal.pk, deal_id=tab.deal_id, user_id=3, tab=tab.tab_id) as note:
        note.wrote = True  # the tab now expects its own save's event...
    deal_version_bump(portal_id=tab_portal.pk, deal_id=tab.deal_id)  # ...which has arrived
    own_key = f"dealdesk:deal-own:{tab_portal.pk}:{tab.deal_id}:3:{tab.tab_id}:0"
    before = cache.get_many([own_key, deal_version_key(tab_portal.pk, tab.deal_id)])
    assert list(before.values()) == [1, 1]
    url = tab.url("tab_keep_editing")
    assert requests.get(url, headers=tab.headers(htmx=True), timeout=30).status_code == 405
    assert requests.post(url, timeout=30).status_code == 403  # without the tab's token
    # A poll reads only: the same poll twice gets the same answer (the own change, taken quietly),
    # and an old client's ack=1 is a plain poll.
    first, again = poll(tab, {"v": "0", "ack": "1"}), poll(tab, {"v": "0"})
    assert first.status_code == again.status_code == 200
    assert known(first.text) == known(again.text) == {"v": "1"} and "changed elsewhere" not in first.text
    assert cache.get_many(list(before)) == before
    kept = tab.session.post(url, headers=tab.headers(htmx=True), timeout=30)
    assert kept.status_code == 200 and known(kept.text) == {"v": "1"}


def test_reloading_the_tab_shows_the_deal_as_it_is_now_and_knows_its_version(
    sandbox: SandboxPortal, tab_portal: Any, rep_tab: DealTab
) -> None:
    from sandbox.models import Deal

    tab = rep_tab
    Deal.objects.filter(pk=tab.deal_id).update(title="Renamed elsewhere")
    send_event(sandbox, tab_portal, "ONCRMDEALUPDATE", tab.deal_id)
    mark = last_call_id()
    reloaded = tab.get("tab_show")
    assert len(calls_since(mark)) == 1
    assert reloaded.text.lstrip().startswith('<div id="tab"')
    assert known(reloaded.text) == {"v": "1"}
    assert poll(tab, known(reloaded.text)).status_code == 204


def test_a_deal_deleted_elsewhere_says_so_and_stops_polling(
    sandbox: SandboxPortal, tab_portal: Any, rep_tab: DealTab, settings: Any
) -> None:
    settings.SANDBOX_EVENTS_SYNC = True  # ONCRMDEALDELETE reaches the app before crm.deal.delete answers
    tab = rep_tab
    opened = known(tab.page)
    tab.contacts("remove:0")
    assert sandbox.result("crm.deal.delete", {"id": tab.deal_id}, user=1) is True
    response = poll(tab, opened)
    assert response.status_code == 200
    assert "This deal was deleted in Bitrix24." in shown(response.text) and "data-deal-deleted" in response.text
    assert "hx-get" not in response.text  # nothing more to learn about it
    # deal-tab.js disables the Save buttons; a save sent anyway is refused by the portal.
    saved = tab.contacts("save")
    assert "This deal no longer exists in Bitrix24." in shown(saved.text)


def test_the_tabs_own_save_does_not_show_the_notice_but_another_tab_sees_it(
    sandbox: SandboxPortal, tab_portal: Any, settings: Any
) -> None:
    """A products save that changes the deal's totals updates the deal, so its ONCRMDEALUPDATE
    follows; a contacts save changes bindings only and Bitrix24 sends no event for it
    (bitrix24-batch.md "Ids, and what a write changes"), so nothing is expected or shown for it."""
    settings.SANDBOX_EVENTS_SYNC = True  # the save's event reaches the app before the save answers
    deal_id = deal_with_contacts(2)
    mine, other = open_tab(sandbox, deal_id, user=3), open_tab(sandbox, deal_id, user=3)
    mine.contacts("remove:0")
    assert "Saved." in shown(mine.contacts("save").text)
    assert poll(mine, {"v": "0"}).status_code == 204  # no event for a binding change: nothing to take in
    assert poll(other, {"v": "0"}).status_code == 204
    mine.post(rows_0_quantity="7")
    assert "Saved." in mine.post("save").text
    quiet = poll(mine, {"v": "0"})
    assert quiet.status_code == 200 and "changed elsewhere" not in quiet.text
    assert known(quiet.text) == {"v": "1"}  # its own change, taken in quietly
    assert poll(mine, {"v": "1"}).status_code == 204
    assert "This deal was changed elsewhere." in shown(poll(other, {"v": "0"}).text)


def test_a_products_save_that_keeps_the_totals_expects_no_event(
    sandbox: SandboxPortal, tab_portal: Any, settings: Any
) -> None:
    """CCrmDeal::SynchronizeProductRows in factory mode: rows that keep the totals do not update the
    deal, so no ONCRMDEALUPDATE comes. Expected: a change elsewhere right after such a save (a
    rename) still shows the notice, not taken for the tab's own."""
    settings.SANDBOX_EVENTS_SYNC = True
    tab = open_tab(sandbox, deal_with_contacts(2), user=3)
    tab.post(rows_0_name="Renamed by the tab")
    assert "Saved." in tab.post("save").text
    send_event(sandbox, tab_portal, "ONCRMDEALUPDATE", tab.deal_id)  # someone else, a moment later
    assert "This deal was changed elsewhere." in shown(poll(tab, {"v": "0"}).text)


def test_two_changes_elsewhere_within_one_second_each_show_the_notice(
    sandbox: SandboxPortal, tab_portal: Any, rep_tab: DealTab
) -> None:
    """Bitrix24's `ts` has whole seconds: two changes of the deal in one second send identical events."""
    tab, second = rep_tab, int(time.time())
    send_event(sandbox, tab_portal, "ONCRMDEALUPDATE", tab.deal_id, ts=second)
    notice = poll(tab, {"v": "0"})
    assert "This deal was changed elsewhere." in shown(notice.text)
    url = tab.sandbox.app_url.rstrip("/") + keep_editing_url(notice.text)
    assert known(tab.session.post(url, headers=tab.headers(htmx=True), timeout=30).text) == {"v": "1"}  # Keep editing
    send_event(sandbox, tab_portal, "ONCRMDEALUPDATE", tab.deal_id, ts=second)  # the second change
    again = poll(tab, {"v": "1"})
    assert again.status_code == 200
    assert "This deal was changed elsewhere." in shown(again.text)
    assert known(again.text) == {"v": "1", "shown": "2"}


def test_a_change_elsewhere_right_after_the_tabs_own_save_still_shows(
    sandbox: SandboxPortal, tab_portal: Any, settings: Any
) -> None:
    settings.SANDBOX_EVENTS_SYNC = True
    tab = open_tab(sandbox, deal_with_contacts(2), user=3)
    tab.contacts("remove:0")
    tab.contacts("save")
    send_event(sandbox, tab_portal, "ONCRMDEALUPDATE", tab.deal_id)  # someone else, a moment later
    assert "This deal was changed elsewhere." in shown(poll(tab, {"v": "0"}).text)


def test_a_save_that_wrote_nothing_takes_its_expectation_back(sandbox: SandboxPortal, tab_portal: Any) -> None:
    tab = open_tab(sandbox, deal_with_contacts(2), user=3)
    tab.contacts("remove:0")
    # The portal refuses every request (503 QUERY_LIMIT_EXCEEDED): known not applied. A 502 page
    # could not say so any more, the save's one request being a write.
    sandbox_down = {"fault": "limit"}
    requests.post(f"{sandbox.url}faults.json", json=sandbox_down, timeout=10)
    try:
        assert "nothing was saved" in tab.contacts("save").text
    finally:
        requests.post(f"{sandbox.url}faults.json", json={"fault": ""}, timeout=10)
    send_event(sandbox, tab_portal, "ONCRMDEALUPDATE", tab.deal_id)
    assert "This deal was changed elsewhere." in shown(poll(tab, {"v": "0"}).text)


def test_own_changes_are_expected_for_a_minute_only(tab_clean: None) -> None:
    """The freshness rules on the cache alone (no portal): counts, the tab's id, expiry."""
    from django.core.cache import cache

    from widgets.common.freshness import OWN_SAVE_TTL, deal_version_bump, freshness_check, own_save

    ids: dict[str, Any] = {"portal_id": 1, "deal_id": 2, "user_id": 3}
    with own_save(tab="a1b2c3d4", **ids) as note:
        note.wrote = True
    deal_version_bump(portal_id=1, deal_id=2)
    assert freshness_check(tab="ffffffff", known=0, **ids).state == "changed"  # another tab
    assert freshness_check(tab="", known=0, **ids).state == "changed"  # a page without an id
    with own_save(tab="a1b2c3d4", **ids) as note:
        note.wrote = True  # a second save before the first one's event was polled
    assert freshness_check(tab="a1b2c3d4", known=0, **ids).state == "same"  # one of two events so far
    deal_version_bump(portal_id=1, deal_id=2)
    assert freshness_check(tab="a1b2c3d4", known=0, **ids).state == "quiet"
    assert freshness_check(tab="a1b2c3d4", known=2, **ids).state == "same"
    with own_save(tab="a1b2c3d4", **ids) as note:
        note.wrote = True
    cache.delete("dealdesk:deal-own:1:2:3:a1b2c3d4:2")  # OWN_SAVE_TTL later: the event never came
    assert OWN_SAVE_TTL == 60
    deal_version_bump(portal_id=1, deal_id=2)
    assert freshness_check(tab="a1b2c3d4", known=2, **ids).state == "changed"


def test_the_polling_interval_is_a_setting(sandbox: SandboxPortal, tab_portal: Any, settings: Any) -> None:
    settings.DEAL_DESK_VERSION_POLL_SECONDS = 2
    tab = open_tab(sandbox, deal_of(3), user=3)
    assert 'hx-trigger="every 2s, focus from:window"' in tab.page


def test_a_save_that_changes_the_amount_offers_to_refresh_the_deal_card(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    tab = open_tab(sandbox, deal_of(3), user=3)
    tab.post(rows_0_name="Renamed product")
    renamed = tab.post("save")
    assert "Saved." in renamed.text and "Refresh the deal card" not in renamed.text
    tab.post(rows_0_quantity="17")
    saved = tab.post("save")
    assert "Refresh the deal card to see the new amount" in saved.text
    assert "data-reload-window hidden" in saved.text  # shown by deal-tab.js when BX24.reloadWindow exists
