"""Hostile placement fields, over real HTTP: a genuine tab or app-menu POST with one field changed.

The deal tab and the app-menu page read AUTH_EXPIRES and PLACEMENT_OPTIONS with the install
handler's parser (b24app.portal_form). A value no portal sends is a 400 before anything is
verified, stored or asked of the portal; nothing a browser sends is ever a 5xx. The form is a
genuine one (fresh tokens from the sandbox), so each example reaches as deep as the value lets it:
past the verifying batch into storing the user's token, where a 10**20-second lifetime once
overflowed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b24app.models import UserToken
from tests.conftest import SandboxPortal
from tests.widgets.layout_support import placement_form as menu_form
from tests.widgets.tab_support import (
    Opening,
    calls_since,
    deal_of,
    last_call_id,
    opening_of,
    placement_form,
    placement_post,
    portal_query,
    tab_fill,
)

FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EXCEPTION_TEXT = ("Traceback", "Exception", "Error at /")
ENTRIES = ["tab", "menu"]


def post_entry(sandbox: SandboxPortal, which: str, **overrides: str) -> requests.Response:
    if which == "tab":
        response = placement_post(sandbox, placement_form(user=3, deal_id=deal_of(3), **overrides), timeout=60)
    else:
        url = f"{sandbox.app_url}?{portal_query(sandbox)}"
        response = requests.post(url, data=menu_form(user=1, **overrides), timeout=60)
    assert response.status_code < 500, (response.status_code, response.text[:2000])
    assert not any(text in response.text for text in EXCEPTION_TEXT), response.text[:2000]
    # Both entries answer a first paint whose fill runs the opening request (the tab's and the layout page's).
    opening = opening_of(response.text) if response.status_code == 200 else None
    return post_entry_fill(sandbox, opening) if opening is not None else response


def post_entry_fill(sandbox: SandboxPortal, opening: Opening) -> requests.Response:
    """The tab's skeleton sends its fill at once (htmx load): the same checks on its answer."""
    response = tab_fill(sandbox, opening)
    assert response.status_code < 500, (response.status_code, response.text[:2000])
    assert not any(text in response.text for text in EXCEPTION_TEXT), response.text[:2000]
    return response


def deep(levels: int, opener: str = "[", closer: str = "]") -> str:
    return opener * levels + closer * levels


HOSTILE = {
    "a non-ASCII digit": {"AUTH_EXPIRES": "²"},
    "Arabic-Indic digits": {"AUTH_EXPIRES": "٣٦٠٠"},
    "5,000 digits": {"AUTH_EXPIRES": "9" * 5000},
    "10**20 seconds": {"AUTH_EXPIRES": str(10**20)},
    "a negative lifetime": {"AUTH_EXPIRES": "-5"},
    "options nested 100,000 deep": {"PLACEMENT_OPTIONS": deep(100_000)},
    "an object nested 2,000 deep": {"PLACEMENT_OPTIONS": '{"a":' * 2000 + "1" + "}" * 2000},
    "options that are not JSON": {"PLACEMENT_OPTIONS": "{'ID': 5}"},
    "options that are a list": {"PLACEMENT_OPTIONS": '["ID", 5]'},
}


@pytest.mark.parametrize("which", ENTRIES)
@pytest.mark.parametrize("fields", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_field_no_portal_sends_is_a_bad_request_and_nothing_is_kept(
    sandbox: SandboxPortal, tab_portal: Any, which: str, fields: dict[str, str]
) -> None:
    mark = last_call_id()
    response = post_entry(sandbox, which, **fields)
    assert response.status_code == 400
    assert "X-Widget-Token" not in response.headers
    assert not UserToken.objects.exists()
    assert calls_since(mark) == []  # refused before anything was asked of the portal


@pytest.mark.parametrize("which", ENTRIES)
@pytest.mark.parametrize("expires", ["60", "3600", "86400", "999999999", "0", ""])
def test_a_lifetime_a_portal_may_send_opens_the_page_with_a_token_of_at_most_a_day(
    sandbox: SandboxPortal, tab_portal: Any, which: str, expires: str
) -> None:
    from django.utils import timezone

    response = post_entry(sandbox, which, AUTH_EXPIRES=expires)
    assert response.status_code == 200, response.text[:2000]
    token = UserToken.objects.get()
    assert 0 < (token.expires_at - timezone.now()).total_seconds() <= 24 * 3600


# --- property tests ------------------------------------------------------------------------------------

digits_of_every_script = st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=12)
bad_lifetimes = st.one_of(
    st.integers(10**9, 10**40).map(str),
    st.integers(5000, 6000).map(lambda n: "9" * n),
    digits_of_every_script.filter(lambda s: not (s.isascii() and s.isdigit())),
    st.sampled_from(["-5", " 3600", "3600 ", "1e9", "0x10", "3600.0", "١", "²", "∞"]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)


def _json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# PLACEMENT_OPTIONS no portal sends: too deep, not JSON, or JSON but not an object.
bad_options = st.one_of(
    st.integers(9, 120_000).map(deep),
    st.integers(9, 5_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    json_values.filter(lambda v: not isinstance(v, dict)).map(json.dumps),
    st.text(min_size=1, max_size=60).filter(lambda t: not _json(t)),
)
# Objects whose content is odd: the deal ID in any script, nested values, unknown keys.
odd_objects = st.one_of(
    st.dictionaries(st.just("ID"), st.one_of(json_values, digits_of_every_script), min_size=1).map(json.dumps),
    st.dictionaries(st.text(max_size=8), json_values, max_size=4).map(json.dumps),
)


@FUZZ
@given(which=st.sampled_from(ENTRIES), expires=bad_lifetimes)
def test_no_bad_lifetime_is_ever_a_server_error_and_each_is_a_bad_request(
    sandbox: SandboxPortal, tab_portal: Any, which: str, expires: str
) -> None:
    assert post_entry(sandbox, which, AUTH_EXPIRES=expires).status_code == 400


@FUZZ
@given(which=st.sampled_from(ENTRIES), raw=bad_options)
def test_no_bad_placement_options_are_a_server_error_and_each_is_a_bad_request(
    sandbox: SandboxPortal, tab_portal: Any, which: str, raw: str
) -> None:
    assert post_entry(sandbox, which, PLACEMENT_OPTIONS=raw).status_code == 400


@FUZZ
@given(which=st.sampled_from(ENTRIES), raw=odd_objects)
def test_no_odd_placement_options_object_is_ever_a_server_error(
    sandbox: SandboxPortal, tab_portal: Any, which: str, raw: str
) -> None:
    post_entry(sandbox, which, PLACEMENT_OPTIONS=raw)


@FUZZ
@given(
    which=st.sampled_from(ENTRIES),
    fields=st.dictionaries(
        st.sampled_from(["AUTH_EXPIRES", "PLACEMENT_OPTIONS", "PLACEMENT", "REFRESH_ID", "status", "SERVER_ENDPOINT"]),
        st.one_of(bad_lifetimes, bad_options, odd_objects, st.text(max_size=80)),
        min_size=1,
    ),
)
def test_no_mix_of_hostile_fields_is_ever_a_server_error(
    sandbox: SandboxPortal, tab_portal: Any, which: str, fields: dict[str, Any]
) -> None:
    post_entry(sandbox, which, **fields)
