"""The one module that talks HTTP to a Bitrix24 portal's REST API.

- One pooled requests.Session per process, a timeout on every call, JSON POST bodies.
- Errors become the typed exceptions of b24app.errors, chosen from the `error` field.
- Every request first takes a slot from the shared per-portal limiter (b24app.limiter), and tells
  it how the portal answered (a clean answer lets the burst grow; QUERY_LIMIT_EXCEEDED shrinks it).
- `expired_token` refreshes the token (single flight, see b24app.oauth) and retries once;
  QUERY_LIMIT_EXCEEDED and OPERATION_TIME_LIMIT are retried with backoff and jitter.
- A portal that moved to a new address answers with a redirect: the POST is repeated there
  (never turned into a GET) and the new endpoint is stored, if the new host is a trusted one.

Reading the answers (results, batch parts, list pages) and telling which failures are safe to
repeat is b24app.answers'; its types are importable from here.

Docs: https://apidocs.bitrix24.com/settings/how-to-call-rest-api/general-principles.html
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

from b24app import limiter, trust
from b24app.answers import (
    NOT_SENT,
    BatchResult,
    CallResult,
    Command,
    batch_result,
    command_string,
    connection_refused,
    last_id,
    list_items,
    operating_seen,
    orderable_by_id,
    outcome_unknown,
    parse_answer,
    reads_only,
)
from b24app.batchrefs import BatchSplitError, refuse_cross_references
from b24app.errors import (
    B24Error,
    OperationTimeLimit,
    OutcomeUnknown,
    PortalMoved,
    PortalUnavailable,
    RateLimited,
    TokenExpired,
)

BATCH_LIMIT = 50  # commands per batch (protocol §4.4)
PAGE_SIZE = 50
TIMEOUT = (5.0, 30.0)  # connect, read (seconds); settings.B24_HTTP_TIMEOUT, when set, replaces the read part
USER_AGENT = "DealDesk/1.0 (+https://github.com/)"

_local = threading.local()


def request_timeout() -> tuple[float, float]:
    """(connect, read) timeouts of every request to a portal or the OAuth server."""
    read = float(settings.B24_HTTP_TIMEOUT or 0)
    return (TIMEOUT[0], read) if read > 0 else TIMEOUT


def http_session() -> requests.Session:
    """One pooled session per thread of the process (requests.Session is not thread safe)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        _local.session = session
    return session


@dataclass(frozen=True)
class Grant:
    """What a call needs: a token and the portal's REST base (client_endpoint)."""

    access_token: str
    client_endpoint: str


class TokenSource(Protocol):
    """Supplies tokens to the client; b24app.oauth implements it for portals and users."""

    limiter_key: str

    def current(self) -> Grant: ...

    def refresh(self, stale: Grant) -> Grant: ...

    def moved(self, new_endpoint: str) -> None: ...


