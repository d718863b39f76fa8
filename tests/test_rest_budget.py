"""REST request budgets per user action (issue #7): a portal gives an app about 2 requests a
second for all its users, so each action's count of requests is a contract, checked here in the
portal's request log — counts, never timings.

Budgets: opening the deal tab costs 1 request, cold or warm reference cache; saving product rows
or contacts 1 (2 when the guard cannot tell: another field changed, a change in the same second,
a reorder or contact change DATE_MODIFY does not show — nothing of the other user's is lost);
saving a card layout at most 2; opening the card layout page 1. The actions are the ones
`make bench` measures (bench.actions ACTIONS), driven the same way. Opening the deal tab spans two
requests to the app, the placement POST (the first paint, a skeleton) and the fill its htmx load
sends; the budget counts both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.actions import ACTIONS, Action, App
from bench.portal import calls_since, log_mark
from devtools.portal import fresh_app_cache, install_over_http
from tests.conftest import SandboxPortal

BUILT = [action for action in ACTIONS if action.act is not None]


@pytest.fixture
def app(sandbox: SandboxPortal, settings: Any) -> Iterator[App]:
    """Deal Desk installed on the sandbox portal over HTTP; pacing that never slows a test."""
    with fresh_app_cache(settings):
        install_over_http(app_url=sandbox.app_url, sandbox_url=sandbox.url)
        yield App(app_url=sandbox.app_url, sandbox_url=sandbox.url)


@pytest.mark.parametrize("action", BUILT, ids=[a.key for a in BUILT])
def test_each_action_stays_within_its_rest_request_budget(app: App, action: Action) -> None:
    assert action.act is not None and action.budget is not None
    state: dict[str, Any] = {}
    action.prepare(app, state)
    mark = log_mark()
    outcome = action.act(app, state)
    calls = calls_since(mark)
    sent = [(c.method, list(c.batch_methods)) for c in calls]
    assert outcome.ok, f"{action.label} did not work: HTTP {outcome.timed.page.status if outcome.timed else '?'}"
    assert len(calls) <= action.budget, f"{action.label}: {len(calls)} requests, budget {action.budget}: {sent}"
    assert all(c.http_status == 200 for c in calls), sent


def test_the_budgets_cover_every_action_of_the_issue() -> None:
    budgets = {a.key: a.budget for a in ACTIONS}
    assert budgets == {
        "tab_open_cold": 1,
        "tab_open_warm": 1,
        "rows_save": 1,
        "contacts_save": 1,
        # When the guard cannot tell: one request more, and nothing of the other user's is lost.
        "rows_save_other_field": 2,
        "rows_save_same_second": 2,
        "rows_save_after_reorder": 2,
        "contacts_save_after_change": 2,
        "layout_open": 1,
        "layout_save": 2,
        # A write whose answer was lost costs one read more, to tell the truth about it.
        "rows_save_unanswered": 2,
        "contacts_save_unanswered": 2,
        "layout_save_unanswered": 3,
    }


def test_opening_the_tab_counts_the_first_paint_and_its_fill(app: App) -> None:
    from bench.actions import TAB_USER, url
    from bench.portal import deal_with_rows, opening_of
    from devtools.portal import placement_form

    form = placement_form(user=TAB_USER, placement="CRM_DEAL_DETAIL_TAB", deal_id=deal_with_rows(user=TAB_USER))
    mark = log_mark()
    painted = app.placement_paint(url("tab_placement"), form)
    assert painted.page.status == 200 and opening_of(painted.page.html) is not None
    assert calls_since(mark) == []  # the first paint asks the portal nothing
    opened = app.placement(url("tab_placement"), form)
    assert opened.page.editor_ready and opened.portal_requests == 1
    assert len(calls_since(mark)) == 1  # the whole open, paint and fill: one request
