"""Card layout admin: who may use it, what the portal holds, and every change made through it.

Admin check (the issue: "checked on the server with user.admin on every request"). Each request
is decided on the server, never by hidden buttons:
- user ids listed in Portal.settings["layout_admin_user_ids"] are let in without asking Bitrix24;
- otherwise a positive `user.admin` answer is remembered for 60 s per portal and user. While it is
  fresh, reads carry `user.admin` inside their own batch (free: the same request), and writes rely
  on it (Bitrix24 still applies the user's own rights to the write: the calls use the user's token);
- when it is not fresh, `user.admin` is asked alone first, so a non-administrator never gets a
  single data call sent on their behalf.
All REST calls use the signed-in user's own token (b24app.oauth.UserTokens).

Every write is one batch that first reads the layout it replaces (`before`, halt=1): when history
does not already end with that layout (nothing recorded yet, or someone changed it in Bitrix24),
it is recorded as a version of its own, so a rollback can always reach the layout as it was.
Methods: https://apidocs.bitrix24.com/api-reference/crm/deals/custom-form/index.html
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils.translation import gettext as _

from b24app.client import B24Client, BatchResult, Command
from b24app.errors import AccessDenied, AuthorizationLost, InvalidToken, OutcomeUnknown
from b24app.events import portal_purged
from b24app.models import Portal, UserToken
from b24app.oauth import OneOffTokens, UserTokens
from widgets.common.placement import PlacementPost, PlacementRefused, user_token_store
from widgets.layouts.batch import (
    GET,
    Target,
    admin_open_commands,
    catalog_commands,
    layout_copy_commands,
    layout_read_commands,
    layout_reset_commands,
    layout_save_commands,
)
from widgets.layouts.catalog import (
    Catalog,
    Funnel,
    catalog_cached,
    catalog_from_api,
    catalog_key,
    catalog_remember,
    user_name,
    user_name_remember,
)
from widgets.layouts.confirm import NOT_FOUND, layout_write_confirm
from widgets.layouts.schema import Layout, LayoutInvalid, layout_check, layout_default, layout_parse, layout_to_api
from widgets.models import LayoutVersion

log = logging.getLogger(__name__)

ALLOWED_SETTING = "layout_admin_user_ids"
ADMIN_TTL = 60


class NotLayoutAdmin(Exception):
    """The user is neither a portal administrator nor on the portal's extra list."""


class UnknownTarget(Exception):
    """A funnel or version that is not there (a stale link or a forged id)."""


# --- who may use the page ----------------------------------------------------------------------------


def layout_admin_extra_ids(*, portal: Portal) -> list[int]:
    raw = (portal.settings or {}).get(ALLOWED_SETTING, [])
    return [int(v) for v in raw if str(v).isdigit()] if isinstance(raw, list) else []


def _admin_fresh(portal: Portal, user_id: int) -> bool:
    return cache.get(catalog_key("admin", portal, user_id)) is True


def _admin_answer(portal: Portal, user_id: int, answer: Any) -> None:
    if answer is True:
        cache.set(catalog_key("admin", portal, user_id), True, ADMIN_TTL)
        return
    cache.delete(catalog_key("admin", portal, user_id))
    raise NotLayoutAdmin(f"user {user_id} is not an administrator")


def layout_admin_require(*, portal: Portal, user_id: int, client: B24Client) -> None:
    """Before a write: allowed without a call when listed or recently confirmed."""
    if user_id in layout_admin_extra_ids(portal=portal) or _admin_fresh(portal, user_id):
        return
    # https://apidocs.bitrix24.com/api-reference/common/users/user-admin.html
    _admin_answer(portal, user_id, client.result("user.admin"))


def layout_read(*, portal: Portal, user_id: int, client: B24Client, commands: dict[str, Command]) -> BatchResult:
    """Reads, with the admin check in the same batch when a positive answer is fresh."""
    empty = BatchResult({}, {}, {}, {})
    if user_id in layout_admin_extra_ids(portal=portal):
        return client.batch(commands) if commands else empty
    if not _admin_fresh(portal, user_id):
        layout_admin_require(portal=portal, user_id=user_id, client=client)
        return client.batch(commands) if commands else empty
    if not commands:
        return empty
    result = client.batch({"admin": ("user.admin", {}), **commands})
    _admin_answer(portal, user_id, result.get("admin"))
    return result


