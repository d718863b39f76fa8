"""People on the layout page: finding colleagues by name (for their personal layout) and the
per-portal list of non-administrators allowed on the page (Portal.settings)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

from b24app.models import Portal
from widgets.layouts.catalog import catalog_key, user_name_remember
from widgets.layouts.services import ALLOWED_SETTING, AdminContext, layout_admin_extra_ids, layout_read


@dataclass(frozen=True)
class PortalUser:
    id: int
    name: str
    position: str


def layout_users_find(*, ctx: AdminContext, term: str) -> list[PortalUser]:
    # https://apidocs.bitrix24.com/api-reference/user/user-get.html (FIND: name, last name, e-mail)
    found = layout_read(
        portal=ctx.portal,
        user_id=ctx.user_id,
        client=ctx.client,
        commands={"users": ("user.get", {"FIND": term, "FILTER": {"ACTIVE": "Y"}})},
    ).get("users")
    people = []
    for user in found if isinstance(found, list) else []:
        name = user_name_remember(ctx.portal, user)
        if name:
            people.append(PortalUser(int(user["ID"]), name, str(user.get("WORK_POSITION") or "")))
    return people[:20]


def layout_access_change(*, portal: Portal, add: int | None = None, remove: int | None = None) -> list[int]:
    """Extra user ids allowed on the layout page (Portal.settings), changed under a row lock."""
    with transaction.atomic():
        row = Portal.objects.select_for_update().get(pk=portal.pk)
        ids = layout_admin_extra_ids(portal=row)
        if add is not None and add not in ids:
            ids.append(add)
        if remove is not None and remove in ids:
            ids.remove(remove)
            cache.delete(catalog_key("admin", portal, remove))
        row.settings = {**(row.settings or {}), ALLOWED_SETTING: ids}
        row.save(update_fields=["settings", "updated_at"])
    portal.settings = row.settings
    return ids
