"""Bitrix24 errors as a small exception hierarchy, chosen from the `error` field.

The HTTP status is not a reliable signal (QUERY_LIMIT_EXCEEDED is 503, OPERATION_TIME_LIMIT 429,
legacy CRM errors are 400 with an empty code): bitrix24-protocol.md §3.4–3.5 and §9.
"""

from __future__ import annotations

from typing import Any


class B24Error(Exception):
    """Any failure talking to a portal. `permanent` means retrying the same call will not help."""

    permanent = True

    def __init__(self, code: str = "", description: str = "", status: int | None = None) -> None:
        super().__init__(f"{code or 'error'}: {description}" if description else code or "Bitrix24 error")
        self.code = code
        self.description = description
        self.status = status


class TokenExpired(B24Error):
    permanent = False


class InvalidToken(B24Error):
    """The token is unknown or the app no longer installed: refreshing will not help."""


class AuthorizationLost(B24Error):
    """The refresh token was refused (invalid_grant): an administrator must authorize again."""


class AccessDenied(B24Error):
    pass


class NotFound(B24Error):
    pass


class MethodNotFound(B24Error):
    pass


class InvalidArgument(B24Error):
    pass


class RateLimited(B24Error):
    permanent = False

    def __init__(self, code: str = "", description: str = "", status: int | None = None, retry_after: float = 1.0):
        super().__init__(code, description, status)
        self.retry_after = retry_after


class OperationTimeLimit(RateLimited):
    pass


class PortalUnavailable(B24Error):
    """Timeouts, refused connections, 5xx and HTML error pages."""

    permanent = False


class OutcomeUnknown(PortalUnavailable):
    """A write was sent and no answer came (a read timeout, a dropped connection, a 5xx page).

    The portal may have applied it, in full or not at all: the caller must read the portal again
    before it says anything about what was saved. Not raised when nothing reached the portal
    (a refused connection, a connect timeout) nor when the portal answered with an error.
    """


class PortalMoved(B24Error):
    """The portal answered with a redirect to a host we do not trust."""


_BY_CODE: dict[str, type[B24Error]] = {
    "expired_token": TokenExpired,
    "invalid_token": InvalidToken,
    "NO_AUTH_FOUND": InvalidToken,
    "ERROR_OAUTH": InvalidToken,
    "APPLICATION_NOT_FOUND": InvalidToken,
    "authorization_error": InvalidToken,
    "invalid_grant": AuthorizationLost,
    "NOT_INSTALLED": AuthorizationLost,
    "ACCESS_DENIED": AccessDenied,
    "insufficient_scope": AccessDenied,
    "user_access_error": AccessDenied,
    "INVALID_CREDENTIALS": AccessDenied,
    "WRONG_AUTH_TYPE": AccessDenied,
    "NOT_FOUND": NotFound,
    "OWNER_NOT_FOUND": NotFound,
    "ERROR_METHOD_NOT_FOUND": MethodNotFound,
    "QUERY_LIMIT_EXCEEDED": RateLimited,
    "OVERLOAD_LIMIT": RateLimited,
    "OPERATION_TIME_LIMIT": OperationTimeLimit,
    "INTERNAL_SERVER_ERROR": PortalUnavailable,
    "ERROR_UNEXPECTED_ANSWER": PortalUnavailable,
    "PORTAL_DELETED": InvalidToken,
}

# Legacy CRM methods send an empty code and put the reason in the text (protocol §3.4).
_BY_LEGACY_TEXT: list[tuple[str, type[B24Error]]] = [
    ("access denied", AccessDenied),
    ("not found", NotFound),
]


def error_from(body: dict[str, Any], status: int | None = None) -> B24Error:
    code = str(body.get("error", "") or "")
    description = str(body.get("error_description", "") or "")
    cls = _BY_CODE.get(code)
    if cls is None and not code:
        lowered = description.lower()
        cls = next((c for text, c in _BY_LEGACY_TEXT if lowered.startswith(text)), None)
    return (cls or InvalidArgument)(code, description, status)