class B24Client:
    def __init__(
        self,
        tokens: TokenSource,
        *,
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        trusted_host: Callable[[str], bool] | None = None,
    ) -> None:
        self.tokens = tokens
        self.max_retries = max_retries
        self.sleep = sleep
        # A moved portal is followed only to hosts b24app.trust accepts as portals.
        self.trusted_host = trusted_host or trust.trusted_portal_host
        self.requests_made = 0

    # --- single calls ------------------------------------------------------------------------------

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> CallResult:
        grant = self.tokens.current()
        refreshed = False
        attempt = 0
        while True:
            try:
                return self._send(grant, method, dict(params or {}))
            except TokenExpired:
                if refreshed:
                    raise
                grant = self.tokens.refresh(grant)
                refreshed = True
            except (RateLimited, PortalUnavailable) as exc:
                if outcome_unknown(exc) and not reads_only(method, params):
                    # A write reached the portal and no answer came: it may have been applied.
                    raise OutcomeUnknown(exc.code, exc.description, exc.status) from exc
                attempt += 1
                if attempt > self.max_retries or not self._retryable(exc, method, params):
                    raise
                self.sleep(self._backoff(attempt, exc))

    def result(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.call(method, params).result

    def _retryable(self, exc: B24Error, method: str, params: Mapping[str, Any] | None = None) -> bool:
        if isinstance(exc, RateLimited):
            return True
        # A timeout or 5xx may have run a write on the portal; only reads and requests that
        # never reached it (nothing was sent) are safe to repeat.
        if exc.code in NOT_SENT:
            return True
        return reads_only(method, params)

    @staticmethod
    def _backoff(attempt: int, exc: B24Error) -> float:
        base = exc.retry_after if isinstance(exc, RateLimited) else 0.5
        delay = min(30.0, max(base, 0.5) * (2.0 ** (attempt - 1)))
        return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter keeps workers from retrying in step, not a secret

    def _send(self, grant: Grant, method: str, params: dict[str, Any]) -> CallResult:
        key, limits = self.tokens.limiter_key, _limits()
        limiter.acquire(key, limits)
        url = urljoin(grant.client_endpoint, f"{method}.json")
        body = {**params, "auth": grant.access_token}
        self.requests_made += 1
        response = self._post(url, body)
        try:
            outcome = parse_answer(response, method)
        except RateLimited as exc:
            # The portal's bucket is fuller than the limiter thought (a caller it cannot see):
            # the burst shrinks for a while; call() retries this request, paced again.
            if exc.code == "QUERY_LIMIT_EXCEEDED":
                limiter.refused(key, limits)
            raise
        except PortalUnavailable:
            raise  # no word from the portal's REST server: nothing learnt about its bucket
        except B24Error:
            limiter.answered(key)  # an error answer still passed the bucket
            raise
        limiter.answered(key)
        return outcome

    def _post(self, url: str, body: dict[str, Any]) -> requests.Response:
        try:
            response = http_session().post(url, json=body, timeout=request_timeout(), allow_redirects=False)
        except requests.ConnectTimeout as exc:  # before ConnectionError: it is both
            raise PortalUnavailable("CONNECT_TIMEOUT", "The portal could not be reached") from exc
        except requests.ConnectionError as exc:
            code = "CONNECTION_REFUSED" if connection_refused(exc) else "CONNECTION_ERROR"
            raise PortalUnavailable(code, "The portal could not be reached") from exc
        except requests.Timeout as exc:
            raise PortalUnavailable("TIMEOUT", "The portal did not answer in time") from exc
        if response.status_code in (301, 302, 307, 308) and response.headers.get("Location"):
            return self._follow_move(url, response.headers["Location"], body)
        return response

    def _follow_move(self, url: str, location: str, body: dict[str, Any]) -> requests.Response:
        """The portal changed its address: repeat the POST there and remember the new endpoint."""
        target = urljoin(url, location)
        host = urlsplit(target).netloc
        if not self.trusted_host(host):
            raise PortalMoved("PORTAL_MOVED", f"The portal redirected to an untrusted host {host}")
        endpoint = target[: target.find("/rest/") + len("/rest/")] if "/rest/" in target else target
        self.tokens.moved(endpoint)
        try:
            return http_session().post(target, json=body, timeout=request_timeout(), allow_redirects=False)
        except requests.RequestException as exc:
            raise PortalUnavailable("CONNECTION_ERROR", "The portal could not be reached") from exc

    # --- batches -------------------------------------------------------------------------------------

    def batch(self, commands: Mapping[str, Command], *, halt: bool = False) -> BatchResult:
        """Run commands in as few batch requests as possible (50 each); each error stays its own.

        References never cross requests (bitrix24-batch.md, "Ids"): each request starts with no
        results, and a `$result[key]` left unresolved hands the method an array, which a crm `id`
        reads as 1, deal 1. So commands that refer to a command of an earlier request are refused
        (BatchSplitError) before anything is sent.
        """
        items = list(commands.items())
        chunks = [dict(items[start : start + BATCH_LIMIT]) for start in range(0, len(items), BATCH_LIMIT)]
        refuse_cross_references(chunks)
        merged = BatchResult({}, {}, {}, {})
        for chunk in chunks:
            part = self._batch_once(chunk, halt=halt)
            merged.results.update(part.results)
            merged.errors.update(part.errors)
            merged.totals.update(part.totals)
            merged.nexts.update(part.nexts)
            if halt and part.errors:
                break
        return merged

    def _batch_once(self, commands: Mapping[str, Command], *, halt: bool) -> BatchResult:
        cmd = {key: command_string(method, params) for key, (method, params) in commands.items()}
        outcome = self.call("batch", {"halt": 1 if halt else 0, "cmd": cmd}).result
        return batch_result(outcome)

    # --- lists -----------------------------------------------------------------------------------------

    def list_all(self, method: str, params: Mapping[str, Any] | None = None, *, keyset: bool = True) -> list[Any]:
        """Every item of a list method.

        keyset (the docs' fast method, protocol §4.5): order by ID, `>ID` filter and start=-1 so the
        portal skips counting, with the pages chained inside batches through $result references.
        The first page is read with a count to know how many pages to chain. Otherwise: offset
        pages, fetched 50 pages per batch.
        """
        base = dict(params or {})
        if keyset and orderable_by_id(base):
            return self._list_keyset(method, base)
        return self._list_offset(method, base)

    def _list_offset(self, method: str, base: dict[str, Any]) -> list[Any]:
        first = self.call(method, {**base, "start": 0})
        items = list(list_items(first.result))
        if first.next is None or not first.total:
            return items
        starts = list(range(int(first.next), int(first.total), PAGE_SIZE))
        commands = {f"p{s}": (method, {**base, "start": s}) for s in starts}
        pages = self.batch(commands)
        for s in starts:
            total = pages.totals.get(f"p{s}")
            if total is not None and s >= total:
                # The list shrank meanwhile: a page past the end is page 1 again on Bitrix24, not an
                # empty page (bitrix24-lists.md "Paging"), so it must not be read as more items.
                break
            items.extend(list_items(pages.get(f"p{s}")))
        return items

    def _list_keyset(self, method: str, base: dict[str, Any]) -> list[Any]:
        base = {**base, "order": {"ID": "ASC"}}
        user_filter = dict(base.pop("filter", {}) or {})
        first = self.call(method, {**base, "filter": user_filter, "start": 0})
        items = list(list_items(first.result))
        remaining_pages = -(-max(0, int(first.total or 0) - len(items)) // PAGE_SIZE)
        after_id = last_id(items)
        while after_id is not None and (remaining_pages > 0 or len(items) % PAGE_SIZE == 0):
            count = max(1, min(BATCH_LIMIT, remaining_pages))
            commands: dict[str, str] = {}
            for i in range(count):
                after = str(after_id) if i == 0 else f"$result[k{i - 1}][{PAGE_SIZE - 1}][ID]"
                page_params = {**base, "filter": {**user_filter, ">ID": after}, "start": -1}
                commands[f"k{i}"] = command_string(method, page_params)
            outcome = batch_result(self.call("batch", {"halt": 1, "cmd": commands}).result)
            got_short_page = False
            for i in range(count):
                page = list(list_items(outcome.get(f"k{i}")))
                items.extend(page)
                if len(page) < PAGE_SIZE:
                    got_short_page = True
                    break
            remaining_pages -= count
            after_id = last_id(items) if not got_short_page else None
        return items


def queued_seconds(limiter_key: str) -> float:
    """How long a request with this limiter key (a portal's member_id) would wait now; nothing reserved."""
    return limiter.queued_seconds(limiter_key, _limits())


def _limits() -> limiter.Limits:
    rate = settings.B24_RATE_LIMIT
    bucket = settings.B24_RATE_BUCKET or limiter.documented_bucket(rate)
    return limiter.Limits(rate=rate, burst=settings.B24_RATE_BURST, bucket=bucket)


def oauth_app_info(access_token: str, oauth_rest_url: str) -> dict[str, Any]:
    """app.info on the OAuth server: whose token this is, for which app and portal (protocol §2.6).

    The address comes from settings (b24app.trust), never from the request being verified.
    The token goes form-encoded in the POST body: the form the OAuth server is documented to
    read (`auth=`), kept out of the URL and so out of access logs.
    """
    try:
        response = http_session().post(
            oauth_rest_url + "app.info", data={"auth": access_token}, timeout=request_timeout(), allow_redirects=False
        )
    except requests.RequestException as exc:
        raise PortalUnavailable("OAUTH_UNAVAILABLE", "The OAuth server could not be reached") from exc
    result = parse_answer(response, "app.info").result
    if not isinstance(result, dict):
        raise PortalUnavailable("UNEXPECTED_ANSWER", "app.info answered without an object")
    return result


# What the app imports from here; the answer types are b24app.answers', re-exported so the app
# keeps one module to talk to Bitrix24 through.
__all__ = [
    "BATCH_LIMIT",
    "B24Client",
    "BatchResult",
    "BatchSplitError",
    "CallResult",
    "Command",
    "Grant",
    "OperationTimeLimit",
    "TokenSource",
    "command_string",
    "http_session",
    "oauth_app_info",
    "operating_seen",
    "queued_seconds",
    "request_timeout",
]
