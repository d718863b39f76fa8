"""The app platform's own methods: app.info, app.option.* and placement.* (event.* in app_events.py).

Behaviour follows bitrix24-protocol.md §5.1, §6.1 and §7.7, checked against the portal's source
(modules/rest/lib/api/placement.php, api/event.php, classes/general/rest_provider.php):
the order of checks, the error codes and texts, and the quirks (placement.unbind's doubled
count, app.option.get's `[]` for no options, PHP's loose truthiness of FULL) are the server's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sandbox.models import App, PlacementBinding
from sandbox.portal import get_portal
from sandbox.rest.errors import RestError, wrong_auth_type
from sandbox.rest.registry import Call, rest_method

GLOBAL = "_global"  # CRestUtil::GLOBAL_SCOPE: methods, events and placements every app has
DEFAULT_LANG = "en"
AUTH_PARAMS = ("auth", "access_token")  # the portal strips these before a method sees its query
LANG_FIELDS = ("TITLE", "DESCRIPTION", "GROUP_NAME")
MAX_URL = 500  # PlacementBinding.handler / EventBinding.handler


@dataclass(frozen=True)
class PlacementInfo:
    scope: str
    max_count: int = 0  # 0 = unlimited
    user_mode: bool = False  # USER_ID allowed (PAGE_BACKGROUND_WORKER only)


def _crm_placements(entity: str) -> dict[str, PlacementInfo]:
    suffixes = ("DETAIL_TAB", "DETAIL_TOOLBAR", "DETAIL_ACTIVITY", "LIST_MENU", "LIST_TOOLBAR")
    return {f"CRM_{entity}_{suffix}": PlacementInfo("crm") for suffix in suffixes}


# Placement codes per scope (api-reference/widgets/*.md). DEFAULT is the app's own page and is
# never bindable; REST_APP_URI allows one handler per app (rest_provider.php, max_count 1).
PLACEMENTS: dict[str, PlacementInfo] = {
    "REST_APP_URI": PlacementInfo(GLOBAL, max_count=1),
    "LEFT_MENU": PlacementInfo(GLOBAL),
    "PAGE_BACKGROUND_WORKER": PlacementInfo(GLOBAL, max_count=1, user_mode=True),
    **_crm_placements("DEAL"),
    "CRM_DEAL_ACTIVITY_TIMELINE_MENU": PlacementInfo("crm"),
    **_crm_placements("CONTACT"),
}

# Events per scope (api-reference/events/events.md). ONOFFLINEEVENT cannot be bound offline.
GLOBAL_EVENTS = "ONAPPUNINSTALL ONAPPINSTALL ONAPPUPDATE ONAPPPAYMENT ONAPPTEST ONAPPMETHODCONFIRM ONOFFLINEEVENT"
CRM_EVENTS = (
    "ONCRMDEALADD ONCRMDEALUPDATE ONCRMDEALDELETE ONCRMDEALMOVETOCATEGORY"
    " ONCRMCONTACTADD ONCRMCONTACTUPDATE ONCRMCONTACTDELETE"
    " ONCRMDEALUSERFIELDADD ONCRMDEALUSERFIELDUPDATE ONCRMDEALUSERFIELDDELETE ONCRMDEALUSERFIELDSETENUMVALUES"
)
EVENTS: dict[str, str] = {**dict.fromkeys(GLOBAL_EVENTS.split(), GLOBAL), **dict.fromkeys(CRM_EVENTS.split(), "crm")}
ONLINE_ONLY_EVENTS = frozenset({"ONOFFLINEEVENT"})


# --- errors and small PHP-isms ---------------------------------------------------------------


def access_denied(detail: str = "") -> RestError:
    """Bitrix\\Rest\\AccessException: 403 ACCESS_DENIED "Access denied!" plus an optional detail."""
    return RestError("ACCESS_DENIED", f"Access denied! {detail}".strip(), 403)


def argument_null(name: str) -> RestError:
    return RestError("ERROR_ARGUMENT", f"Argument '{name}' is null or empty", 400, argument=name)


def argument_error(message: str, name: str) -> RestError:
    return RestError("ERROR_ARGUMENT", message, 400, argument=name)


def php_truthy(value: Any) -> bool:
    """`$query['FULL'] == true`: any non-empty string but "0" is true, "false" included."""
    return value not in (None, False, 0, "", "0", [], {})


def php_intval(value: Any) -> int:
    """PHP intval(): leading digits of a string, 0 for anything else."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    text = str(value).strip() if isinstance(value, (str, float)) else ""
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    prefix = ""
    for char in digits:
        if not char.isdigit():
            break
        prefix += char
    return sign * int(prefix) if prefix else 0


