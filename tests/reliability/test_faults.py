"""An unwell portal, through the sandbox's fault injection, over real HTTP (live_server).

Every surface a person meets (opening the tab, reloading it, saving, searching the catalog, the
layout page) is tried against every fault: slow beyond the client's timeout, HTML 502 pages, a
connection dropped without an answer, QUERY_LIMIT_EXCEEDED on every call, nothing listening.
Each one gives a clear message and a way to retry, keeps what the person typed, never a 500 and
never exception text; once the portal is back, retrying works.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from b24app.models import Portal
from tests.b24app.conftest import Installed, fault
from tests.csp_support import frame_ancestors
from tests.widgets.layout_support import open_admin
from tests.widgets.tab_support import DealTab, deal_of, open_tab, opening_of, tab_fill, text_of

FAULTS = ["slow", "html", "reset", "limit", "refused"]
EXCEPTION_TEXT = ("Traceback", "PortalUnavailable", "B24Error", "HTTPConnectionPool", "Exception")
SLOW_MS = 1500


@pytest.fixture
def unwell(installed: Installed, settings: Any) -> Iterator[Any]:
    """Switch a fault on (and off again after the test)."""
    settings.B24_HTTP_TIMEOUT = 0.5  # the setting production can lower too; here below the fault's delay
    endpoint = installed.portal.client_endpoint

    def switch(kind: str) -> None:
        if kind == "slow":
            fault(installed.sandbox, delay_ms=SLOW_MS)
        elif kind in ("html", "reset"):
            fault(installed.sandbox, fault=f"down_{kind}")
        elif kind == "limit":
            fault(installed.sandbox, fault="limit")
        elif kind == "refused":
            # Nothing listens on port 9 (discard) here: the connection is refused before anything is sent.
            Portal.objects.filter(pk=installed.portal.pk).update(client_endpoint="http://localhost:9/sandbox/rest/")

    def heal() -> None:
        fault(installed.sandbox, fault="", delay_ms=0)
        Portal.objects.filter(pk=installed.portal.pk).update(client_endpoint=endpoint)
        time.sleep(SLOW_MS / 1000)  # let slow answers still in flight finish before retrying

    switch.heal = heal  # type: ignore[attr-defined]
    yield switch
    fault(installed.sandbox, fault="", delay_ms=0)


def clean(response: requests.Response) -> None:
    assert response.status_code < 500 or response.status_code == 502, response.status_code
    assert not any(text in response.text for text in EXCEPTION_TEXT), response.text[:2000]


@pytest.mark.parametrize("kind", FAULTS)
def test_opening_the_tab_on_an_unwell_portal_offers_retry_which_works_once_it_is_back(
    installed: Installed, unwell: Any, kind: str
) -> None:
    deal_id = deal_of(2)
    unwell(kind)

    tab = open_tab(installed.sandbox, deal_id, user=2)

    clean(tab.response)
    assert tab.response.status_code == 200
    assert "Bitrix24 is not answering" in tab.page and ">Retry</button>" in tab.page
    assert frame_ancestors(tab.response.headers["Content-Security-Policy"])[0].startswith("http://localhost:")
    unwell.heal()
    repainted = requests.post(
        installed.sandbox.app_url.rstrip("/") + _retry_action(tab.page), data=_retry_fields(tab.page), timeout=30
    )
    opening = opening_of(repainted.text)  # Retry reloads the frame: the skeleton, then its fill
    assert repainted.status_code == 200 and opening is not None, repainted.text[:2000]
    retried = tab_fill(installed.sandbox, opening)
    assert retried.status_code == 200 and '<form id="editor"' in retried.text, retried.text[:2000]


def _retry_action(page: str) -> str:
    start = page.index("Bitrix24 is not answering")
    form = page[page.index("<form", start) :]
    return form.split('action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")


def _retry_fields(page: str) -> list[tuple[str, str]]:
    from tests.widgets.tab_support import form_fields

    start = page.index("Bitrix24 is not answering")
    chunk = page[page.index("<form", start) : page.index("</form>", start) + 7]
    return form_fields(chunk.replace("<form ", '<form id="retry" ', 1), "retry")


@pytest.fixture
def open_rep_tab(installed: Installed) -> DealTab:
    """A sales rep's own deal, its tab opened while the portal was well."""
    tab = open_tab(installed.sandbox, deal_of(3), user=3)
    assert '<form id="editor"' in tab.page, tab.page[:2000]
    return tab


