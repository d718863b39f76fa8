"""`batch`: up to 50 commands in one request, with $result/$next/$total/$time/$error references.

Written from Bitrix24's rest module (bitrix24-batch.md): CRestProvider::methodsBatch
(rest_provider.php) runs the loop; CRestUtil::ParseBatchQuery, processBatchStructure and
processBatchElement (rest_util.php) read each command's query and its references.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.portal import get_portal
from sandbox.rest.dispatch import run_method
from sandbox.rest.php import PhpKey, is_list_keys, parse_str, php_bool, php_key, php_string, to_json
from sandbox.rest.registry import Call, rest_method

MAX_COMMANDS = 50  # CRestUtil::BATCH_MAX_LENGTH
# methodsBatch refuses these two by name, before looking the method up.
_NOT_IN_BATCH = ("download", "upload")
# The accumulators in the order methodsBatch declares them; processBatchElement builds its regex
# from these names, case-insensitively, and a reference runs to the next whitespace (PCRE's \s
# without /u: space, \t, \n, \v, \f, \r).
_ACCUMULATORS = ("result", "next", "total", "time", "error")
_REFERENCE = re.compile(r"\$(?i:(result|next|total|time|error))([^ \t\n\v\f\r]*)")
_SEGMENT = re.compile(r"\[([^\]]+)\]")
_INTEGER = re.compile(r"[+-]?[0-9]+")

Accumulators = dict[str, dict[PhpKey, Any]]


@rest_method("batch", scope="basic", batchable=False)
def batch(call: Call) -> dict[str, Any]:
    query = {str(k).upper(): v for k, v in call.params.items()}  # array_change_key_case(CASE_UPPER)
    halt = php_bool(query.get("HALT"))
    acc: Accumulators = {name: {} for name in _ACCUMULATORS}
    executed: list[str] = []
    portal = get_portal()
    for count, (key, command) in enumerate(_commands(query.get("CMD"))):
        if count >= MAX_COMMANDS:
            body: dict[str, Any] = {
                "error": "ERROR_BATCH_LENGTH_EXCEEDED",
                "error_description": "Max batch length exceeded",
            }
        else:
            method, params = _parse_command(command, acc)
            if method in _NOT_IN_BATCH:
                body = {
                    "error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
                    "error_description": "Method is not allowed for batch usage",
                }
            else:
                executed.append(method.lower())
                body = run_method(
                    method, params, call.caller, portal=portal, portal_url=call.portal_url, in_batch=True
                ).body
        if "error" in body:
            # A failure is kept whole, under `error` only.
            acc["error"][key] = body
            if halt:
                break
            continue
        for name in ("result", "next", "total", "time"):
            if name in body:
                acc[name][key] = body[name]
    call.extra["batch_methods"] = executed
    return {
        "result": _php_array(acc["result"]),
        "result_error": _php_array(acc["error"]),
        "result_total": _php_array(acc["total"]),
        "result_next": _php_array(acc["next"]),
        "result_time": _php_array(acc["time"]),
    }


def _commands(cmd: Any) -> list[tuple[PhpKey, str]]:
    """`foreach ($arQuery['CMD'] as $key => $call)`: no commands unless cmd is an array."""
    if isinstance(cmd, list):
        items: list[tuple[Any, Any]] = list(enumerate(cmd))
    elif isinstance(cmd, dict):
        items = list(cmd.items())
    else:
        return []
    return [(php_key(key), _command_text(value)) for key, value in items]


def _command_text(value: Any) -> str:
    # PHP hands parse_url a string: numbers as their text, true "1", false/null "". An array
    # cannot be a command; it is read as an empty one (docs/sandbox.md).
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return php_string(value)
    return ""


def _parse_command(command: str, acc: Accumulators) -> tuple[str, dict[str, Any]]:
    """parse_url($call): the method is the path, the query what follows '?' up to a '#'."""
    command = command.split("#", 1)[0]
    method, _, query = command.partition("?")
    if not php_bool(query):  # `if ($query)`: an empty query and "0" give no parameters
        return method, {}
    params = _resolve(to_json(parse_str(query)), acc)
    if isinstance(params, list):  # positional parameters `0=…&1=…` stay a name -> value map
        params = {str(i): v for i, v in enumerate(params)}
    return method, params


def _resolve(value: Any, acc: Accumulators) -> Any:
    """processBatchStructure: every leaf string gets its references replaced; keys never change."""
    if isinstance(value, dict):
        return {k: _resolve(v, acc) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, acc) for v in value]
    return _substitute(value, acc)


def _substitute(value: str, acc: Accumulators) -> Any:
    """processBatchElement, step by step as the PHP does it."""
    current: Any = value
    for match in _REFERENCE.finditer(value):
        segments = _SEGMENT.findall(match.group(2))
        if not segments:
            continue  # a reference needs at least one [..] segment
        found = _follow(acc.get(match.group(1)), segments)
        if match.group(0) == current:
            # The whole value is one reference: the raw value, arrays included, is passed on.
            current = to_json(found)
            continue
        if isinstance(found, bool) or not isinstance(found, str | int | float):
            continue  # inside a longer value only a string or a number is put in
        replacement = found if isinstance(found, str) else php_string(found)
        if isinstance(current, str):
            current = current.replace(match.group(0), replacement)
    return current


def _follow(node: Any, segments: list[str]) -> Any:
    """Walk the path while `isset($r[$key])`; at a missing or null key, stop where it got to.

    `$arResult[$name]` uses the name as written, so `$RESULT[..]` starts from nothing (null).
    """
    for segment in segments:
        child = _isset_child(node, segment)
        if child is None:
            break
        node = child
    return node


def _isset_child(node: Any, segment: str) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if php_key(key) == php_key(segment):
                return value
        return None
    if isinstance(node, list):
        index = php_key(segment)
        return node[index] if isinstance(index, int) and 0 <= index < len(node) else None
    if isinstance(node, str):
        # A string offset: isset("abc"[1]) is true, negative offsets count from the end.
        offset = _string_offset(segment)
        if offset is not None and -len(node) <= offset < len(node):
            return node[offset]
    return None


def _string_offset(segment: str) -> int | None:
    # Only an integer-like key (surrounding whitespace allowed) is an offset into a string.
    text = segment.strip(" \t\n\r\v\f")
    return int(text) if _INTEGER.fullmatch(text) else None


def _php_array(values: dict[PhpKey, Any]) -> Any:
    """A PHP array as json_encode writes it: keys 0..n-1 in order a list, else an object; empty []."""
    if is_list_keys(list(values)):
        return list(values.values())
    return {str(k): v for k, v in values.items()}