@dataclass(frozen=True)
class AdminContext:
    """One request of an admitted user: their client, the portal's funnels and fields."""

    portal: Portal
    user_id: int
    client: B24Client
    catalog: Catalog
    reads: BatchResult = field(default_factory=lambda: BatchResult({}, {}, {}, {}))

    @property
    def author_name(self) -> str:
        return user_name(self.portal, self.user_id)


def layout_admin_context(
    *, portal: Portal, user_token: UserToken, reads: dict[str, Command] | None = None
) -> AdminContext:
    """Admit the user (NotLayoutAdmin otherwise) and read the catalog plus `reads` in one batch."""
    # A person is waiting: retry once, then show the failure with Retry rather than back off for long.
    client = B24Client(UserTokens(user_token), max_retries=1)
    cached = catalog_cached(portal)
    commands = dict(reads or {})
    if cached is None:
        commands.update(catalog_commands())
    result = layout_read(portal=portal, user_id=user_token.user_id, client=client, commands=commands)
    catalog = cached or catalog_from_api(result.get("categories"), result.get("fields"))
    if cached is None:
        catalog_remember(portal, catalog)
    return AdminContext(portal=portal, user_id=user_token.user_id, client=client, catalog=catalog, reads=result)


# --- the layout of one funnel ------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    catalog: Catalog
    target: Target
    layout: Layout
    saved: bool  # a layout is stored on the portal for exactly this target
    notice: str = ""


def layout_from_api(raw: Any) -> Layout | None:
    """A stored layout as read; None when nothing is stored or it cannot be read at all."""
    if not raw:
        return None
    try:
        return layout_parse(raw)
    except LayoutInvalid as exc:
        log.warning("unreadable stored layout: %s", exc)
        return None


def layout_workspace_load(*, portal: Portal, user_token: UserToken, target: Target) -> Workspace:
    cached = catalog_cached(portal)
    if cached is not None and cached.funnel(target.category_id) is None:
        raise UnknownTarget(f"funnel {target.category_id}")  # known to be gone: ask nothing
    ctx = layout_admin_context(portal=portal, user_token=user_token, reads=layout_read_commands(target))
    return workspace_from_reads(ctx=ctx, target=target)


def workspace_from_reads(*, ctx: AdminContext, target: Target) -> Workspace:
    """The workspace from a batch that read the target's layout under the key "layout"."""
    funnel = ctx.catalog.funnel(target.category_id)
    if funnel is None:
        raise UnknownTarget(f"funnel {target.category_id}")
    stored = ctx.reads.get("layout")
    owners = ctx.reads.results.get("owner")
    if isinstance(owners, list) and owners:
        user_name_remember(ctx.portal, owners[0])
    layout = layout_from_api(stored)
    if layout is not None:
        return Workspace(ctx.catalog, target, layout, saved=True)
    if not target.personal:
        notice = _("No layout saved for this funnel yet: Bitrix24 shows its default.")
        return Workspace(ctx.catalog, target, layout_default(), saved=False, notice=notice)
    common = layout_from_api(ctx.reads.results.get("common"))
    who = user_name(ctx.portal, target.user_id)
    notice = _(
        "%(who)s has no personal layout for %(funnel)s: they see the common layout, shown here to start from."
    ) % {"who": who, "funnel": funnel.name}
    return Workspace(ctx.catalog, target, common or layout_default(), saved=False, notice=notice)


# --- opening the page from the portal ----------------------------------------------------------------


@dataclass(frozen=True)
class AdminOpened:
    user_token: UserToken
    workspace: Workspace