@pytest.mark.parametrize("kind", FAULTS)
def test_an_open_tab_on_an_unwell_portal_keeps_the_persons_work_and_offers_retry(
    open_rep_tab: DealTab, unwell: Any, kind: str
) -> None:
    tab = open_rep_tab
    edited = tab.edit(rows_0_quantity="17")
    unwell(kind)

    reloaded = tab.get("tab_show")
    clean(reloaded)
    assert "Bitrix24 did not answer" in reloaded.text and "Retry" in reloaded.text
    saved = tab.post("save", fields=edited)
    clean(saved)
    assert saved.status_code == 200
    # The save is one request that writes: without an answer, and with the read that would tell
    # failing too, the tab cannot know whether it was applied, and says so.
    if kind in ("slow", "html", "reset"):
        assert "Not confirmed." in saved.text and "Saved." not in saved.text
    else:  # refused before it reached the portal: known not applied
        assert "Bitrix24 did not answer, so nothing was saved." in saved.text
    assert 'name="action" value="save"' in saved.text  # saving again is the same save
    assert 'value="17"' in saved.text  # what was typed is still there
    found = tab.get("tab_products", {"q": "Lap"})
    clean(found)
    assert "did not answer the catalog search" in found.text

    unwell.heal()
    again = tab.post("save", fields=edited, htmx=False)
    assert text_of(again.text, "save-status").startswith("Saved"), again.text[:2000]
    assert first_quantity(tab.deal_id) == Decimal("17")


def first_quantity(deal_id: int) -> Decimal:
    from sandbox.models import ProductRow

    row = ProductRow.objects.filter(deal_id=deal_id).order_by("sort", "id").first()
    assert row is not None
    return Decimal(row.quantity)


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("slow", "Bitrix24 did not answer in time."),
        ("html", "Bitrix24 answered with an error page"),
        ("refused", "Bitrix24 could not be reached."),
    ],
)
def test_the_layout_page_on_an_unwell_portal_says_what_happened(
    installed: Installed, unwell: Any, kind: str, said: str
) -> None:
    page = open_admin(installed.sandbox, user=1)
    assert page.response.status_code == 200
    unwell(kind)

    workspace = page.get("layout_page", {"category": "0"})
    entry = open_admin(installed.sandbox, user=1)

    for response in (workspace, entry.response):
        clean(response)
        assert said in response.text  # an error page that answered at once is not "did not answer in time"
    assert "Retry" in workspace.text


def test_the_layout_page_entry_on_a_slow_portal_offers_retry(installed: Installed, unwell: Any) -> None:
    unwell("slow")
    entry = open_admin(installed.sandbox, user=1)
    assert entry.response.status_code == 200
    assert ">Retry</button>" in entry.response.text


# --- losing the authorization -------------------------------------------------------------------------------


