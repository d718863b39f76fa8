"""REST errors exactly as Bitrix24 sends them: {error, error_description} with its HTTP status.

Sources: bitrix24-protocol.md §3.4–3.5, deals-api-spec.md §2.3–2.4.
"""

from __future__ import annotations

from typing import Any


class RestError(Exception):
    def __init__(self, error: str | int, description: str, status: int = 400, **extra: Any) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description, **self.extra}


def legacy(description: str) -> RestError:
    """Legacy CRM methods answer 400 with an empty error code and the reason in the text."""
    return RestError("", description, 400)


def not_found() -> RestError:
    return legacy("Not found")


def access_denied() -> RestError:
    return legacy("Access denied")


def method_not_found() -> RestError:
    return RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)


def no_auth() -> RestError:
    return RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)


def invalid_token() -> RestError:
    return RestError("invalid_token", "Unable to get application by token", 401)


def application_not_found() -> RestError:
    """Every call with the token of an app that was uninstalled (bitrix24-uninstall.md)."""
    return RestError("APPLICATION_NOT_FOUND", "Application not found", 401)


def expired_token() -> RestError:
    return RestError("expired_token", "The access token provided has expired", 401)


def insufficient_scope() -> RestError:
    return RestError(
        "insufficient_scope", "The request requires higher privileges than provided by the access token", 401
    )


def wrong_auth_type() -> RestError:
    return RestError(
        "WRONG_AUTH_TYPE", "Current authorization type is denied for this method Application context required", 403
    )


def query_limit() -> RestError:
    return RestError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)


def operation_time_limit(method: str) -> RestError:
    return RestError("OPERATION_TIME_LIMIT", f"Method is blocked due to operation time limit: {method}", 429)


def internal() -> RestError:
    return RestError("INTERNAL_SERVER_ERROR", "Internal server error", 500)
