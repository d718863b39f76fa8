"""What a Bitrix24 REST answer means, for b24app.client (which alone sends the requests).

Reading an answer (a result, an error, a batch's per-command parts, a list page), and telling
which failures are safe to repeat: nothing here opens a connection.

Docs: https://apidocs.bitrix24.com/settings/how-to-call-rest-api/general-principles.html
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3
from django.conf import settings

from b24app import phpform
from b24app.errors import B24Error, PortalUnavailable, error_from

# The client's logger: its warnings (operating time) are read under that name.
log = logging.getLogger("b24app.client")

# PortalUnavailable codes of requests that never reached the portal: safe to repeat, nothing applied.
NOT_SENT = frozenset({"CONNECTION_REFUSED", "CONNECT_TIMEOUT"})
_READ_SUFFIXES = (".get", ".list", ".fields", ".current", ".info", ".admin")


@dataclass(frozen=True)
class CallResult:
    result: Any
    total: int | None = None
    next: int | None = None
    time: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchResult:
    results: dict[str, Any]
    errors: dict[str, B24Error]
    totals: dict[str, int]
    nexts: dict[str, int]

    def get(self, key: str) -> Any:
        """A command's result, or its own error raised."""
        if key in self.errors:
            raise self.errors[key]
        return self.results.get(key)


Command = tuple[str, Mapping[str, Any]]


def command_string(method: str, params: Mapping[str, Any]) -> str:
    query = phpform.encode(dict(params))
    return f"{method}?{query}" if query else method


# --- answers -------------------------------------------------------------------------------------


def parse_answer(response: requests.Response, method: str) -> CallResult:
    """The result of one REST answer, or the typed error it carries."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        # An HTML error page or garbage: the portal (or a proxy before it) is unwell.
        raise PortalUnavailable("UNEXPECTED_ANSWER", f"HTTP {response.status_code} from {method}")
    if "error" in body:
        raise error_from(body, response.status_code)
    if response.status_code >= 500:
        raise PortalUnavailable("UNEXPECTED_ANSWER", f"HTTP {response.status_code} from {method}")
    if "result" not in body:
        raise PortalUnavailable("UNEXPECTED_ANSWER", f"No result from {method}")
    operating = body.get("time", {}).get("operating")
    if isinstance(operating, int | float):
        _note_operating(method, float(operating), body.get("time", {}).get("operating_reset_at"))
    return CallResult(body["result"], body.get("total"), body.get("next"), body.get("time") or {})


def batch_result(outcome: Any) -> BatchResult:
    """A batch answer's result split per command: results, errors, totals and nexts by key."""

    def as_dict(value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        if isinstance(value, list):
            return {str(i): v for i, v in enumerate(value)}
        return {}

    outcome = outcome if isinstance(outcome, dict) else {}
    errors = {k: error_from(v if isinstance(v, dict) else {}) for k, v in as_dict(outcome.get("result_error")).items()}
    return BatchResult(
        results=as_dict(outcome.get("result")),
        errors=errors,
        totals={k: int(v) for k, v in as_dict(outcome.get("result_total")).items()},
        nexts={k: int(v) for k, v in as_dict(outcome.get("result_next")).items()},
    )


# --- list pages ----------------------------------------------------------------------------------


def list_items(result: Any) -> Iterable[Any]:
    """The items of one list page."""
    if isinstance(result, list):
        return result
    if isinstance(result, dict):
        # crm.item.* and crm.category.list wrap their lists: {"items": [...]}, {"categories": [...]}.
        for value in result.values():
            if isinstance(value, list):
                return value
    return []


def last_id(items: list[Any]) -> int | None:
    if not items:
        return None
    try:
        return int(items[-1]["ID"])
    except (KeyError, TypeError, ValueError):
        return None


def orderable_by_id(params: Mapping[str, Any]) -> bool:
    """The list can be read by ID order (keyset paging): no other order, and ID is selected."""
    order = params.get("order") or params.get("ORDER")
    select = params.get("select") or params.get("SELECT")
    if order and list(dict(order)) not in (["ID"],):
        return False
    return not select or "ID" in select or "*" in select


# --- what is safe to repeat ----------------------------------------------------------------------


def reads_only(method: str, params: Mapping[str, Any] | None) -> bool:
    """A batch is a read when every command in it is (opening the deal tab is one such batch)."""
    if method.lower() == "batch":
        return _commands_read_only((params or {}).get("cmd"))
    return method.lower().endswith(_READ_SUFFIXES)


def _commands_read_only(cmd: Any) -> bool:
    commands = cmd.values() if isinstance(cmd, dict) else cmd if isinstance(cmd, list) else []
    names = [str(c).split("?", 1)[0].strip().lower() for c in commands]
    return bool(names) and all(name.endswith(_READ_SUFFIXES) for name in names)


def outcome_unknown(exc: B24Error) -> bool:
    """The request reached the portal (or may have) and no answer says what it did."""
    return isinstance(exc, PortalUnavailable) and exc.code not in NOT_SENT


def connection_refused(exc: requests.ConnectionError) -> bool:
    """Nothing was sent: the connection itself failed (refused, no route, unknown host, TLS)."""
    if isinstance(exc, requests.exceptions.SSLError):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, urllib3.exceptions.NewConnectionError):  # also NameResolutionError
        return True
    text = repr(exc)
    return "refused" in text.lower() or "Errno 111" in text


# --- operating time ------------------------------------------------------------------------------

_operating: dict[str, tuple[float, float | None]] = {}


def _note_operating(method: str, seconds: float, reset_at: Any) -> None:
    """Remember the portal's per-method operating time (time.operating), for pacing and metrics."""
    reset = float(reset_at) if isinstance(reset_at, int | float) else None
    _operating[method] = (seconds, reset)
    if seconds > 0.8 * settings.B24_OPERATING_LIMIT:
        log.warning("method %s used %.0f s of its operating time budget", method, seconds)


def operating_seen(method: str) -> tuple[float, float | None] | None:
    return _operating.get(method)
