"""Request parameters as Bitrix24 reads them.

Query and body are merged (the body wins). Form bodies use PHP bracket keys
(`fields[TITLE]=x`, `filter[>ID]=5`, `select[]=ID`). A JSON body is decoded; any other body,
including BX24.js's posts without a Content-Type (sent as text/plain), is parsed as a URL-encoded
query string. Source: bitrix24-protocol.md §3.2 (CRestUtil::getRequestData).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from django.http import HttpRequest

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32
_KEY = re.compile(r"^([^\[]*)((?:\[[^\]]*\])*)(.*)$")


class ParamsError(ValueError):
    pass


def parse_php_query(query: str) -> dict[str, Any]:
    return build_nested(parse_qsl(query, keep_blank_values=True, max_num_fields=20000))


def build_nested(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        head, brackets, rest = _split_key(raw_key)
        if not head:
            continue
        parts = [head, *re.findall(r"\[([^\]]*)\]", brackets)]
        if rest:
            # PHP ignores everything after the last closing bracket.
            pass
        if len(parts) > MAX_DEPTH:
            raise ParamsError("Nesting too deep")
        _assign(root, parts, value)
    return _listify(root)


def _split_key(raw_key: str) -> tuple[str, str, str]:
    match = _KEY.match(raw_key)
    if not match:
        return raw_key, "", ""
    return match.group(1), match.group(2), match.group(3)


def _assign(node: dict[str, Any], parts: list[str], value: Any) -> None:
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        key = part if part != "" else str(_next_index(node))
        if last:
            node[key] = value
            return
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child


def _next_index(node: dict[str, Any]) -> int:
    numeric = [int(k) for k in node if k.isdigit()]
    return max(numeric) + 1 if numeric else 0


def _listify(value: Any) -> Any:
    """Dicts keyed 0..n-1 become lists, as PHP arrays with sequential keys encode to JSON lists."""
    if not isinstance(value, dict):
        return value
    converted = {k: _listify(v) for k, v in value.items()}
    keys = list(converted)
    if keys and all(k.isdigit() for k in keys) and [int(k) for k in keys] == list(range(len(keys))):
        return [converted[k] for k in keys]
    return converted


def request_params(request: HttpRequest) -> dict[str, Any]:
    """All parameters of a REST request; raises ParamsError for an unreadable body."""
    params = parse_php_query(request.META.get("QUERY_STRING", ""))
    if request.method != "POST":
        return params
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        raise ParamsError("Request too large")
    if not body.strip():
        return params
    content_type = (request.content_type or "").lower()
    if content_type == "application/json":
        try:
            decoded = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            # Bitrix24 treats an undecodable JSON body as no parameters at all.
            decoded = {}
        if isinstance(decoded, dict):
            params.update(decoded)
        return params
    if content_type == "multipart/form-data":
        pairs = [(k, v) for k in request.POST for v in request.POST.getlist(k)]
        params.update(build_nested(pairs))
        return params
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParamsError("Wrong request encoding") from exc
    params.update(parse_php_query(text))
    return params
