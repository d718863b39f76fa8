"""The sandbox's PHP form rules against PHP's documented results.

Expected values come from the PHP manual (parse_str, http_build_query, urlencode, "Variables From
External Sources": dots and spaces in names) and from php-src main/php_variables.c
(php_register_variable_ex, php_default_treat_data), not from any client's encoder. Then the same
rules over real HTTP: a request body as the REST server reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.rest.php import http_build_query, parse_str, php_bool, to_json
from tests.conftest import SandboxPortal

PARSE_STR_CASES: list[tuple[str, Any]] = [
    # PHP manual, parse_str example #1.
    ("first=value&arr[]=foo+bar&arr[]=baz", {"first": "value", "arr": ["foo bar", "baz"]}),
    # PHP manual, parse_str example #2 and "Variables From External Sources": '.' and ' ' become '_'.
    ("My Value=Something", {"My_Value": "Something"}),
    ("a.b=1", {"a_b": "1"}),
    # Only in the top-level name: inside brackets dots and spaces stay.
    ("a[b.c d]=1", {"a": {"b.c d": "1"}}),
    # php_register_variable_ex: leading spaces of a name are ignored; an empty name is dropped.
    ("  x=1&=2&[y]=3", {"x": "1"}),
    # A '[' without ']' in the top-level name becomes '_', and so do later '.', ' ', '['.
    ("a[b=1", {"a_b": "1"}),
    ("a[b.c[d=1", {"a_b_c_d": "1"}),
    # Deeper, a '[' without ']' ends the name; text after a ']' that opens no '[' is ignored.
    ("a[b][c=1", {"a": {"b": "1"}}),
    ("a[b]c=1", {"a": {"b": "1"}}),
    # `[]` appends at the next integer index; one whitespace inside the brackets counts as empty.
    ("a[5]=x&a[]=y", {"a": {"5": "x", "6": "y"}}),
    ("a[ ]=x&a[ ]=y", {"a": ["x", "y"]}),
    # Canonical integer keys are integers (so 0..n-1 in order is a list); "05" stays a string.
    ("a[1]=x&a[0]=y", {"a": {"1": "x", "0": "y"}}),
    ("a[0]=x&a[1]=y", {"a": ["x", "y"]}),
    ("a[05]=x", {"a": {"05": "x"}}),
    # A later scalar replaces an array and a later array replaces a scalar, in place.
    ("a[b]=1&a=2", {"a": "2"}),
    ("a=2&a[b]=1", {"a": {"b": "1"}}),
    # A name without '=' has the empty value; empty pieces between '&' are skipped.
    ("a&&b=", {"a": "", "b": ""}),
    # Names are url-decoded before the brackets are read; a decoded NUL ends the name.
    ("a%5Bb%5D=1", {"a": {"b": "1"}}),
    ("ab%00cd=1", {"ab": "1"}),
    # php_url_decode: '+' is a space, a '%' not followed by two hex digits stays as it is.
    ("a=%41%2B+%zz%4", {"a": "A+ %zz%4"}),
]


@pytest.mark.parametrize(("query", "expected"), PARSE_STR_CASES)
def test_parse_str_gives_what_php_gives(query: str, expected: Any) -> None:
    assert to_json(parse_str(query)) == expected


# Answers recorded from PHP itself (php-cli 8.2, parse_str then json_encode; http_build_query),
# for crafted and random inputs: see the file's "about".
RECORDED = json.loads((Path(__file__).parent / "data" / "php_forms.json").read_text(encoding="utf-8"))


def test_parse_str_agrees_with_php_on_every_recorded_case() -> None:
    wrong = [(query, php) for query, php in RECORDED["cases"] if to_json(parse_str(query)) != php]
    assert wrong == []


def test_http_build_query_agrees_with_php_on_every_recorded_case() -> None:
    wrong = [(data, php) for data, php in RECORDED["http_build_query"] if http_build_query(data) != php]
    assert wrong == []


def test_nesting_past_64_levels_drops_the_whole_variable() -> None:
    """max_input_nesting_level (64): the variable is deleted from the result, earlier values too."""
    ok = "a" + "[x]" * 64 + "=1"
    too_deep = "a[y]=2&a" + "[x]" * 65 + "=1&b=3"
    assert "a" in to_json(parse_str(ok))
    assert to_json(parse_str(too_deep)) == {"b": "3"}


def test_variables_past_max_input_vars_are_dropped() -> None:
    """php_default_treat_data stops at max_input_vars (10,000 here, Bitrix24's minimum)."""
    parsed = to_json(parse_str("&".join(f"v{i}=1" for i in range(10_001))))
    assert len(parsed) == 10_000 and "v10000" not in parsed


def test_http_build_query_matches_the_manual_example() -> None:
    """PHP manual, http_build_query example #3 (nested arrays), without a numeric prefix."""
    data: dict[Any, Any] = {
        "user": {"name": "Bob Smith", "age": 47, "sex": "M", "dob": "5/12/1956"},
        "pastimes": ["golf", "opera", "poker", "rap"],
        "children": {"bobby": {"age": 12, "sex": "M"}, "sally": {"age": 8, "sex": "F"}},
        0: "CEO",
    }
    assert http_build_query(data) == (
        "user%5Bname%5D=Bob+Smith&user%5Bage%5D=47&user%5Bsex%5D=M&user%5Bdob%5D=5%2F12%2F1956"
        "&pastimes%5B0%5D=golf&pastimes%5B1%5D=opera&pastimes%5B2%5D=poker&pastimes%5B3%5D=rap"
        "&children%5Bbobby%5D%5Bage%5D=12&children%5Bbobby%5D%5Bsex%5D=M"
        "&children%5Bsally%5D%5Bage%5D=8&children%5Bsally%5D%5Bsex%5D=F&0=CEO"
    )


def test_http_build_query_skips_null_and_empty_arrays_and_writes_booleans_as_digits() -> None:
    """PHP manual, http_build_query example #1 (null skipped); booleans are 1/0; urlencode encodes '~'."""
    data: dict[str, Any] = {
        "foo": "bar",
        "null": None,
        "php": "hypertext processor",
        "empty": [],
        "t": True,
        "f": False,
        "s": "~*",
    }
    assert http_build_query(data) == "foo=bar&php=hypertext+processor&t=1&f=0&s=%7E%2A"


@pytest.mark.parametrize(
    ("value", "truthy"),
    [("", False), ("0", False), ("0.0", True), ("false", True), ("N", True), (0, False), (2, True), ([], False)],
)
def test_php_bool_is_php_truthiness(value: Any, truthy: bool) -> None:
    """PHP manual, "Converting to boolean": only "" and "0" among strings are false."""
    assert php_bool(value) is truthy


# --- over HTTP --------------------------------------------------------------------------------------


def stored_option(sandbox: SandboxPortal, body: bytes, content_type: str | None) -> Any:
    """Set app options with a raw body, then read what the portal understood."""
    headers = {"Content-Type": content_type} if content_type else {}
    url = sandbox.rest_url("app.option.set") + f"?auth={sandbox.token()}"
    response = requests.post(url, data=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return sandbox.result("app.option.get", {"option": "k"})


def test_a_form_body_is_read_with_php_rules(sandbox: SandboxPortal) -> None:
    """`options[k][]` appends, `options[k][x.y]` keeps its dot inside brackets."""
    body = b"options[k][]=a&options[k][]=b+c&options[k][x.y]=1"
    assert stored_option(sandbox, body, "application/x-www-form-urlencoded") == {"0": "a", "1": "b c", "x.y": "1"}


def test_a_text_plain_body_is_trimmed_and_read_as_a_query_string(sandbox: SandboxPortal) -> None:
    """getRequestData: a body PHP did not parse is trim()med, then parse_str'd (BX24.js posts)."""
    assert stored_option(sandbox, b"options[k][]=a&options[k][]=b\n", "text/plain;charset=UTF-8") == ["a", "b"]


def test_a_json_object_keyed_0_to_n_is_a_php_list(sandbox: SandboxPortal) -> None:
    """json_decode(…, true): {"0": …, "1": …} is the same PHP array as [...], answered as a list."""
    body = b'{"options": {"k": {"0": "a", "1": "b"}}}'
    assert stored_option(sandbox, body, "application/json") == ["a", "b"]


def test_an_event_body_is_written_as_http_build_query_writes_it(
    sandbox: SandboxPortal, settings: Any, event_receiver: tuple[str, list[str]]
) -> None:
    """event.test echoes its parameters in data[QUERY]; the body is http_build_query's.

    Expected: true as 1, null and an empty array left out, '~' encoded, brackets as %5B %5D.
    """
    settings.SANDBOX_EVENTS_SYNC = True
    url, received = event_receiver
    sandbox.result("event.bind", {"event": "ONAPPTEST", "handler": url})
    sandbox.result("event.test", {"flag": True, "none": None, "empty": [], "text": "a b~"})
    (body,) = received
    assert "data%5BQUERY%5D%5Bflag%5D=1&" in body
    assert "data%5BQUERY%5D%5Btext%5D=a+b%7E&" in body
    assert "none" not in body and "empty" not in body


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_parse_str_reads_any_bytes_into_json(raw: bytes) -> None:
    """No body can make the decoder fail: whatever PHP would make of it is JSON-writable."""
    json.dumps(to_json(parse_str(raw)))
