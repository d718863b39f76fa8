"""Faults, events and widget tokens across two gunicorn instances (PostgreSQL, Redis, one sandbox).

An unwell portal (HTML error pages, the portal process gone, a revoked refresh token) gives a clear
message with Retry on both instances and a working tab once it is back; events reach one instance
or the other and are still handled once; nothing answers 500 and no traceback reaches the logs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from b24app import phpform
from tests.csp_support import frame_ancestors
from tests.reliability.cluster import Cluster, deals_with_rows, start_sandbox, stop, together
from tests.reliability.portal import PortalBrowser, editor_shown, filled, open_frame, placement_post
from tests.widgets.tab_support import DealTab

pytestmark = pytest.mark.multiprocess

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def retry_form(page: str) -> tuple[str, list[tuple[str, str]]]:
    """The Retry form of the "Bitrix24 is not answering" page: its action and hidden fields."""
    start = page.index("Bitrix24 is not answering")
    form = page[page.index("<form", start) : page.index("</form>", start)]
    action = unescape(re.search(r'action="([^"]*)"', form).group(1))  # type: ignore[union-attr]
    fields = [(unescape(n), unescape(v)) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form)]
    return action, fields


def reload(tab: DealTab, app: str) -> requests.Response:
    url = f"{app.rstrip('/')}/deal-tab/{tab.deal_id}/"
    return requests.get(url, headers={"X-Widget-Token": tab.token, "HX-Request": "true"}, timeout=60)


@pytest.fixture
def opened(fresh_cluster: Cluster) -> DealTab:
    """A sales manager's tab, opened on instance A while the portal was well."""
    deal_id = deals_with_rows(fresh_cluster)[5]
    tab = open_frame(PortalBrowser(fresh_cluster.sandbox_url, user=2).deal_tab_frame(deal_id), fresh_cluster.a, deal_id)
    assert editor_shown(tab.response), tab.response.text[:2000]
    return tab


def test_html_error_pages_give_retry_on_both_instances_and_retry_works_once_the_portal_is_back(
    fresh_cluster: Cluster, opened: DealTab
) -> None:
    cluster, logs = fresh_cluster, fresh_cluster.log_mark()
    frame = PortalBrowser(cluster.sandbox_url, user=1).deal_tab_frame(opened.deal_id)
    cluster.fault(fault="down_html")

    placement = placement_post(frame, cluster.b)
    shown = reload(opened, cluster.b)
    saved = opened.post("save", htmx=False, rows_0_quantity="5")

    assert placement.status_code == 200 and "Bitrix24 is not answering" in placement.text
    assert shown.status_code == 200 and "Bitrix24 did not answer" in shown.text and "Retry" in shown.text
    # The save is one request that writes; a 502 page cannot say whether it was applied, and the read
    # that would tell gets one too: the tab says it could not confirm (never "Saved").
    assert saved.status_code == 200 and "Not confirmed." in saved.text and 'value="save"' in saved.text
    cluster.fault(fault="")
    action, fields = retry_form(placement.text)
    again = filled(requests.post(cluster.b.rstrip("/") + action, data=fields, timeout=60), cluster.b)
    assert editor_shown(again), again.text[:2000]
    assert "Bitrix24 did not answer" not in reload(opened, cluster.a).text
    assert cluster.server_errors(logs) == []


def _query(action: str) -> str:
    return "?" + action.split("?", 1)[1] if "?" in action else ""


def test_the_portal_process_gone_gives_retry_and_the_tab_works_again_when_it_is_back(
    fresh_cluster: Cluster, opened: DealTab
) -> None:
    cluster, logs = fresh_cluster, fresh_cluster.log_mark()
    frame = PortalBrowser(cluster.sandbox_url, user=1).deal_tab_frame(opened.deal_id)
    port = int(urlsplit(cluster.sandbox_url).port or 0)
    stop(cluster.processes["sandbox"])
    try:
        answers = [placement_post(frame, app) for app in cluster.apps]
        shown = [reload(opened, app) for app in cluster.apps]
    finally:
        start_sandbox(cluster, port)

    assert all(a.status_code == 200 and "Bitrix24 is not answering" in a.text for a in answers)
    assert all(s.status_code == 200 and "Bitrix24 did not answer" in s.text for s in shown)
    assert "Bitrix24 did not answer" not in reload(opened, cluster.b).text
    assert cluster.server_errors(logs) == []


def test_a_refresh_token_revoked_on_the_portal_marks_it_for_reauthorization_and_the_tab_says_so(
    fresh_cluster: Cluster,
) -> None:
    """The keep-alive job (cron) meets the revoked token; both instances then show the notice."""
    cluster, logs = fresh_cluster, fresh_cluster.log_mark()
    deal_id = deals_with_rows(cluster, assigned_to=3)[0]
    cluster.sandbox_sql("UPDATE sandbox_refreshtoken SET revoked = 1")
    cluster.app_sql("UPDATE b24app_portal SET refreshed_at = now() - interval '30 days'")
    try:
        job = cluster.manage("b24_keepalive")
        assert "1 failed" in job.stdout, job.stdout + job.stderr
        assert cluster.app_sql("SELECT status FROM b24app_portal") == [("needs_reauth",)]

        admin = open_frame(PortalBrowser(cluster.sandbox_url, user=1).deal_tab_frame(deal_id), cluster.b, deal_id)
        rep = open_frame(PortalBrowser(cluster.sandbox_url, user=3).deal_tab_frame(deal_id), cluster.a, deal_id)

        assert admin.response.status_code == 200 and "Deal Desk needs to be re-authorized" in admin.response.text
        assert rep.response.status_code == 200 and "Editing is paused until your Bitrix24 administrator" in (
            rep.response.text
        )
        assert '<form id="editor"' not in admin.response.text  # read-only until someone reconnects
    finally:
        _reinstall(cluster)
    assert cluster.app_sql("SELECT status FROM b24app_portal") == [("installed",)]
    assert cluster.server_errors(logs) == []


