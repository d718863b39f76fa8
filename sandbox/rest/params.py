"""Request parameters as Bitrix24 reads them (CRestUtil::getRequestData, bitrix24-protocol.md §3.2).

PHP first parses the query string and, for form and multipart bodies, the body (parse_str rules,
sandbox.rest.php); the two are merged with array_merge. A POST whose body gave PHP no form fields is
read again by Bitrix24 itself: `application/json` is JSON-decoded (invalid JSON is no parameters),
any other type, including BX24.js's posts sent as text/plain, is parse_str'd; that result replaces
top-level keys (array_replace). The answer is JSON-like: PHP arrays keyed 0..n-1 are lists.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest

from sandbox.rest.php import PhpArray, from_json, parse_pairs, parse_str, php_key, to_json

MAX_BODY_BYTES = 8 * 1024 * 1024
JSON_MAX_DEPTH = 512  # json_decode's default depth, which Bitrix\Main\Web\Json::decode keeps
_PHP_TRIM = b" \t\n\r\0\x0b"
# The bodies PHP itself parses into $_POST (SAPI's known post entries).
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class ParamsError(ValueError):
    pass


def request_params(request: HttpRequest) -> dict[str, Any]:
    """All parameters of a REST request; raises ParamsError for a body over the size limit."""
    query = parse_str(request.META.get("QUERY_STRING", ""))
    if request.method != "POST":
        return _as_params(query)
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        raise ParamsError("Request too large")
    form = _php_post(request, body)
    merged = _array_merge(query, form)
    if form:
        return _as_params(merged)
    raw = body.strip(_PHP_TRIM)
    if not raw:
        return _as_params(merged)
    if _bitrix_content_type(request) == "application/json":
        return _as_params(_array_replace(merged, _json_array(raw)))
    return _as_params(_array_replace(merged, parse_str(raw)))


def _php_post(request: HttpRequest, body: bytes) -> PhpArray:
    """$_POST: PHP fills it only for form-urlencoded and multipart bodies."""
    content_type = _sapi_content_type(request)
    if content_type == "application/x-www-form-urlencoded":
        return parse_str(body)
    if content_type == "multipart/form-data":
        return parse_pairs([(k, v) for k in request.POST for v in request.POST.getlist(k)])
    return PhpArray()


def _sapi_content_type(request: HttpRequest) -> str:
    # SAPI compares the type lower-cased, cut at the first ';', ',' or space.
    raw = str(request.META.get("CONTENT_TYPE", "")).lower()
    for separator in ";, ":
        raw = raw.split(separator, 1)[0]
    return raw if raw in _FORM_TYPES else ""


def _bitrix_content_type(request: HttpRequest) -> str:
    # getRequestData: trim(preg_replace('/;.*$/', '', $type)), compared case-sensitively.
    return str(request.META.get("CONTENT_TYPE", "")).split(";", 1)[0].strip()


def _json_array(raw: bytes) -> PhpArray:
    try:
        decoded = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return PhpArray()  # Json::decode throws; getRequestData takes no parameters
    if _depth(decoded) > JSON_MAX_DEPTH:
        return PhpArray()
    result = PhpArray()
    if isinstance(decoded, dict):
        for key, value in decoded.items():
            result.put(php_key(key), from_json(value))
    elif isinstance(decoded, list):
        for value in decoded:
            result.append(from_json(value))
    return result


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _array_merge(first: PhpArray, second: PhpArray) -> PhpArray:
    """array_merge: string keys of the second win; integer keys are renumbered and appended."""
    result = PhpArray()
    for source in (first, second):
        for key, value in source.items():
            if isinstance(key, int):
                result.append(value)
            else:
                result.put(key, value)
    return result


def _array_replace(first: PhpArray, second: PhpArray) -> PhpArray:
    result = PhpArray()
    for source in (first, second):
        for key, value in source.items():
            result.put(key, value)
    return result


def _as_params(values: PhpArray) -> dict[str, Any]:
    # Top-level parameters stay a name -> value map even when PHP would hold them as a list
    # (positional parameters `0=…&1=…`): methods look them up by name.
    return {str(key): to_json(value, empty_as_object=True) for key, value in values.items()}
