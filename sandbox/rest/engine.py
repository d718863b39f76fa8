"""Errors and parameters of Bitrix24's engine controllers (the crm.item.* family).

An engine error carries its code as sent: a string such as "NOT_FOUND", or a number - 100 for an
argument the autowiring could not bind ("Could not find value for parameter {id}") and 0 for an
error without a code (b24restdocs crm-item-productrow-*.md: `"error": 0`). HTTP status 400.
"""

from __future__ import annotations

from typing import Any

from sandbox.rest.errors import RestError
from sandbox.rest.registry import Call
from sandbox.wire import strict_int


class EngineError(RestError):
    def __init__(self, code: str | int, description: str) -> None:
        super().__init__(code, description, 400)


def param(call: Call, name: str) -> Any:
    value = call.param(name)
    if value is None:
        raise EngineError(100, f"Could not find value for parameter {{{name}}}")
    return value


def shown(value: Any) -> str:
    """A value as PHP prints it in the autowiring's message."""
    if isinstance(value, list | dict):
        return "Array"
    if isinstance(value, bool):
        return "1" if value else ""
    return str(value)


def int_param(call: Call, name: str) -> int:
    value = param(call, name)
    number = strict_int(value)
    if number is None:
        raise EngineError(
            100, f"Invalid value {shown(value)} to match with parameter {{{name}}}. Should be value of type int."
        )
    return number


def str_param(call: Call, name: str) -> str:
    value = param(call, name)
    if isinstance(value, list | dict):
        raise EngineError(
            100, f"Invalid value Array to match with parameter {{{name}}}. Should be value of type string."
        )
    return shown(value)


def array_param(call: Call, name: str) -> Any:
    """An array parameter: a JSON object or list (PHP has one array type for both)."""
    value = param(call, name)
    if not isinstance(value, list | dict):
        raise EngineError(
            100, f"Invalid value {shown(value)} to match with parameter {{{name}}}. Should be value of type array"
        )
    return value