def run_keepalive() -> str:
    out, err = StringIO(), StringIO()
    call_command("b24_keepalive", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_a_revoked_refresh_token_marks_the_portal_and_every_tab_says_who_can_fix_it(installed: Installed) -> None:
    from sandbox.models import RefreshToken

    RefreshToken.objects.update(revoked=True)
    Portal.objects.filter(pk=installed.portal.pk).update(refreshed_at=timezone.now() - timedelta(days=30))

    assert "1 failed" in run_keepalive()
    assert Portal.objects.get().status == Portal.Status.NEEDS_REAUTH
    admin = open_tab(installed.sandbox, deal_of(3), user=1)
    rep = open_tab(installed.sandbox, deal_of(3), user=3)
    layout = open_admin(installed.sandbox, user=1)

    assert "Deal Desk needs to be re-authorized" in admin.page
    assert "Open Deal Desk from the Applications menu" in admin.page
    assert "Editing is paused until your Bitrix24 administrator reconnects Deal Desk" in rep.page
    assert '<form id="editor"' not in admin.page + rep.page  # read-only: the products are still shown
    assert "Deal Desk needs to be reconnected" in layout.response.text
    assert "1 failed" not in run_keepalive()  # not retried until an administrator reconnects


def test_a_user_whose_own_refresh_token_was_revoked_is_told_to_reopen_the_deal(open_rep_tab: DealTab) -> None:
    from sandbox.models import RefreshToken
    from sandbox.tokens import expire_all_tokens

    RefreshToken.objects.update(revoked=True)
    expire_all_tokens()

    reloaded = open_rep_tab.get("tab_show")

    clean(reloaded)
    assert "Bitrix24 did not answer" not in reloaded.text
    assert "open" in reloaded.text.lower() and "again" in reloaded.text.lower()


# --- events: late, repeated, for nobody ---------------------------------------------------------------------

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def event_body(*, deal_id: str, ts: int, name: str = "ONCRMDEALUPDATE", **auth: str) -> str:
    """An event as the sandbox portal sends it (its own auth block), with `auth` overrides."""
    from b24app import phpform
    from sandbox.events import auth_block
    from sandbox.models import App, User

    block = {**auth_block(App.objects.get(), User.objects.get(pk=1)), **auth}
    return phpform.encode({"event": name, "data": {"FIELDS": {"ID": deal_id}}, "ts": str(ts), "auth": block})


def send(installed: Installed, body: str) -> requests.Response:
    return requests.post(f"{installed.sandbox.app_url}b24/events/", data=body, headers=FORM, timeout=30)


def version_of(portal: Portal, deal_id: int) -> int:
    from django.core.cache import cache

    from widgets.common.events import deal_version_key

    return int(cache.get(deal_version_key(portal.pk, deal_id)) or 0)


def test_twenty_identical_updates_arriving_together_are_each_counted(installed: Installed) -> None:
    """Twenty changes of one deal in one second send twenty identical events: none is lost."""
    from tests.b24app.conftest import in_threads

    body = event_body(deal_id="7", ts=int(time.time()))

    answers = in_threads(20, lambda i: send(installed, body))

    assert [a.text for a in answers] == ["OK"] * 20
    assert version_of(installed.portal, 7) == 20


def test_events_out_of_order_are_each_applied_and_a_late_one_still_unlocks_a_read_only_tab(
    installed: Installed,
) -> None:
    from widgets.common.readonly import readonly_remember, readonly_remembered

    now = int(time.time())
    readonly_remember(portal_id=installed.portal.pk, user_id=3, deal_id=8)

    assert send(installed, event_body(deal_id="8", ts=now)).text == "OK"
    readonly_remember(portal_id=installed.portal.pk, user_id=3, deal_id=8)
    assert send(installed, event_body(deal_id="8", ts=now - 120)).text == "OK"  # an older change, delivered late

    assert not readonly_remembered(portal_id=installed.portal.pk, user_id=3, deal_id=8)
    assert version_of(installed.portal, 8) == 2


@pytest.mark.parametrize(
    ("name", "deal_id", "auth", "status"),
    [
        ("ONCRMDEALUPDATE", "999999", {}, 200),  # a deal Deal Desk never saw
        ("ONCRMDEALDELETE", "not-a-number", {}, 200),
        ("ONCRMDEALMOVETOCATEGORY", "", {}, 200),
        ("ONSOMETHINGNEW", "1", {}, 200),  # an event nobody handles
        ("ONCRMDEALUPDATE", "1", {"member_id": "e" * 32}, 403),  # a portal that never installed Deal Desk
        ("ONCRMDEALUPDATE", "1", {"member_id": ""}, 403),
        ("ONAPPUNINSTALL", "1", {"member_id": "d" * 32, "application_token": "x"}, 403),
    ],
)
def test_odd_events_are_answered_without_a_crash(
    installed: Installed, name: str, deal_id: str, auth: dict[str, str], status: int
) -> None:
    response = send(installed, event_body(name=name, deal_id=deal_id, ts=int(time.time()), **auth))

    assert response.status_code == status
    assert Portal.objects.get().status == Portal.Status.INSTALLED