def layout_admin_open(*, post: PlacementPost, portal: Portal) -> AdminOpened:
    """The DEFAULT placement POST: verify AUTH_ID against the STORED endpoint, admit, read, in one batch."""
    client = B24Client(OneOffTokens(post.auth_id, portal.client_endpoint, portal.member_id), max_retries=1)
    try:
        result = client.batch(admin_open_commands())
        me = result.get("me")
        user_id = int(me["ID"])
    except (InvalidToken, AuthorizationLost, AccessDenied, KeyError, TypeError, ValueError) as exc:
        raise PlacementRefused(f"the portal did not accept AUTH_ID: {type(exc).__name__}") from exc
    if user_id not in layout_admin_extra_ids(portal=portal):
        _admin_answer(portal, user_id, result.get("admin"))
    user_name_remember(portal, me)
    token = user_token_store(portal=portal, user_id=user_id, post=post)
    catalog = catalog_from_api(result.get("categories"), result.get("fields"))
    catalog_remember(portal, catalog)
    ctx = AdminContext(portal=portal, user_id=user_id, client=client, catalog=catalog, reads=result)
    target = Target(catalog.default_funnel.id)
    return AdminOpened(token, workspace_from_reads(ctx=ctx, target=target))


# --- versions ----------------------------------------------------------------------------------------


def layout_versions(*, portal: Portal, target: Target, limit: int = 30) -> list[LayoutVersion]:
    rows = LayoutVersion.objects.filter(
        portal=portal, category_id=target.category_id, scope=target.scope, user_id=target.user_id
    )
    return list(rows.order_by("-number")[:limit])


def layout_version_add(
    *, ctx: AdminContext, target: Target, data: list[dict[str, Any]] | None, note: str, outside: bool = False
) -> LayoutVersion:
    """A new version; `outside` ones record a layout found on the portal, made by nobody we know."""
    for attempt in range(3):
        try:
            with transaction.atomic():
                rows = LayoutVersion.objects.select_for_update().filter(
                    portal=ctx.portal, category_id=target.category_id, scope=target.scope, user_id=target.user_id
                )
                last = rows.order_by("-number").first()
                return LayoutVersion.objects.create(
                    portal=ctx.portal,
                    category_id=target.category_id,
                    scope=target.scope,
                    user_id=target.user_id,
                    number=(last.number if last else 0) + 1,
                    layout=data,
                    author_id=0 if outside else ctx.user_id,
                    author_name="" if outside else ctx.author_name,
                    note=note[:200],
                )
        except IntegrityError:
            # Two saves of the same funnel at once took the same number: take the next one.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _normalized(raw: Any) -> list[dict[str, Any]] | None:
    layout = layout_from_api(raw)
    return None if layout is None else layout_to_api(layout)


def _record_before(*, ctx: AdminContext, target: Target, before: Any) -> None:
    """Keep the layout a change replaces, unless history already ends with it."""
    found = _normalized(before)
    last = layout_versions(portal=ctx.portal, target=target, limit=1)
    if last and last[0].layout == found:
        return
    note = "as found in Bitrix24" if not last else "changed outside Deal Desk"
    if found is None and before:
        return  # stored but unreadable: nothing a rollback could send
    layout_version_add(ctx=ctx, target=target, data=found, note=note, outside=True)


def _checked(ctx: AdminContext, layout: Layout) -> list[dict[str, Any]]:
    """The schema's last word before anything is sent (house style rule 20)."""
    return layout_to_api(layout_check(layout_to_api(layout), known_fields=ctx.catalog.known))


def layout_save(
    *, ctx: AdminContext, target: Target, layout: Layout, note: str = "saved", for_everyone: bool = False
) -> LayoutVersion:
    data = _checked(ctx, layout)
    layout_admin_require(portal=ctx.portal, user_id=ctx.user_id, client=ctx.client)
    commands = layout_save_commands(target=target, data=data, for_everyone=for_everyone)
    try:
        result = ctx.client.batch(commands, halt=True)
    except OutcomeUnknown as exc:
        _confirm(ctx, target, data, exc)
        if for_everyone:
            raise  # the layout is there; whether the personal layouts went, one read cannot tell
        with transaction.atomic():
            return layout_version_add(ctx=ctx, target=target, data=data, note=note)
    result.get("set")
    if for_everyone:
        result.get("force")
    with transaction.atomic():
        _record_before(ctx=ctx, target=target, before=result.results.get("before"))
        return layout_version_add(ctx=ctx, target=target, data=data, note=note)


