"""Fixtures of the reliability tests (docs/reliability.md).

Two kinds of test live here:
- in-process ones over real HTTP (pytest-django's live_server serving the app and the sandbox
  portal), run on whatever DATABASE_URL/REDIS_URL say: SQLite and local memory by default,
  PostgreSQL and Redis in .ci/run's second pass;
- multi-process ones (@pytest.mark.multiprocess): two gunicorn instances of the app on one
  PostgreSQL and one Redis, with a sandbox process (tests/reliability/cluster.py). They skip,
  with the reason, where PostgreSQL or Redis are not configured.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.portal import fresh_app_cache
from tests.b24app.conftest import Installed, StubHost, installed, stub_host  # noqa: F401 - fixtures
from tests.reliability.cluster import Cluster, multiprocess_unavailable, running_cluster
from tests.reliability.portal import PortalBrowser


@pytest.fixture(autouse=True)
def rel_clean(settings: Any) -> Iterator[None]:
    """A fresh cache (limiter slots, duplicate events, reference data) per test, and pacing that
    never slows an in-process test by itself: the sandbox's member_id is the same in every test."""
    with fresh_app_cache(settings):
        yield


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    reason = multiprocess_unavailable()
    if reason and os.environ.get("DEALDESK_REQUIRE_MULTIPROCESS"):
        pytest.fail(f"DEALDESK_REQUIRE_MULTIPROCESS is set but the multi-process tests cannot run: {reason}")
    if reason:
        pytest.skip(reason)
    with running_cluster() as running:
        admin = PortalBrowser(running.sandbox_url, user=1)
        admin.install(running.a)
        yield running


@pytest.fixture
def fresh_cluster(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster with the portal answering normally, limits off and an empty shared cache."""
    cluster.fault(fault="", delay_ms=0, limits_enabled=False, rate=None, burst=None)
    cluster.redis().flushdb()
    cluster.app_sql("UPDATE b24app_portal SET status = 'installed' WHERE status = 'needs_reauth'")
    yield cluster
    cluster.fault(fault="", delay_ms=0, limits_enabled=False, rate=None, burst=None)
