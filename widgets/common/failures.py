"""What happened, in a person's words, when Bitrix24 did not do what was asked.

An error page answered at once (a 502 or 503 from the portal's proxy) is not a timeout, and a busy
portal (QUERY_LIMIT_EXCEEDED) is neither: each is said as it is, so a person knows whether
waiting helps. Never the exception's own text (it may hold addresses or tokens).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from b24app.errors import B24Error, PortalUnavailable, RateLimited

TIMEOUTS = frozenset({"TIMEOUT", "CONNECT_TIMEOUT"})
UNREACHABLE = frozenset({"CONNECTION_REFUSED", "CONNECTION_ERROR"})


def failure_reason(exc: B24Error) -> str:
    """One sentence naming what went wrong with the portal."""
    if isinstance(exc, RateLimited):
        return _("Bitrix24 is busy: it is answering too many requests right now.")
    if isinstance(exc, PortalUnavailable):
        if exc.code in TIMEOUTS:
            return _("Bitrix24 did not answer in time.")
        if exc.code in UNREACHABLE:
            return _("Bitrix24 could not be reached.")
        return _("Bitrix24 answered with an error page: it may be restarting or overloaded.")
    return _("Bitrix24 did not accept the request.")
