"""The REST commands the layout admin sends, in one place: which layout a command addresses
(`Target`), and the batches that read, save, reset and copy it. layouts.services sends them
through b24app.client and records versions; nothing here does HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from b24app.client import Command
from widgets.layouts.catalog import DEAL_TYPE
from widgets.models import LayoutVersion

# https://apidocs.bitrix24.com/api-reference/crm/deals/custom-form/crm-deal-details-configuration-get.html
GET = "crm.deal.details.configuration.get"


# .../crm-deal-details-configuration-set.html: optionFlags is an int on write, a string on read
SET = "crm.deal.details.configuration.set"


# .../crm-deal-details-configuration-reset.html
RESET = "crm.deal.details.configuration.reset"


# .../crm-deal-details-configuration-force-common-scope-for-all.html: deletes personal layouts
FORCE = "crm.deal.details.configuration.forceCommonScopeForAll"


def catalog_commands() -> dict[str, Command]:
    return {
        # https://apidocs.bitrix24.com/api-reference/crm/universal/category/crm-category-list.html
        "categories": ("crm.category.list", {"entityTypeId": DEAL_TYPE}),
        # https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-fields.html
        "fields": ("crm.deal.fields", {}),
    }


@dataclass(frozen=True)
class Target:
    category_id: int
    scope: str = LayoutVersion.Scope.COMMON
    user_id: int = 0  # owner of a personal layout; 0 for the common one

    @property
    def personal(self) -> bool:
        return self.scope == LayoutVersion.Scope.PERSONAL

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"scope": self.scope, "extras": {"dealCategoryId": self.category_id}}
        if self.personal:
            params["userId"] = self.user_id
        return params


def layout_read_commands(target: Target) -> dict[str, Command]:
    """The target's layout; for a personal one also the common layout and the owner's name."""
    reads: dict[str, Command] = {"layout": (GET, target.params())}
    if target.personal:
        reads["common"] = (GET, Target(target.category_id).params())
        reads["owner"] = ("user.get", {"ID": target.user_id})
    return reads


def admin_open_commands() -> dict[str, Command]:
    """The placement POST's one batch: who is asking, are they an admin, funnels, fields, layout."""
    return {
        # https://apidocs.bitrix24.com/api-reference/user/user-current.html
        "me": ("user.current", {}),
        "admin": ("user.admin", {}),
        **catalog_commands(),
        "layout": (GET, {"scope": "C"}),  # no extras: the default funnel's layout
    }


def layout_save_commands(*, target: Target, data: list[dict[str, Any]], for_everyone: bool) -> dict[str, Command]:
    """Read the layout being replaced (for the history), then write; halt=True stops at an error."""
    commands: dict[str, Command] = {"before": (GET, target.params()), "set": (SET, {**target.params(), "data": data})}
    if for_everyone:
        # Everyone sees the common layout from now on: personal layouts of the funnel are deleted.
        commands["force"] = (FORCE, {"extras": {"dealCategoryId": target.category_id}})
    return commands


def layout_reset_commands(target: Target) -> dict[str, Command]:
    return {"before": (GET, target.params()), "reset": (RESET, target.params())}


def layout_copy_commands(*, funnel_ids: list[int], data: list[dict[str, Any]]) -> dict[str, Command]:
    """Each funnel's common layout read and written under its own keys, so each outcome is its own."""
    commands: dict[str, Command] = {}
    for funnel_id in funnel_ids:
        commands[f"before{funnel_id}"] = (GET, Target(funnel_id).params())
        commands[f"set{funnel_id}"] = (SET, {**Target(funnel_id).params(), "data": data})
    return commands
