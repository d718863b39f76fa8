"""The tab's first paint (issue 17): the placement POST answers with a skeleton and no REST
request; the fill request, with the one-time opening token, runs the one opening batch.

Over live_server against the sandbox's request log (RequestLog): what the portal saw is counted there.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import requests

from tests.conftest import SandboxPortal
from tests.widgets.tab_support import (
    Opening,
    calls_since,
    deal_of,
    last_call_id,
    opening_of,
    placement_form,
    portal_query,
    sandbox_fault,
    tab_fill,
)


def placement(sandbox: SandboxPortal, form: dict[str, str]) -> requests.Response:
    return requests.post(f"{sandbox.app_url}deal-tab/?{portal_query(sandbox)}", data=form, timeout=30)


def skeleton(sandbox: SandboxPortal, form: dict[str, str]) -> Opening:
    response = placement(sandbox, form)
    assert response.status_code == 200
    opening = opening_of(response.text)
    assert opening is not None
    return opening


def test_the_placement_post_paints_a_skeleton_without_asking_the_portal(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    from b24app.models import UserToken

    form = placement_form(user=1, deal_id=deal_of())
    mark = last_call_id()
    response = placement(sandbox, form)
    assert response.status_code == 200
    assert calls_since(mark) == []  # no REST request before (or for) the first paint
    assert not UserToken.objects.exists()  # nothing believed yet
    page = response.text
    assert 'class="opening-skeleton"' in page and "Bitrix24 is busy, loading…" in page
    # Nothing of the deal, no widget token: AUTH_ID is not verified yet.
    assert "X-Widget-Token" not in response.headers and '<form id="editor"' not in page
    assert 'name="state"' not in page and "X-Widget-Token" not in page
    opening = opening_of(page)
    assert opening is not None and opening.token
    assert opening.token not in opening.url  # the token travels in a header, never in a URL
    assert response.headers.get("Cache-Control") == "no-store"


def test_the_fill_request_makes_exactly_one_rest_request_and_paints_the_tab(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    opening = skeleton(sandbox, placement_form(user=1, deal_id=deal_of()))
    mark = last_call_id()
    filled = tab_fill(sandbox, opening)
    assert filled.status_code == 200
    assert '<form id="editor"' in filled.text and filled.headers.get("X-Widget-Token")
    assert [c.method for c in calls_since(mark)] == ["batch"]
    assert "dealtab:opened" in filled.headers.get("HX-Trigger", "")


def test_an_opening_token_opens_once(sandbox: SandboxPortal, tab_portal: Any) -> None:
    opening = skeleton(sandbox, placement_form(user=1, deal_id=deal_of()))
    assert tab_fill(sandbox, opening).status_code == 200
    mark = last_call_id()
    replayed = tab_fill(sandbox, opening)
    assert replayed.status_code == 403 and "X-Widget-Token" not in replayed.headers
    assert calls_since(mark) == []


def test_forged_or_misbound_opening_tokens_are_refused_without_a_rest_request(
    sandbox: SandboxPortal, tab_portal: Any
) -> None:
    deal_id = deal_of()
    opening = skeleton(sandbox, placement_form(user=1, deal_id=deal_id))
    other = skeleton(sandbox, placement_form(user=1, deal_id=deal_id))  # another placement's token
    forged = opening.token[:-4] + ("AAAA" if not opening.token.endswith("AAAA") else "BBBB")
    mark = last_call_id()
    for token in ("", "nonsense", forged, secrets.token_urlsafe(40)):
        response = tab_fill(sandbox, opening, token=token)
        assert response.status_code == 403, token
        assert "X-Widget-Token" not in response.headers
    # A genuine token carries its own AUTH_ID: with other fields it opens nothing.
    assert tab_fill(sandbox, Opening(opening.url, other.token, opening.fields)).status_code == 403
    assert calls_since(mark) == []
    # Both are still good for their own placements (a refusal spends nothing).
    assert tab_fill(sandbox, opening).status_code == 200
    assert tab_fill(sandbox, other).status_code == 200


def test_bad_fill_requests_get_4xx(sandbox: SandboxPortal, tab_portal: Any) -> None:
    opening = skeleton(sandbox, placement_form(user=1, deal_id=deal_of()))
    url = sandbox.app_url.rstrip("/") + opening.url
    headers = {"X-Opening-Token": opening.token}
    mark = last_call_id()
    assert requests.get(url, headers=headers, timeout=30).status_code == 405
    assert requests.post(url, data={}, headers=headers, timeout=30).status_code == 403
    no_options = [(k, v) for k, v in opening.fields if k != "PLACEMENT_OPTIONS"]
    assert requests.post(url, data=no_options, headers=headers, timeout=30).status_code == 403
    expires = [(k, "soon" if k == "AUTH_EXPIRES" else v) for k, v in opening.fields]
    assert requests.post(url, data=expires, headers=headers, timeout=30).status_code == 400
    assert calls_since(mark) == []


def test_the_skeleton_answers_at_once_while_the_portal_is_slow(sandbox: SandboxPortal, tab_portal: Any) -> None:
    form = placement_form(user=1, deal_id=deal_of())
    sandbox_fault(sandbox, delay_ms=3000)
    try:
        started = time.monotonic()
        opening = skeleton(sandbox, form)
        painted = time.monotonic() - started
        filled = tab_fill(sandbox, opening)
    finally:
        sandbox_fault(sandbox, delay_ms=0)
    assert painted < 2.0  # far below the portal's 3 s: nothing waited for it (no timing claim beyond that)
    assert filled.status_code == 200 and '<form id="editor"' in filled.text


def test_a_long_limiter_queue_answers_busy_at_once_and_the_next_poll_fills(
    sandbox: SandboxPortal, tab_portal: Any, monkeypatch: Any
) -> None:
    import widgets.products.views as views

    opening = skeleton(sandbox, placement_form(user=1, deal_id=deal_of()))
    monkeypatch.setattr(views, "queued_seconds", lambda key: 12.0)
    mark = last_call_id()
    busy = tab_fill(sandbox, opening)
    assert busy.status_code == 200 and calls_since(mark) == []  # no slot taken, no thread held
    again = opening_of(busy.text)
    assert again is not None and again.token != opening.token
    assert 'hx-trigger="load delay:5.0s"' in busy.text and "Bitrix24 is busy, loading…" in busy.text
    assert "X-Widget-Token" not in busy.headers and '<form id="editor"' not in busy.text
    monkeypatch.setattr(views, "queued_seconds", lambda key: 0.0)
    filled = tab_fill(sandbox, again)
    assert filled.status_code == 200 and '<form id="editor"' in filled.text
    assert [c.method for c in calls_since(mark)] == ["batch"]


def test_the_limiter_tells_its_queue_without_reserving(settings: Any) -> None:
    from b24app import limiter

    limits = limiter.Limits(rate=2.0, burst=2)
    key = f"queue-{secrets.token_hex(4)}"
    assert limiter.queued_seconds(key, limits, now=1000.0) == 0.0
    for _ in range(4):
        limiter.reserve_slot(key, limits, now=1000.0, max_wait=60)
    queued = limiter.queued_seconds(key, limits, now=1000.0)
    assert queued == limiter.reserve_slot(key, limits, now=1000.0, max_wait=60) > 0
    assert limiter.queued_seconds(key, limits, now=1000.0) == queued + 0.5  # the read reserved nothing
