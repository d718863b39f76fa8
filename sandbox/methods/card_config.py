"""Deal card configuration: crm.deal.details.configuration.* and crm.item.details.configuration.*.

Sources: bitrix24-protocol.md §8, deals-api-spec.md §8 and A.3; behaviour as the portal's
`CCrmEntityEditorRestProxy` + `EntityEditorConfig`: `scope` is "C" exactly or else personal,
`userId` (only in its own spellings) <= 0 means the caller, `extras.dealCategoryId` names the
funnel without a check that it exists, a missing layout reads as null; rights come before the data.
Layouts are stored per (funnel, scope, user) in CardConfig; validation lives in sandbox.card_layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.card_layout import LayoutError, prepare_layout, stored_layout
from sandbox.methods.deal_contacts import php_int
from sandbox.models import CardConfig
from sandbox.permissions import can_manage_settings
from sandbox.rest.errors import RestError, legacy
from sandbox.rest.registry import Call, rest_method
from sandbox.wire import parse_int

DEAL_TYPE_ID = 2

# CCrmOwnerType names, for "The entity type '…' is not supported in current context."
_OWNER_TYPE_NAMES = {
    1: "LEAD",
    2: "DEAL",
    3: "CONTACT",
    4: "COMPANY",
    5: "INVOICE",
    7: "QUOTE",
    8: "REQUISITE",
    14: "ORDER",
    31: "SMART_INVOICE",
    36: "SMART_DOCUMENT",
}


@dataclass(frozen=True)
class Target:
    """Which stored layout a call addresses."""

    category_id: int
    scope: str
    user_id: int

    @property
    def owner(self) -> int | None:
        return self.user_id if self.scope == CardConfig.Scope.PERSONAL else None


def access_denied() -> RestError:
    # The editor proxy's own text, with the period (not the CRUD methods' "Access denied").
    return legacy("Access denied.")


CATEGORY_ID_MAX = 2**31 - 1  # the sandbox's storage column; far above any real funnel id


def _spellings(name: str) -> tuple[str, ...]:
    """CCrmRestHelper::resolveParamName tries the name as written, lower-case, upper-case and with a
    capital first letter: userId, userid, USERID, UserId. USER_ID and user_id are other names."""
    return (name, name.lower(), name.upper(), name[:1].upper() + name[1:])


def _lookup(params: Any, *names: str) -> Any:
    if not isinstance(params, dict):
        return None
    for name in names:
        if name in params:
            return params[name]
    return None


def _target(call: Call) -> Target:
    # A missing, non-positive or differently spelled userId is the caller (bitrix24-cardconfig.md).
    user_id = php_int(_lookup(call.params, *_spellings("userId")))
    if user_id <= 0:
        user_id = call.user.pk
    # Only an exact "C" selects the common view; anything else, "c" included, is personal.
    scope = CardConfig.Scope.COMMON if call.param("scope") == "C" else CardConfig.Scope.PERSONAL
    # EntityEditorConfig reads extras[dealCategoryId] or extras[DEAL_CATEGORY_ID] only; <= 0 is the
    # default funnel, and the core never checks that the funnel exists (bitrix24-cardconfig.md).
    category_id = php_int(_lookup(call.param("extras"), "dealCategoryId", "DEAL_CATEGORY_ID"))
    if category_id < 0:
        category_id = 0
    if category_id > CATEGORY_ID_MAX:
        raise legacy(f"The deal category ID must not exceed {CATEGORY_ID_MAX}.")
    return Target(category_id=category_id, scope=scope, user_id=user_id)


def _may_touch_personal(call: Call, target: Target) -> bool:
    # EntityEditorConfig::canDoOperation: your own view, or anyone's with "edit other settings".
    return target.user_id == call.user.pk or can_manage_settings(call.user)


def _may_get(call: Call, target: Target) -> bool:
    if target.scope == CardConfig.Scope.COMMON:
        return True  # any user reads the common view
    return _may_touch_personal(call, target)


def _may_write(call: Call, target: Target) -> bool:
    if target.scope == CardConfig.Scope.COMMON:
        return can_manage_settings(call.user)
    return _may_touch_personal(call, target)


def configuration_get(call: Call) -> list[dict[str, Any]] | None:
    target = _target(call)
    if not _may_get(call, target):
        raise access_denied()
    return stored_layout(category_id=target.category_id, scope=target.scope, user_id=target.owner)


def configuration_set(call: Call) -> bool:
    target = _target(call)
    if not _may_write(call, target):
        raise access_denied()
    try:
        data = prepare_layout(call.param("data"))
    except LayoutError as exc:
        raise legacy(exc.message) from exc
    CardConfig.objects.update_or_create(
        category_id=target.category_id, scope=target.scope, user_id=target.owner, defaults={"data": data}
    )
    return True


def configuration_reset(call: Call) -> bool:
    target = _target(call)
    if not _may_write(call, target):
        raise access_denied()
    CardConfig.objects.filter(category_id=target.category_id, scope=target.scope, user_id=target.owner).delete()
    return True


def configuration_force_common(call: Call) -> bool:
    target = _target(call)
    if not can_manage_settings(call.user):
        raise access_denied()
    # Everyone now sees the common view: the personal layouts of this funnel are deleted.
    CardConfig.objects.filter(category_id=target.category_id, scope=CardConfig.Scope.PERSONAL).delete()
    return True


# --- crm.deal.details.configuration.* (deprecated, still served) ----------------------------------


@rest_method("crm.deal.details.configuration.get", scope="crm")
def deal_configuration_get(call: Call) -> list[dict[str, Any]] | None:
    return configuration_get(call)


@rest_method("crm.deal.details.configuration.set", scope="crm")
def deal_configuration_set(call: Call) -> bool:
    return configuration_set(call)


@rest_method("crm.deal.details.configuration.reset", scope="crm")
def deal_configuration_reset(call: Call) -> bool:
    return configuration_reset(call)


@rest_method("crm.deal.details.configuration.forceCommonScopeForAll", scope="crm")
def deal_configuration_force_common(call: Call) -> bool:
    return configuration_force_common(call)


# --- crm.item.details.configuration.* (entityTypeId 2 only) ---------------------------------------


def _possible_dynamic(type_id: int) -> bool:
    # CCrmOwnerType::isPossibleDynamicTypeId: smart processes get 128..191, then even ids from 1030.
    return 128 <= type_id < 192 or (type_id >= 1030 and type_id % 2 == 0)


def _require_deal_type(call: Call) -> None:
    """Only deals have cards in the sandbox; other known types are "not supported", as the proxy says."""
    type_id = parse_int(call.param("entityTypeId"))
    if type_id is None or type_id <= 0:
        raise legacy("Parameter 'entityTypeId' is not defined")
    if type_id == DEAL_TYPE_ID:
        return
    name = _OWNER_TYPE_NAMES.get(type_id) or (f"DYNAMIC_{type_id}" if _possible_dynamic(type_id) else None)
    if name is None:
        raise legacy("Parameter 'entityTypeId' is not defined")
    raise legacy(f"The entity type '{name}' is not supported in current context.")


@rest_method("crm.item.details.configuration.get", scope="crm")
def item_configuration_get(call: Call) -> list[dict[str, Any]] | None:
    _require_deal_type(call)
    return configuration_get(call)


@rest_method("crm.item.details.configuration.set", scope="crm")
def item_configuration_set(call: Call) -> bool:
    _require_deal_type(call)
    return configuration_set(call)


@rest_method("crm.item.details.configuration.reset", scope="crm")
def item_configuration_reset(call: Call) -> bool:
    _require_deal_type(call)
    return configuration_reset(call)


@rest_method("crm.item.details.configuration.forceCommonScopeForAll", scope="crm")
def item_configuration_force_common(call: Call) -> bool:
    _require_deal_type(call)
    return configuration_force_common(call)
