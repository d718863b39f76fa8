"""Events a portal user could forge, over real HTTP: nothing a user can see lets them act as the portal.

Bitrix24 posts APPLICATION_TOKEN and member_id in every placement form, and that form passes
through each user's browser (bitrix24-protocol.md §5.2). Here the read-only user (5) reads them
from the hidden fields of a deal card's tab form on the sandbox portal, as a browser would, and
posts ONAPPUNINSTALL and ONCRMDEALDELETE with them. The portal's own answers decide
(bitrix24-uninstall.md): the forgeries change nothing, the genuine events still act, and no page
of the app hands APPLICATION_TOKEN back.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from b24app import phpform
from b24app.models import Portal, UserToken
from tests.b24app.conftest import Installed, fault
from tests.reliability.portal import PortalBrowser
from tests.widgets.layout_support import editor_fields, open_admin
from tests.widgets.tab_support import deal_of, open_tab

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def seen_by_user_5(installed: Installed, deal_id: int) -> dict[str, str]:
    """What the read-only user's browser holds: the hidden fields of the deal tab's form."""
    fields = dict(PortalBrowser(installed.sandbox.url, user=5).deal_tab_frame(deal_id).fields)
    assert fields["APPLICATION_TOKEN"] == installed.application_token  # no secret from any user
    return fields


def send_event(installed: Installed, name: str, data: dict[str, Any], seen: dict[str, str]) -> requests.Response:
    auth = {"member_id": seen["member_id"], "application_token": seen["APPLICATION_TOKEN"]}
    body = phpform.encode({"event": name, "data": data, "ts": "1736405807", "auth": auth})
    return requests.post(installed.sandbox.app_url + "b24/events/", data=body, headers=FORM, timeout=30)


def portal_calls() -> list[tuple[str, int, str]]:
    from sandbox.models import RequestLog

    return [(row.method, row.http_status, row.error) for row in RequestLog.objects.order_by("id")]


@pytest.fixture
def in_use(installed: Installed) -> Installed:
    """Deal Desk in use: a rep's tab open, a saved layout version, the portal's tokens stored."""
    assert open_tab(installed.sandbox, deal_of(3), user=3).response.status_code == 200
    admin = open_admin(installed.sandbox, user=1)
    saved = admin.post("layout_save", [*editor_fields(admin.response.text), ("action", "save")])
    assert saved.status_code == 200
    return installed


def test_a_forged_uninstall_from_a_read_only_users_page_changes_nothing(in_use: Installed) -> None:
    from widgets.models import LayoutVersion

    before = Portal.objects.get()
    versions = LayoutVersion.objects.count()
    users = sorted(UserToken.objects.values_list("user_id", flat=True))
    assert versions and users
    seen = seen_by_user_5(in_use, deal_of(3))
    calls = len(portal_calls())

    response = send_event(in_use, "ONAPPUNINSTALL", {"LANGUAGE_ID": "en", "CLEAN": "1"}, seen)

    assert response.status_code == 403
    after = Portal.objects.get()
    assert after.status == Portal.Status.INSTALLED
    assert (after.access_token, after.refresh_token, after.settings) == (
        before.access_token,
        before.refresh_token,
        before.settings,
    )
    assert sorted(UserToken.objects.values_list("user_id", flat=True)) == users
    assert LayoutVersion.objects.count() == versions
    # One question to the portal, with the stored token, and it answered: still installed.
    assert portal_calls()[calls:] == [("app.info", 200, "")]
    assert open_tab(in_use.sandbox, deal_of(3), user=3).response.status_code == 200


def test_a_forged_deal_deletion_does_not_tell_a_live_deals_tabs_it_is_gone(in_use: Installed) -> None:
    from widgets.common.freshness import deal_deleted

    deal_id = deal_of(3)
    seen = seen_by_user_5(in_use, deal_id)
    calls = len(portal_calls())

    response = send_event(in_use, "ONCRMDEALDELETE", {"FIELDS": {"ID": str(deal_id)}}, seen)

    assert response.status_code == 403
    assert not deal_deleted(portal_id=in_use.portal.pk, deal_id=deal_id)
    assert portal_calls()[calls:] == [("crm.item.get", 200, "")]


def test_a_genuine_uninstall_from_the_marketplace_is_confirmed_and_acted_on(in_use: Installed, settings: Any) -> None:
    from widgets.models import LayoutVersion

    settings.SANDBOX_EVENTS_SYNC = True  # ONAPPUNINSTALL delivered within the uninstall request
    calls = len(portal_calls())

    PortalBrowser(in_use.sandbox.url, user=1).uninstall(clean=True)

    portal = Portal.objects.get()
    assert portal.status == Portal.Status.UNINSTALLED
    assert (portal.access_token, portal.refresh_token) == ("", "")
    assert not UserToken.objects.exists() and not LayoutVersion.objects.exists()
    # The event came after the app was gone: the confirming call met the portal's own answer.
    assert portal_calls()[calls:] == [("app.info", 401, "APPLICATION_NOT_FOUND")]


def test_a_genuine_deal_deletion_is_confirmed_and_shown(in_use: Installed, settings: Any) -> None:
    from widgets.common.freshness import deal_deleted

    settings.SANDBOX_EVENTS_SYNC = True  # ONCRMDEALDELETE delivered within the delete request
    deal_id = deal_of(3)
    calls = len(portal_calls())

    assert in_use.sandbox.result("crm.deal.delete", {"id": deal_id}, user=1) is True

    assert deal_deleted(portal_id=in_use.portal.pk, deal_id=deal_id)
    assert ("crm.item.get", 400, "NOT_FOUND") in portal_calls()[calls:]


# --- APPLICATION_TOKEN never comes back in a page ------------------------------------------------------


def test_no_page_echoes_the_application_token_and_the_tabs_retry_still_works(installed: Installed) -> None:
    from tests.reliability.test_faults import _retry_action, _retry_fields
    from tests.widgets.tab_support import opening_of, tab_fill

    token = installed.application_token
    deal_id = deal_of(3)
    opened = open_tab(installed.sandbox, deal_id, user=3)
    admin = open_admin(installed.sandbox, user=1)
    fault(installed.sandbox, fault="limit")
    try:
        unwell_tab = open_tab(installed.sandbox, deal_id, user=3)
        unwell_admin = open_admin(installed.sandbox, user=1)
    finally:
        fault(installed.sandbox, fault="")
    pages = [opened.response, admin.response, unwell_tab.response, unwell_admin.response]

    assert all(token not in page.text for page in pages)
    assert ">Retry</button>" in unwell_tab.page and ">Retry</button>" in unwell_admin.response.text
    fields = _retry_fields(unwell_tab.page)
    assert "APPLICATION_TOKEN" not in dict(fields)
    repainted = requests.post(
        installed.sandbox.app_url.rstrip("/") + _retry_action(unwell_tab.page), data=fields, timeout=30
    )
    opening = opening_of(repainted.text)  # Retry reloads the frame: the skeleton, then its fill
    assert repainted.status_code == 200 and opening is not None and token not in repainted.text
    retried = tab_fill(installed.sandbox, opening)
    assert retried.status_code == 200 and '<form id="editor"' in retried.text, retried.text[:2000]
    assert token not in retried.text