def layout_reset(*, ctx: AdminContext, target: Target, note: str = "reset to the Bitrix24 default") -> LayoutVersion:
    layout_admin_require(portal=ctx.portal, user_id=ctx.user_id, client=ctx.client)
    try:
        result = ctx.client.batch(layout_reset_commands(target), halt=True)
    except OutcomeUnknown as exc:
        _confirm(ctx, target, None, exc)
        with transaction.atomic():
            return layout_version_add(ctx=ctx, target=target, data=None, note=note)
    result.get("reset")
    with transaction.atomic():
        _record_before(ctx=ctx, target=target, before=result.results.get("before"))
        return layout_version_add(ctx=ctx, target=target, data=None, note=note)


def _confirm(ctx: AdminContext, target: Target, sent: list[dict[str, Any]] | None, exc: OutcomeUnknown) -> None:
    """A write went unanswered: one read decides (widgets.layouts.confirm)."""
    last = layout_versions(portal=ctx.portal, target=target, limit=1)
    layout_write_confirm(
        read=lambda: _normalized(ctx.client.result(GET, target.params())),
        sent=sent,
        before=last[0].layout if last else NOT_FOUND,
        exc=exc,
    )


def layout_version_get(*, portal: Portal, version_id: int) -> LayoutVersion:
    version = LayoutVersion.objects.filter(portal=portal, pk=version_id).first()
    if version is None:
        raise UnknownTarget(f"version {version_id}")
    return version


def version_target(version: LayoutVersion) -> Target:
    return Target(version.category_id, version.scope, version.user_id)


def version_layout(version: LayoutVersion) -> Layout:
    """The layout a version stands for: a reset stands for the Bitrix24 default."""
    return layout_from_api(version.layout) or layout_default()


def layout_rollback(*, ctx: AdminContext, version_id: int) -> LayoutVersion:
    version = layout_version_get(portal=ctx.portal, version_id=version_id)
    target = version_target(version)
    note = f"rolled back to version {version.number}"
    if version.layout is None:
        return layout_reset(ctx=ctx, target=target, note=note)
    return layout_save(ctx=ctx, target=target, layout=version_layout(version), note=note)


@dataclass(frozen=True)
class CopyResult:
    copied: list[Funnel]
    failed: list[Funnel]


def layout_copy(*, ctx: AdminContext, source: Funnel, layout: Layout, funnel_ids: list[int]) -> CopyResult:
    """The layout to the common view of other funnels: one batch, each funnel's outcome its own."""
    data = _checked(ctx, layout)
    funnels = [f for f in ctx.catalog.funnels if f.id in set(funnel_ids) and f.id != source.id]
    if not funnels:
        return CopyResult([], [])
    layout_admin_require(portal=ctx.portal, user_id=ctx.user_id, client=ctx.client)
    result = ctx.client.batch(layout_copy_commands(funnel_ids=[f.id for f in funnels], data=data))
    copied, failed = [], []
    for funnel in funnels:
        if f"set{funnel.id}" in result.errors:
            log.warning("copy to funnel %s failed: %s", funnel.id, result.errors[f"set{funnel.id}"])
            failed.append(funnel)
            continue
        with transaction.atomic():
            _record_before(ctx=ctx, target=Target(funnel.id), before=result.results.get(f"before{funnel.id}"))
            layout_version_add(ctx=ctx, target=Target(funnel.id), data=data, note=f"copied from “{source.name}”")
        copied.append(funnel)
    return CopyResult(copied, failed)


@receiver(portal_purged)
def layout_versions_purge(sender: Any, portal: Portal, **kwargs: Any) -> None:
    """ONAPPUNINSTALL with CLEAN=1: the portal asked for its data to go (protocol §1.4)."""
    LayoutVersion.objects.filter(portal=portal).delete()
