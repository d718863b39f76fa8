"""Runs one REST method for a caller and builds its envelope (result, total, next, time).

Used by the HTTP view and by `batch` for each command. A method runs in one transaction, so an
error leaves nothing half-written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from sandbox.models import Portal
from sandbox.rest import errors, limits
from sandbox.rest.auth import scope_allows
from sandbox.rest.errors import RestError
from sandbox.rest.registry import Call, Caller, ListResult, find_method

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. the commands of a batch, for the log

    @property
    def ok(self) -> bool:
        return "error" not in self.body

    @property
    def error_code(self) -> str:
        return str(self.body.get("error", "")) if not self.ok else ""


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).astimezone().isoformat(timespec="seconds")


def time_block(start: float, finish: float, processing: float, operating: dict[str, Any] | None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "start": start,
        "finish": finish,
        "duration": finish - start,
        "processing": processing,
        "date_start": iso(start),
        "date_finish": iso(finish),
    }
    if operating is not None:
        block.update(operating)
    return block


def operating_key(caller: Caller) -> str:
    return caller.label


def _operating(key: str, method: str, processing: float, finish: float) -> dict[str, Any]:
    """`operating` and `operating_reset_at`, on every answer, batch's included (§3.3, §4.3).

    The outer batch is not counted (each nested call counts for its own method), so its
    `operating` stays 0; its window starts now, as for a method not used in the last 10 minutes.
    """
    if method != "batch":
        limits.add_operating(key, method, processing)
    used, reset_at = limits.operating_state(key, method)
    if reset_at is None:
        reset_at = limits.fresh_reset_at(finish)
    return {"operating_reset_at": reset_at, "operating": round(used, 6)}


def run_method(
    name: str,
    params: dict[str, Any],
    caller: Caller,
    *,
    portal: Portal,
    portal_url: str,
    in_batch: bool = False,
    started: float | None = None,
) -> Outcome:
    start = started if started is not None else time.time()
    spec = find_method(name)
    try:
        if spec is None:
            raise errors.method_not_found()
        if in_batch and not spec.batchable:
            raise RestError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405)
        if spec.app_only and not caller.is_app:
            raise errors.wrong_auth_type()
        if not scope_allows(spec.scope, caller.scopes):
            raise errors.insufficient_scope()
        key = operating_key(caller)
        if spec.name != "batch":
            limits.check_operating(key, spec.name, portal)
        call = Call(method=spec.name, params=params, caller=caller, in_batch=in_batch, portal_url=portal_url)
        processing_start = time.time()
        with transaction.atomic(using="sandbox"):
            value = spec.handler(call)
        finish = time.time()
        processing = finish - processing_start
    except RestError as exc:
        return Outcome(exc.status, exc.body())
    except Exception:
        log.exception("sandbox REST method %s failed", name)
        return Outcome(500, errors.internal().body())

    operating: dict[str, Any] | None = None
    if not in_batch:
        # Inside a batch, result_time entries carry no operating keys (§4.4).
        operating = _operating(key, spec.name, processing, finish)
    elif spec.name != "batch":
        limits.add_operating(key, spec.name, processing)
    body: dict[str, Any] = {}
    if isinstance(value, ListResult):
        body["result"] = value.items
        if value.next is not None:
            body["next"] = value.next
        body["total"] = value.total
    else:
        body["result"] = value
    body["time"] = time_block(start, finish, processing, operating)
    return Outcome(200, body, call.extra)
