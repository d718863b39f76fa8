"""What the browser tests share: a window whose uncaught script errors are kept for the test to read."""

from __future__ import annotations

from typing import Any


def watched_page(chromium: Any) -> Any:
    """A page in a context of its own (1360×1000); its uncaught script errors collect in `page.errors`."""
    context = chromium.new_context(viewport={"width": 1360, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return page
