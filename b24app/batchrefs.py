"""References between the commands of a batch, and the rule that they never cross requests.

A batch request resolves `$result[key]` (and $next, $total, $time, $error) only against the
commands of the same request (bitrix24-batch.md, "References" and "Ids"). b24app.client splits
more than 50 commands into several requests, so it checks here that no command of a later
request refers to one of an earlier request: such a reference would resolve to an array, which a
crm `id` reads as 1, deal 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


class BatchSplitError(ValueError):
    """A programming error: a command refers to the result of a command in an earlier request."""


# A reference: $result, $next, $total, $time or $error (any case), then its [..] path (bitrix24-batch.md).
_REFERENCE = re.compile(r"\$(?:result|next|total|time|error)[^\[\s]*\[([^\]\s]*)\]", re.IGNORECASE)


def _references(value: Any) -> set[str]:
    """The command keys a parameter value refers to, at any depth."""
    if isinstance(value, str):
        return set(_REFERENCE.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(_references(k) | _references(v) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return set().union(*(_references(v) for v in value))
    return set()


def refuse_cross_references(chunks: list[dict[str, tuple[str, Mapping[str, Any]]]]) -> None:
    """Raise BatchSplitError when a command refers to a command of an earlier chunk (request)."""
    earlier: set[str] = set()
    for chunk in chunks:
        for key, (_method, params) in chunk.items():
            crossing = _references(params) & earlier
            if crossing:
                raise BatchSplitError(
                    f"command {key!r} refers to {sorted(crossing)}, sent in an earlier request of this batch"
                )
        earlier.update(chunk)
