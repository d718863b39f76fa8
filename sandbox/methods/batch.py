"""`batch`: up to 50 commands in one request, with $result/$next/$total references.

Behaviour from bitrix24-protocol.md §4.4 (docs batch.md and CRestProvider::methodsBatch).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from b24app.phpform import build_nested
from sandbox.portal import get_portal
from sandbox.rest.dispatch import run_method
from sandbox.rest.errors import RestError
from sandbox.rest.registry import Call, rest_method

MAX_COMMANDS = 50
_MACRO = re.compile(r"\$(result|next|total|time|error)((?:\[[^\]]*\])+)")
_ACCUMULATORS = {
    "result": "result",
    "next": "result_next",
    "total": "result_total",
    "time": "result_time",
    "error": "result_error",
}


@rest_method("batch", scope="basic", batchable=False)
def batch(call: Call) -> dict[str, Any]:
    commands = _commands(call.param("cmd"))
    halt = str(call.param("halt", "0")).lower() in ("1", "true", "y")
    acc: dict[str, dict[Any, Any]] = {name: {} for name in _ACCUMULATORS.values()}
    executed: list[str] = []
    portal = get_portal()
    for index, (key, command) in enumerate(commands):
        if index >= MAX_COMMANDS:
            acc["result_error"][key] = {
                "error": "ERROR_BATCH_LENGTH_EXCEEDED",
                "error_description": "Max batch length exceeded",
            }
            continue
        method, query = command.partition("?")[::2]
        params = _resolve_params(query, acc)
        executed.append(method.strip().lower())
        outcome = run_method(
            method.strip(), params, call.caller, portal=portal, portal_url=call.portal_url, in_batch=True
        )
        body = outcome.body
        if not outcome.ok:
            acc["result_error"][key] = {
                "error": body.get("error", ""),
                "error_description": body.get("error_description", ""),
            }
            if halt:
                break
            continue
        acc["result"][key] = body.get("result")
        if "total" in body:
            acc["result_total"][key] = body["total"]
        if "next" in body:
            acc["result_next"][key] = body["next"]
        acc["result_time"][key] = body.get("time")
    call.extra["batch_methods"] = executed
    return {name: _php_array(values) for name, values in acc.items()}


def _commands(cmd: Any) -> list[tuple[Any, str]]:
    if isinstance(cmd, dict):
        return [(str(k), str(v)) for k, v in cmd.items()]
    if isinstance(cmd, list):
        return [(i, str(v)) for i, v in enumerate(cmd)]
    raise RestError("ERROR_ARGUMENT", "Argument 'cmd' is null or empty", 400, argument="cmd")


def _php_array(values: dict[Any, Any]) -> Any:
    """PHP arrays: empty → [], keys 0..n-1 → list, anything else → object."""
    if not values:
        return []
    keys = list(values)
    if all(isinstance(k, int) for k in keys) and keys == list(range(len(keys))):
        return [values[k] for k in keys]
    return {str(k): v for k, v in values.items()}


def _resolve_params(query: str, acc: dict[str, dict[Any, Any]]) -> dict[str, Any]:
    pairs: list[tuple[str, Any]] = []
    for name, value in parse_qsl(query, keep_blank_values=True, max_num_fields=20000):
        pairs.append((name, _substitute(value, acc)))
    return build_nested(pairs)


def _substitute(value: str, acc: dict[str, dict[Any, Any]]) -> Any:
    whole = _MACRO.fullmatch(value)
    if whole:
        # The whole value is a reference: the raw value, arrays included, is passed on.
        return _lookup(whole.group(1), whole.group(2), acc)

    def scalar(match: re.Match[str]) -> str:
        found = _lookup(match.group(1), match.group(2), acc)
        if isinstance(found, bool):
            return "1" if found else ""
        if isinstance(found, str | int | float):
            return str(found)
        return match.group(0)

    return _MACRO.sub(scalar, value)


def _lookup(kind: str, path: str, acc: dict[str, dict[Any, Any]]) -> Any:
    segments = re.findall(r"\[([^\]]*)\]", path)
    node: Any = acc[_ACCUMULATORS[kind]]
    for segment in segments:
        # A missing segment ends the walk at the last level that exists (no error), as Bitrix24 does.
        nxt = _child(node, segment)
        if nxt is _MISSING:
            break
        node = nxt
    return node


_MISSING = object()


def _child(node: Any, segment: str) -> Any:
    if isinstance(node, dict):
        if segment in node:
            return node[segment]
        if segment.isdigit() and int(segment) in node:
            return node[int(segment)]
        return _MISSING
    if isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
        return node[int(segment)]
    return _MISSING