def text_param(call: Call, name: str) -> str:
    value = call.param(name)
    return value.strip() if isinstance(value, str) else ""


def check_handler_url(url: str) -> None:
    """HandlerHelper::checkCallback: a host containing a dot (not first), then http(s) only.

    Longer URLs than the sandbox stores are refused the same way rather than cut.
    """
    if len(url) > MAX_URL:
        raise RestError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL", 400)
    try:
        scheme, host = urlsplit(url).scheme, urlsplit(url).hostname or ""
    except ValueError:
        scheme, host = "", ""
    if host.find(".") <= 0:
        raise RestError("ERROR_WRONG_HANDLER_URL", "Wrong handler URL", 400)
    if scheme not in ("http", "https"):
        raise RestError("ERROR_UNSUPPORTED_PROTOCOL", "Unsupported handler protocol", 400)


def require_app(call: Call) -> App:
    app = call.caller.app
    if app is None:  # app_only methods never get here without an app; kept for the type checker
        raise wrong_auth_type()
    return app


def granted_scopes(call: Call) -> set[str]:
    return {*call.caller.scopes, GLOBAL}


def listed_scopes(call: Call) -> set[str] | None:
    """SCOPE / FULL of placement.list and events; None means every scope."""
    if call.has("SCOPE"):
        scope = call.param("SCOPE")
        # An empty SCOPE leaves only the global entries (isset() is true, the value is '').
        return {str(scope)} if scope not in (None, "") else {GLOBAL}
    if php_truthy(call.param("FULL")):
        return None
    return granted_scopes(call)


# --- app.info, app.option.* ------------------------------------------------------------------


@rest_method("app.info", scope="basic")
def app_info(call: Call) -> dict[str, Any]:
    """Through a webhook the portal answers the webhook variant {SCOPE, LICENSE} (rest_provider.php)."""
    license_ = get_portal().license
    app = call.caller.app
    if app is None:
        return {"SCOPE": sorted(call.caller.scopes), "LICENSE": license_}
    plan = license_.split("_", 1)[-1]
    return {
        "ID": app.pk,
        "CODE": app.code,
        "VERSION": app.version,
        "STATUS": app.status,
        "INSTALLED": app.is_installed,
        "PAYMENT_EXPIRED": "N",
        "DAYS": None,
        "LANGUAGE_ID": DEFAULT_LANG,
        "LICENSE": license_,
        "LICENSE_TYPE": plan,
        "LICENSE_FAMILY": plan.rstrip("0123456789") or plan,
    }


@rest_method("app.option.get", scope="basic")
def app_option_get(call: Call) -> Any:
    app = call.caller.app
    if app is None:
        raise access_denied("Application context required")
    options: dict[str, Any] = app.app_options or {}
    if call.has("option"):
        return options.get(str(call.param("option")))
    return options or []  # PHP's empty array() is a JSON list


@rest_method("app.option.set", scope="basic")
def app_option_set(call: Call) -> bool:
    app = call.caller.app
    if app is None:
        raise access_denied("Application context required")
    values = call.param("options")
    if values is None:
        values = {k: v for k, v in call.params.items() if k.lower() not in AUTH_PARAMS}
    if not isinstance(values, dict) or not values:
        raise argument_null("options")
    if not call.user.is_admin:
        raise access_denied("Administrator authorization required")
    app.app_options = {**(app.app_options or {}), **values}
    app.save(update_fields=["app_options"])
    return True


# --- placement.* -----------------------------------------------------------------------------


def check_placement_admin(call: Call) -> App:
    app = require_app(call)
    if not call.user.is_admin:
        raise access_denied()
    return app


def lang_all(call: Call, app: App) -> dict[str, dict[str, str]]:
    """LANG_ALL wins over TITLE/DESCRIPTION/GROUP_NAME; with neither, the title is the app name."""
    given = call.param("LANG_ALL")
    if isinstance(given, dict) and given:
        return {
            str(lang): {f: _trimmed(item.get(f) if isinstance(item, dict) else None) for f in LANG_FIELDS}
            for lang, item in given.items()
        }
    default = {f: _trimmed(call.param(f)) for f in LANG_FIELDS}
    if not any(default.values()):
        default["TITLE"] = app.name
    return {DEFAULT_LANG: default}