def _reinstall(cluster: Cluster) -> None:
    """The administrator opens the app again through the installer: fresh tokens, installed again."""
    frame = PortalBrowser(cluster.sandbox_url, user=1).menu_frame()
    url = f"{cluster.a}b24/install/{_query(frame.action)}"
    response = requests.post(url, data=frame.fields, timeout=60)
    assert response.status_code == 200, response.text[:2000]


# --- events ---------------------------------------------------------------------------------------------


@pytest.fixture
def portal_identity(fresh_cluster: Cluster) -> Iterator[dict[str, Any]]:
    member_id = fresh_cluster.sandbox_sql("SELECT member_id FROM sandbox_portal")[0][0]
    token = fresh_cluster.sandbox_sql("SELECT application_token FROM sandbox_app")[0][0]
    portal_pk = fresh_cluster.app_sql("SELECT id FROM b24app_portal")[0][0]
    yield {"member_id": member_id, "application_token": token, "pk": portal_pk}


def deal_event(identity: dict[str, Any], *, deal_id: int, ts: int, **auth: str) -> str:
    block = {"member_id": identity["member_id"], "application_token": identity["application_token"], **auth}
    payload = {"event": "ONCRMDEALUPDATE", "data": {"FIELDS": {"ID": str(deal_id)}}, "ts": str(ts), "auth": block}
    return phpform.encode(payload)


def deal_version(cluster: Cluster, portal_pk: int, deal_id: int) -> int:
    from widgets.common.events import deal_version_key

    value = cluster.redis().get(f"dealdesk:1:{deal_version_key(portal_pk, deal_id)}")
    return int(value or 0)


def test_identical_updates_delivered_to_both_instances_at_once_are_each_counted(
    fresh_cluster: Cluster, portal_identity: dict[str, Any]
) -> None:
    """Ten changes of one deal in one second send ten identical events: both instances count each."""
    cluster, logs = fresh_cluster, fresh_cluster.log_mark()
    body = deal_event(portal_identity, deal_id=41, ts=int(time.time()))

    answers = together(
        10, lambda i: requests.post(f"{cluster.apps[i % 2]}b24/events/", data=body, headers=FORM, timeout=60)
    )

    assert [a.text for a in answers] == ["OK"] * 10
    assert deal_version(cluster, portal_identity["pk"], 41) == 10
    assert cluster.server_errors(logs) == []


def test_events_out_of_order_unknown_or_forged_are_answered_and_nothing_breaks(
    fresh_cluster: Cluster, portal_identity: dict[str, Any]
) -> None:
    cluster, logs = fresh_cluster, fresh_cluster.log_mark()
    now = int(time.time())
    newer, older = deal_event(portal_identity, deal_id=42, ts=now), deal_event(portal_identity, deal_id=42, ts=now - 60)
    unknown = deal_event({**portal_identity, "member_id": "f" * 32}, deal_id=42, ts=now)
    forged = deal_event({**portal_identity, "application_token": "0" * 32}, deal_id=42, ts=now)

    def post(app: str, body: str) -> int:
        return requests.post(f"{app}b24/events/", data=body, headers=FORM, timeout=60).status_code

    assert [post(cluster.a, newer), post(cluster.b, older)] == [200, 200]
    # The late one is applied too: the handlers only drop caches, so the order does not matter.
    assert deal_version(cluster, portal_identity["pk"], 42) == 2
    assert [post(app, body) for app in cluster.apps for body in (unknown, forged)] == [403] * 4
    assert [post(app, "garbage=%ff%fe") for app in cluster.apps] == [400, 400]
    assert cluster.server_errors(logs) == []


# --- widget tokens and framing ---------------------------------------------------------------------------


def test_a_widget_token_from_one_instance_works_on_the_other_and_a_tampered_one_on_neither(
    fresh_cluster: Cluster, opened: DealTab
) -> None:
    cluster = fresh_cluster
    portal_origin = cluster.sandbox_url.removesuffix("/sandbox/")
    tampered = opened.token[:-3] + ("aaa" if not opened.token.endswith("aaa") else "bbb")

    for app in cluster.apps:
        ping_url = f"{app}deal-tab/{opened.deal_id}/ping/"
        ping = requests.get(ping_url, headers={"X-Widget-Token": opened.token}, timeout=30)
        assert ping.status_code == 204 and ping.headers["X-Widget-Token"]
        assert frame_ancestors(ping.headers["Content-Security-Policy"]) == [portal_origin]
        assert "X-Frame-Options" not in ping.headers
        refused = requests.get(ping_url, headers={"X-Widget-Token": tampered}, timeout=30)
        assert refused.status_code == 403 and refused.text == "Forbidden"
        for path in ("", "b24/health/"):
            assert requests.get(f"{app}{path}", timeout=30).headers.get("X-Frame-Options") == "DENY"
    assert frame_ancestors(opened.response.headers["Content-Security-Policy"]) == [portal_origin]
