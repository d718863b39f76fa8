"""Request parameters as Bitrix24 reads them.

Query and body are merged (the body wins). Form bodies use PHP bracket keys
(`fields[TITLE]=x`, `filter[>ID]=5`, `select[]=ID`). A JSON body is decoded; any other body,
including BX24.js's posts without a Content-Type (sent as text/plain), is parsed as a URL-encoded
query string. Source: bitrix24-protocol.md §3.2 (CRestUtil::getRequestData).
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest

from b24app import phpform

MAX_BODY_BYTES = 8 * 1024 * 1024


class ParamsError(ValueError):
    pass


def parse_php_query(query: str) -> dict[str, Any]:
    try:
        return phpform.decode(query)
    except phpform.FormError as exc:
        raise ParamsError(str(exc)) from exc


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
        except (ValueError, UnicodeDecodeError, RecursionError):
            # Bitrix24 treats an undecodable JSON body as no parameters at all.
            decoded = {}
        if isinstance(decoded, dict):
            params.update(decoded)
        return params
    if content_type == "multipart/form-data":
        pairs = [(k, v) for k in request.POST for v in request.POST.getlist(k)]
        params.update(phpform.build_nested(pairs))
        return params
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParamsError("Wrong request encoding") from exc
    params.update(parse_php_query(text))
    return params
