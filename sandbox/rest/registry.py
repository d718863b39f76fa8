"""The method table: each REST method is a typed function registered with @rest_method."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.models import AccessToken, App, User, Webhook


@dataclass(frozen=True)
class Caller:
    """Who makes a call: a user through an app's OAuth token or through a webhook."""

    user: User
    scopes: frozenset[str]
    app: App | None = None
    token: AccessToken | None = None
    webhook: Webhook | None = None

    @property
    def is_app(self) -> bool:
        return self.app is not None

    @property
    def label(self) -> str:
        if self.app is not None:
            return self.app.client_id
        if self.webhook is not None:
            return f"webhook:{self.webhook.pk}"
        return "anonymous"


@dataclass(frozen=True)
class ListResult:
    """A list method's answer: `total` and `next` are lifted to the envelope's top level."""

    items: Any
    total: int
    next: int | None = None


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    caller: Caller
    in_batch: bool = False
    portal_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def user(self) -> User:
        return self.caller.user

    def param(self, name: str, default: Any = None) -> Any:
        """Top-level names are case-insensitive in practice (FIELDS / fields / Fields)."""
        if name in self.params:
            return self.params[name]
        wanted = name.lower()
        for key, value in self.params.items():
            if key.lower() == wanted:
                return value
        return default

    def has(self, name: str) -> bool:
        sentinel = object()
        return self.param(name, sentinel) is not sentinel


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class MethodSpec:
    name: str
    handler: Handler
    scope: str
    app_only: bool = False
    batchable: bool = True


METHODS: dict[str, MethodSpec] = {}


def rest_method(
    name: str, *, scope: str, app_only: bool = False, batchable: bool = True
) -> Callable[[Handler], Handler]:
    """Register a method under its lower-case name (Bitrix24 method names are case-insensitive)."""

    def decorate(handler: Handler) -> Handler:
        key = name.lower()
        if key in METHODS:
            raise RuntimeError(f"REST method {name} registered twice")
        METHODS[key] = MethodSpec(name=name, handler=handler, scope=scope, app_only=app_only, batchable=batchable)
        return handler

    return decorate


def find_method(name: str) -> MethodSpec | None:
    return METHODS.get(name.lower())
