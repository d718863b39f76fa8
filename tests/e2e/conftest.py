"""Fixtures of the browser tests: a watched window, and the app's caches fresh for each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtools.portal import fresh_app_cache
from tests.e2e.browser import watched_page


@pytest.fixture
def window(chromium: Any) -> Iterator[Any]:
    page = watched_page(chromium)
    yield page
    page.context.close()


@pytest.fixture
def fresh(settings: Any) -> Iterator[None]:
    with fresh_app_cache(settings):
        yield
