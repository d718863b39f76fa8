"""Only administrators (and the people they add) use the layout page: on every endpoint, on the
server, and nothing is sent to Bitrix24 for anyone else but the one question "are you an admin?"."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.cache import cache

from tests.widgets.layout_support import (  # noqa: F401 - fixtures
    AdminPage,
    Installed,
    admin_fixture,
    clean_cache,
    installed_fixture,
    last_call_id,
    open_admin,
    page_as,
    portal_calls,
    stored_layout,
)

LAYOUT = json.dumps(
    [{"name": "main", "title": "About the deal", "type": "section", "elements": [{"name": "TITLE", "optionFlags": 0}]}]
)
STATE = {"category": "0", "layout": LAYOUT, "baseline": ""}


def versions() -> tuple[int, int]:
    """Two versions in the history to compare and roll back to."""
    from b24app.models import Portal
    from widgets.models import LayoutVersion

    portal = Portal.objects.get()
    rows = [
        LayoutVersion.objects.create(
            portal=portal, category_id=0, scope="C", number=n, layout=json.loads(LAYOUT), author_id=1, note="saved"
        )
        for n in (1, 2)
    ]
    return rows[0].pk, rows[1].pk


def endpoints(first: int, second: int) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "layout_page": ("GET", {"category": "1"}),
        "layout_edit": ("POST", {**STATE, "op": "field_up:0:0"}),
        "layout_save": ("POST", {**STATE, "action": "save"}),
        "layout_copy": ("POST", {**STATE, "funnels": "1"}),
        "layout_import": ("POST", {"category": "0", "text": LAYOUT}),
        "layout_export": ("GET", {"category": "0"}),
        "layout_diff": ("GET", {"a": first, "b": second}),
        "layout_rollback": ("POST", {"version": first}),
        "layout_users": ("GET", {"q": "anna"}),
        "layout_access": ("POST", {"add": "3"}),
    }


def test_every_layout_endpoint_is_covered_here() -> None:
    from django.urls import URLPattern

    from widgets.layouts.urls import urlpatterns

    # The entry and its fill are opened by the portal's POST (and a one-time opening token), not a widget token.
    names = {p.name for p in urlpatterns if isinstance(p, URLPattern)} - {"layout_home", "layout_open"}
    assert names == set(endpoints(1, 2))


def call(page: AdminPage, name: str, method: str, data: dict[str, Any], *, htmx: bool) -> Any:
    return page.get(name, data, htmx=htmx) if method == "GET" else page.post(name, data, htmx=htmx)


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "full page"])
@pytest.mark.parametrize("name", sorted(endpoints(1, 2)))
def test_a_sales_rep_is_refused_on_every_endpoint_and_nothing_else_reaches_bitrix24(
    installed: Installed, name: str, htmx: bool
) -> None:
    from b24app.models import Portal
    from sandbox.models import CardConfig
    from widgets.models import LayoutVersion

    first, second = versions()
    method, data = endpoints(first, second)[name]
    rep = page_as(installed, user=3)
    stored, count = list(CardConfig.objects.values_list("data", flat=True)), LayoutVersion.objects.count()
    before = last_call_id()
    response = call(rep, name, method, data, htmx=htmx)
    assert response.status_code == 403
    assert "Please ask your Bitrix24 administrator" in response.text
    if htmx:
        assert "<html" not in response.text
        assert response.headers["X-Layout-Refused"] == "1"
        assert response.headers["HX-Retarget"] == "#workspace"
    else:
        assert "<html" in response.text
    assert [c.method for c in portal_calls(before)] == ["user.admin"]
    assert list(CardConfig.objects.values_list("data", flat=True)) == stored
    assert LayoutVersion.objects.count() == count
    assert Portal.objects.get().settings.get("layout_admin_user_ids") is None


def test_a_deal_tab_token_does_not_open_the_layout_page(installed: Installed) -> None:
    tab = page_as(installed, user=1, purpose="tab")
    before = last_call_id()
    response = tab.get("layout_page", {"category": 0})
    assert response.status_code == 403 and response.text == "Forbidden"
    assert portal_calls(before) == []


def test_an_administrator_who_lost_the_role_is_refused_by_the_next_read(admin: AdminPage) -> None:
    from sandbox.models import User

    User.objects.filter(pk=1).update(role=User.Role.MANAGER)
    response = admin.get("layout_page", {"category": 1})
    assert response.status_code == 403
    assert "Please ask your Bitrix24 administrator" in response.text


def test_a_write_a_minute_after_the_last_check_asks_user_admin_first(admin: AdminPage) -> None:
    from b24app.models import Portal

    cache.delete(f"layout:admin:{Portal.objects.get().pk}:1")
    before = last_call_id()
    response = admin.post("layout_save", {**STATE, "action": "save"})
    assert response.status_code == 200
    calls = portal_calls(before)
    assert [c.method for c in calls] == ["user.admin", "batch"]
    assert calls[1].batch_methods == ["crm.deal.details.configuration.get", "crm.deal.details.configuration.set"]


def test_an_administrator_adds_and_removes_people_allowed_on_the_page(admin: AdminPage) -> None:
    from b24app.models import Portal

    added = admin.post("layout_access", {"add": "3", "category": "0"})
    assert added.status_code == 200
    assert "Saved: the list of people allowed on this page." in added.text
    assert Portal.objects.get().settings["layout_admin_user_ids"] == [3]
    rep = open_admin(admin.sandbox, user=3)
    assert rep.response.status_code == 200
    assert "Sales funnels" in rep.response.text
    refused = rep.post("layout_access", {"add": "4"})
    assert refused.status_code == 403  # the list never extends itself
    admin.post("layout_access", {"remove": "3", "category": "0"})
    assert Portal.objects.get().settings["layout_admin_user_ids"] == []
    assert "Please ask your Bitrix24 administrator" in open_admin(admin.sandbox, user=3).response.text


def test_a_person_on_the_list_is_still_bound_by_their_bitrix24_rights(admin: AdminPage) -> None:
    admin.post("layout_access", {"add": "3", "category": "0"})
    rep = open_admin(admin.sandbox, user=3)
    response = rep.post("layout_save", {**STATE, "action": "save"})
    assert response.status_code == 200
    assert "Bitrix24 refused: your account may not change this layout." in response.text
    assert ">Retry</button>" in response.text
    assert [s["title"] for s in stored_layout(0) or []] == ["About the deal", "More", "Products"]
