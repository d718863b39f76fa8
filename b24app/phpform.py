"""PHP-style form keys, the encoding Bitrix24 speaks: `fields[PHONE][0][VALUE]=...`.

`encode` flattens nested params for batch commands and form posts; `decode` rebuilds nested data
from form pairs (events and placement posts arrive this way). Dicts keyed 0..n-1 come back as lists,
as PHP arrays with sequential keys do.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

MAX_DEPTH = 32
_BRACKETS = re.compile(r"\[([^\]]*)\]")


class FormError(ValueError):
    pass


def flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        if not value and prefix:
            pairs.append((prefix, ""))
        for key, child in value.items():
            pairs.extend(flatten(child, f"{prefix}[{key}]" if prefix else str(key)))
    elif isinstance(value, list | tuple):
        if not value and prefix:
            pairs.append((prefix, ""))
        for index, child in enumerate(value):
            pairs.extend(flatten(child, f"{prefix}[{index}]"))
    elif value is None:
        pairs.append((prefix, ""))
    elif isinstance(value, bool):
        pairs.append((prefix, "Y" if value else "N"))
    else:
        pairs.append((prefix, str(value)))
    return pairs


def encode(params: dict[str, Any]) -> str:
    return urlencode(flatten(params))


def decode(query: str) -> dict[str, Any]:
    return build_nested(parse_qsl(query, keep_blank_values=True, max_num_fields=20000))


def build_nested(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        head = raw_key.split("[", 1)[0]
        if not head:
            continue
        parts = [head, *_BRACKETS.findall(raw_key[len(head) :])]
        if len(parts) > MAX_DEPTH:
            raise FormError("Nesting too deep")
        _assign(root, parts, value)
    result = _listify(root)
    return result if isinstance(result, dict) else {}


def _assign(node: dict[str, Any], parts: list[str], value: Any) -> None:
    for index, part in enumerate(parts):
        key = part if part != "" else str(_next_index(node))
        if index == len(parts) - 1:
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
    if not isinstance(value, dict):
        return value
    converted = {k: _listify(v) for k, v in value.items()}
    keys = list(converted)
    if keys and all(k.isdigit() for k in keys) and [int(k) for k in keys] == list(range(len(keys))):
        return [converted[k] for k in keys]
    return converted