def _trimmed(value: Any) -> str:
    return str(value).strip() if isinstance(value, (str, int, float)) else ""


def main_lang(langs: dict[str, dict[str, str]]) -> dict[str, str]:
    """Lang::mergeFromLangAll: the portal language's entry, else the first one."""
    return langs.get(DEFAULT_LANG) or next(iter(langs.values()))


@rest_method("placement.bind", scope="placement", app_only=True)
def placement_bind(call: Call) -> bool:
    app = check_placement_admin(call)
    raw = call.param("PLACEMENT")
    if raw is not None and not isinstance(raw, str):
        raise argument_error("The value of an argument 'PLACEMENT' must be of type string", "PLACEMENT")
    code = (raw or "").strip().upper()
    if not code:
        raise argument_null("PLACEMENT")
    if code == "DEFAULT":
        raise argument_error("Wrong value", "PLACEMENT")
    handler = text_param(call, "HANDLER")
    if not handler:
        raise argument_null("HANDLER")
    check_handler_url(handler)
    info = PLACEMENTS.get(code)
    if info is None or info.scope not in granted_scopes(call):
        raise RestError("ERROR_PLACEMENT_NOT_FOUND", "Placement not found", 400)
    user_id = max(php_intval(call.param("USER_ID", 0)), 0)
    if user_id and not info.user_mode:
        raise RestError("ERROR_PLACEMENT_USER_MODE", "User mode is not available.", 400)
    existing = PlacementBinding.objects.filter(app=app, placement=code)
    counted = existing.filter(user_id__in=[0, user_id]) if info.user_mode else existing
    if info.max_count and counted.count() >= info.max_count:
        raise RestError("ERROR_PLACEMENT_MAX_COUNT", f"Placement max count: {info.max_count}", 400)
    if existing.filter(handler=handler, user_id=user_id).exists():
        raise RestError("ERROR_CORE", "Unable to set placement handler: Handler already binded", 400)
    langs = lang_all(call, app)
    main = main_lang(langs)
    PlacementBinding.objects.create(
        app=app,
        placement=code,
        handler=handler,
        title=main["TITLE"][:200],
        description=main["DESCRIPTION"][:500],
        group_name=main["GROUP_NAME"][:200],
        lang_all=langs,
        options=[],  # no supported placement declares options; OPTIONS is dropped (placement.php)
        user_id=user_id,
    )
    return True


@rest_method("placement.unbind", scope="placement", app_only=True)
def placement_unbind(call: Call) -> dict[str, int]:
    app = check_placement_admin(call)
    raw = call.param("PLACEMENT")
    if not isinstance(raw, str):
        raise argument_error("The value of an argument 'PLACEMENT' must be of type string", "PLACEMENT")
    code = raw.strip().upper()
    if not code:
        raise argument_null("PLACEMENT")
    if code not in PLACEMENTS:
        return {"count": 0}
    rows = PlacementBinding.objects.filter(app=app, placement=code)
    if call.has("USER_ID"):
        rows = rows.filter(user_id=php_intval(call.param("USER_ID")))
    handler = text_param(call, "HANDLER")
    if handler:
        rows = rows.filter(handler=handler)
    count = 0
    for row in rows:
        count += 1  # once for finding the row ...
        row.delete()
        count += 1  # ... and once more for deleting it (placement.php; placement-unbind.md)
    return {"count": count}


@rest_method("placement.get", scope="placement", app_only=True)
def placement_get(call: Call) -> list[dict[str, Any]]:
    app = check_placement_admin(call)
    return [
        {
            "placement": row.placement,
            "userId": row.user_id,
            "handler": row.handler,
            "options": row.options,
            "title": row.title,
            "description": row.description,
            "langAll": row.lang_all,
        }
        for row in PlacementBinding.objects.filter(app=app).order_by("id")
        if row.placement in PLACEMENTS
    ]


@rest_method("placement.list", scope="placement", app_only=True)
def placement_list(call: Call) -> list[str]:
    scopes = listed_scopes(call)
    return [code for code, info in PLACEMENTS.items() if scopes is None or info.scope in scopes]
