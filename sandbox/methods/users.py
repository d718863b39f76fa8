"""Identity methods: user.current, user.get, user.admin, profile; and scope/methods listings."""

from __future__ import annotations

from typing import Any

from sandbox.models import User
from sandbox.rest.errors import RestError
from sandbox.rest.registry import METHODS, Call, ListResult, rest_method

PAGE = 50


def user_json(user: User) -> dict[str, Any]:
    """User fields as user.get returns them: ids as strings, ACTIVE a boolean, UF_DEPARTMENT ints."""
    return {
        "ID": str(user.pk),
        "XML_ID": "",
        "ACTIVE": user.active,
        "NAME": user.name,
        "LAST_NAME": user.last_name,
        "SECOND_NAME": user.second_name,
        "EMAIL": user.email,
        "LAST_LOGIN": user.last_login.isoformat() if user.last_login else "",
        "DATE_REGISTER": user.date_register.isoformat(),
        "IS_ONLINE": "N",
        "TIME_ZONE": user.time_zone,
        "TIME_ZONE_OFFSET": "0",
        "PERSONAL_GENDER": user.personal_gender,
        "PERSONAL_BIRTHDAY": "",
        "WORK_POSITION": user.work_position,
        "UF_EMPLOYMENT_DATE": "",
        "UF_DEPARTMENT": list(user.department_ids),
        "USER_TYPE": "employee",
    }


@rest_method("user.current", scope="user")
def user_current(call: Call) -> dict[str, Any]:
    return user_json(call.user)


@rest_method("user.admin", scope="basic")
def user_admin(call: Call) -> bool:
    return call.user.is_admin


@rest_method("profile", scope="basic")
def profile(call: Call) -> dict[str, Any]:
    user = call.user
    if not user.active:
        return {}
    return {
        "ID": str(user.pk),
        "ADMIN": user.is_admin,
        "NAME": user.name,
        "LAST_NAME": user.last_name,
        "PERSONAL_GENDER": user.personal_gender,
        "TIME_ZONE": user.time_zone,
        "TIME_ZONE_OFFSET": 0,
    }


_USER_FILTERS = {"ID": "pk", "ACTIVE": "active", "NAME": "name", "LAST_NAME": "last_name", "EMAIL": "email"}


@rest_method("user.get", scope="user")
def user_get(call: Call) -> ListResult:
    """user.get: filter by fields (FILTER or top-level keys), FIND for a name search, 50 a page."""
    raw_filter = call.param("FILTER")
    if raw_filter is None:
        raw_filter = {k: v for k, v in call.params.items() if k.upper() in _USER_FILTERS}
    if not isinstance(raw_filter, dict):
        raise RestError("", "Parameter 'FILTER' must be array.", 400)
    users = User.objects.all()
    for key, value in raw_filter.items():
        name = key.lstrip("=!%<>@").upper()
        field = _USER_FILTERS.get(name)
        if field is None:
            continue
        if field == "active":
            users = users.filter(active=str(value).lower() in ("y", "true", "1"))
        elif key.startswith("%"):
            users = users.filter(**{f"{field}__icontains": value})
        elif isinstance(value, list):
            users = users.filter(**{f"{field}__in": value})
        else:
            users = users.filter(**{field: value})
    find = call.param("FIND")
    if isinstance(find, str) and find.strip():
        term = find.strip()
        users = [u for u in users if term.lower() in f"{u.name} {u.last_name} {u.email}".lower()]  # type: ignore[assignment]
    rows = list(users)
    start = _start(call.param("start"))
    page = rows[start : start + PAGE]
    nxt = start + PAGE if start + PAGE < len(rows) else None
    return ListResult([user_json(u) for u in page], len(rows), nxt)


def _start(raw: Any) -> int:
    try:
        return max(0, int(raw))
    except (TypeError, ValueError):
        return 0


@rest_method("scope", scope="basic")
def scope(call: Call) -> list[str]:
    if str(call.param("full", "")).lower() in ("1", "true", "y"):
        return sorted({spec.scope for spec in METHODS.values() if spec.scope != "basic"})
    return sorted(call.caller.scopes)


@rest_method("methods", scope="basic")
def methods(call: Call) -> list[str]:
    wanted = call.param("scope")
    full = str(call.param("full", "")).lower() in ("1", "true", "y")
    names = []
    for key, spec in sorted(METHODS.items()):
        if wanted and spec.scope != wanted:
            continue
        if not full and not (spec.scope == "basic" or spec.scope in call.caller.scopes):
            continue
        names.append(key)
    return names
