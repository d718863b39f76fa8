"""Fixtures of the deal tab tests (helpers in tests/widgets/tab_support.py).

Names are prefixed with `tab_` and nothing is autouse, so the other widget tests (the layout page,
whose helpers live in layout_support.py) are not affected by them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtools.portal import fresh_app_cache
from tests.conftest import SandboxPortal
from tests.widgets.tab_support import install


@pytest.fixture
def tab_clean(settings: Any) -> Iterator[None]:
    """Fresh reference data, read-only memory and limiter slots per test (the sandbox's member_id
    is the same in every test), and pacing that never slows a test by itself."""
    with fresh_app_cache(settings):
        yield


@pytest.fixture
def tab_portal(sandbox: SandboxPortal, tab_clean: None) -> Any:
    """Deal Desk installed on the sandbox portal (the b24app Portal row)."""
    return install(sandbox)
