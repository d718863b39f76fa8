"""app.info, app.option.*, placement.* and event.* over real HTTP, as an installed app calls them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests

from tests.conftest import SandboxPortal

TAB = "https://app.example.com/deal-tab/"
HOOK = "https://app.example.com/b24/events/"


def assert_error(response: requests.Response, status: int, error: str, description: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error, body
    if description is not None:
        assert body["error_description"] == description


def scoped_token(sandbox: SandboxPortal, scope: str, user_id: int = 1) -> str:
    from sandbox.models import User
    from sandbox.tokens import issue_tokens

    access, _ = issue_tokens(app=sandbox.install_app(), user=User.objects.get(pk=user_id), scope=scope)
    return access.token


# --- app.info --------------------------------------------------------------------------------


def test_app_info_has_the_documented_shape_and_types(sandbox: SandboxPortal) -> None:
    result = sandbox.result("app.info", user=3)
    assert result == {
        "ID": 1,
        "CODE": "dealdesk.app",
        "VERSION": 1,
        "STATUS": "L",
        "INSTALLED": True,
        "PAYMENT_EXPIRED": "N",
        "DAYS": None,
        "LANGUAGE_ID": "en",
        "LICENSE": "en_pro100",
        "LICENSE_TYPE": "pro100",
        "LICENSE_FAMILY": "pro",
    }


def test_app_info_says_not_installed_while_the_installer_runs(sandbox: SandboxPortal) -> None:
    from sandbox.models import App

    token = sandbox.token()
    App.objects.update(state=App.State.INSTALLING)
    assert sandbox.call("app.info", token=token).json()["result"]["INSTALLED"] is False


def test_app_info_through_a_webhook_answers_scope_and_license(sandbox: SandboxPortal) -> None:
    base = sandbox.webhook(user_id=2, scope="crm,user")
    response = requests.post(base + "app.info.json", json={}, timeout=10)
    assert response.status_code == 200
    assert response.json()["result"] == {"SCOPE": ["crm", "user"], "LICENSE": "en_pro100"}


# --- app.option.* ----------------------------------------------------------------------------


def test_app_options_are_set_by_an_admin_and_read_by_anyone(sandbox: SandboxPortal) -> None:
    assert sandbox.result("app.option.get") == []
    assert sandbox.result("app.option.set", {"options": {"layout": "compact", "limit": 5}}) is True
    assert sandbox.result("app.option.set", {"theme": "dark"}) is True  # options given top-level
    assert sandbox.result("app.option.get", user=4) == {"layout": "compact", "limit": 5, "theme": "dark"}
    assert sandbox.result("app.option.get", {"option": "limit"}, user=4) == 5
    assert sandbox.result("app.option.get", {"option": "missing"}) is None


def test_app_option_set_needs_an_admin_and_some_options(sandbox: SandboxPortal) -> None:
    assert_error(
        sandbox.call("app.option.set", {"options": {"a": 1}}, user=2),
        403,
        "ACCESS_DENIED",
        "Access denied! Administrator authorization required",
    )
    assert_error(
        sandbox.call("app.option.set", {"options": {}}), 400, "ERROR_ARGUMENT", "Argument 'options' is null or empty"
    )
    assert sandbox.call("app.option.set", {}).json()["argument"] == "options"


def test_app_options_need_an_application_context(sandbox: SandboxPortal) -> None:
    base = sandbox.webhook(user_id=1)
    for method in ("app.option.get", "app.option.set"):
        response = requests.post(base + method, json={"options": {"a": 1}}, timeout=10)
        assert_error(response, 403, "ACCESS_DENIED", "Access denied! Application context required")


# --- the webhook refusal ---------------------------------------------------------------------

APP_ONLY = [
    "placement.bind",
    "placement.unbind",
    "placement.get",
    "placement.list",
    "event.bind",
    "event.unbind",
    "event.get",
    "events",
    "event.test",
]


@pytest.mark.parametrize("method", APP_ONLY)
def test_app_only_methods_refuse_webhooks_with_wrong_auth_type(sandbox: SandboxPortal, method: str) -> None:
    base = sandbox.webhook(user_id=1, scope="crm,placement,user")
    response = requests.post(base + method, json={"PLACEMENT": "CRM_DEAL_DETAIL_TAB"}, timeout=10)
    assert_error(response, 403, "WRONG_AUTH_TYPE")


# --- placement.bind / get --------------------------------------------------------------------


def test_placement_bind_then_get_returns_the_documented_shape(sandbox: SandboxPortal) -> None:
    params = {"PLACEMENT": "crm_deal_detail_tab", "HANDLER": TAB, "TITLE": "Products", "OPTIONS": {"ignored": "yes"}}
    assert sandbox.result("placement.bind", params) is True
    assert sandbox.result("placement.get") == [
        {
            "placement": "CRM_DEAL_DETAIL_TAB",
            "userId": 0,
            "handler": TAB,
            "options": [],
            "title": "Products",
            "description": "",
            "langAll": {"en": {"TITLE": "Products", "DESCRIPTION": "", "GROUP_NAME": ""}},
        }
    ]


def test_placement_title_falls_back_to_the_app_name(sandbox: SandboxPortal) -> None:
    sandbox.result("placement.bind", {"PLACEMENT": "CRM_DEAL_LIST_MENU", "HANDLER": TAB})
    (row,) = sandbox.result("placement.get")
    assert row["title"] == "Deal Desk"
    assert row["langAll"] == {"en": {"TITLE": "Deal Desk", "DESCRIPTION": "", "GROUP_NAME": ""}}


def test_lang_all_overrides_the_top_level_title(sandbox: SandboxPortal) -> None:
    lang_all = {"de": {"TITLE": "Produkte", "GROUP_NAME": "Gruppe"}, "en": {"TITLE": " Products ", "DESCRIPTION": "d"}}
    sandbox.result(
        "placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": TAB, "TITLE": "Ignored", "LANG_ALL": lang_all}
    )
    (row,) = sandbox.result("placement.get")
    assert row["title"] == "Products" and row["description"] == "d"
    assert row["langAll"] == {
        "de": {"TITLE": "Produkte", "DESCRIPTION": "", "GROUP_NAME": "Gruppe"},
        "en": {"TITLE": "Products", "DESCRIPTION": "d", "GROUP_NAME": ""},
    }


def test_placement_bind_argument_errors(sandbox: SandboxPortal) -> None:
    missing = sandbox.call("placement.bind", {"HANDLER": TAB})
    assert_error(missing, 400, "ERROR_ARGUMENT", "Argument 'PLACEMENT' is null or empty")
    assert missing.json()["argument"] == "PLACEMENT"
    default = sandbox.call("placement.bind", {"PLACEMENT": "default", "HANDLER": TAB})
    assert_error(default, 400, "ERROR_ARGUMENT", "Wrong value")
    assert default.json()["argument"] == "PLACEMENT"
    no_handler = sandbox.call("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB"})
    assert_error(no_handler, 400, "ERROR_ARGUMENT", "Argument 'HANDLER' is null or empty")
    assert_error(
        sandbox.call("placement.bind", {"PLACEMENT": ["CRM_DEAL_DETAIL_TAB"], "HANDLER": TAB}),
        400,
        "ERROR_ARGUMENT",
        "The value of an argument 'PLACEMENT' must be of type string",
    )


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        ("http://localhost:8000/tab/", "ERROR_WRONG_HANDLER_URL"),
        ("not a url", "ERROR_WRONG_HANDLER_URL"),
        ("https://.example.com/", "ERROR_WRONG_HANDLER_URL"),
        ("ftp://files.example.com/tab/", "ERROR_UNSUPPORTED_PROTOCOL"),
        ("javascript:alert(1)", "ERROR_WRONG_HANDLER_URL"),
        ("https://app.example.com/" + "x" * 600, "ERROR_WRONG_HANDLER_URL"),
    ],
)
def test_placement_handlers_need_an_http_url_with_a_dotted_host(
    sandbox: SandboxPortal, handler: str, error: str
) -> None:
    assert_error(sandbox.call("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": handler}), 400, error)


def test_an_unknown_placement_or_one_outside_the_tokens_scopes_is_not_found(sandbox: SandboxPortal) -> None:
    assert_error(
        sandbox.call("placement.bind", {"PLACEMENT": "CRM_NOTHING", "HANDLER": TAB}),
        400,
        "ERROR_PLACEMENT_NOT_FOUND",
        "Placement not found",
    )
    token = scoped_token(sandbox, "placement")
    response = sandbox.call("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": TAB}, token=token)
    assert_error(response, 400, "ERROR_PLACEMENT_NOT_FOUND")
    ok = sandbox.call("placement.bind", {"PLACEMENT": "LEFT_MENU", "HANDLER": TAB}, token=token)
    assert ok.json()["result"] is True


def test_binding_the_same_handler_twice_is_error_core(sandbox: SandboxPortal) -> None:
    params = {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": TAB}
    sandbox.result("placement.bind", params)
    assert_error(
        sandbox.call("placement.bind", params),
        400,
        "ERROR_CORE",
        "Unable to set placement handler: Handler already binded",
    )
    sandbox.result("placement.bind", {**params, "HANDLER": TAB + "?second=1"})
    assert len(sandbox.result("placement.get")) == 2


def test_user_id_is_only_for_user_mode_placements_and_rest_app_uri_takes_one(sandbox: SandboxPortal) -> None:
    response = sandbox.call("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": TAB, "USER_ID": 3})
    assert_error(response, 400, "ERROR_PLACEMENT_USER_MODE", "User mode is not available.")
    sandbox.result("placement.bind", {"PLACEMENT": "REST_APP_URI", "HANDLER": TAB})
    assert_error(
        sandbox.call("placement.bind", {"PLACEMENT": "REST_APP_URI", "HANDLER": TAB + "2"}),
        400,
        "ERROR_PLACEMENT_MAX_COUNT",
        "Placement max count: 1",
    )


@pytest.mark.parametrize("method", ["placement.bind", "placement.unbind", "placement.get"])
@pytest.mark.parametrize("user", [2, 3, 5])
def test_placement_bind_unbind_get_are_for_administrators(sandbox: SandboxPortal, method: str, user: int) -> None:
    response = sandbox.call(method, {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": TAB}, user=user)
    assert_error(response, 403, "ACCESS_DENIED", "Access denied!")


def test_placement_methods_need_the_placement_scope(sandbox: SandboxPortal) -> None:
    response = sandbox.call("placement.get", token=scoped_token(sandbox, "crm"))
    assert_error(response, 401, "insufficient_scope")


# --- placement.unbind / list -----------------------------------------------------------------


def test_placement_unbind_counts_every_removed_handler_twice(sandbox: SandboxPortal) -> None:
    for handler in (TAB, TAB + "?b=1", TAB + "?c=1"):
        sandbox.result("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": handler})
    sandbox.result("placement.bind", {"PLACEMENT": "CRM_DEAL_LIST_MENU", "HANDLER": TAB})
    one = sandbox.result("placement.unbind", {"PLACEMENT": "crm_deal_detail_tab", "HANDLER": TAB})
    assert one == {"count": 2}
    rest = sandbox.result("placement.unbind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB"})
    assert rest == {"count": 4}
    assert [row["placement"] for row in sandbox.result("placement.get")] == ["CRM_DEAL_LIST_MENU"]
    assert sandbox.result("placement.unbind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB"}) == {"count": 0}
    assert sandbox.result("placement.unbind", {"PLACEMENT": "NO_SUCH_PLACE"}) == {"count": 0}


def test_placement_unbind_argument_errors(sandbox: SandboxPortal) -> None:
    assert_error(
        sandbox.call("placement.unbind", {}),
        400,
        "ERROR_ARGUMENT",
        "The value of an argument 'PLACEMENT' must be of type string",
    )
    assert_error(
        sandbox.call("placement.unbind", {"PLACEMENT": ""}),
        400,
        "ERROR_ARGUMENT",
        "Argument 'PLACEMENT' is null or empty",
    )


def test_placement_list_follows_the_apps_scopes_scope_and_full(sandbox: SandboxPortal) -> None:
    default = sandbox.result("placement.list", user=3)  # any user may list
    assert {
        "CRM_DEAL_DETAIL_TAB",
        "CRM_DEAL_LIST_MENU",
        "CRM_DEAL_DETAIL_TOOLBAR",
        "CRM_CONTACT_DETAIL_TAB",
        "LEFT_MENU",
        "REST_APP_URI",
    } <= set(default)
    assert "DEFAULT" not in default
    crm = sandbox.result("placement.list", {"SCOPE": "crm"})
    assert crm and all(code.startswith("CRM_") for code in crm)
    narrow = sandbox.call("placement.list", token=scoped_token(sandbox, "placement")).json()["result"]
    assert "CRM_DEAL_DETAIL_TAB" not in narrow and "LEFT_MENU" in narrow
    full = sandbox.call("placement.list", {"FULL": True}, token=scoped_token(sandbox, "placement"))
    assert set(full.json()["result"]) == set(default)


# --- event.bind / get / unbind ---------------------------------------------------------------


def test_event_bind_stores_the_name_upper_case_and_event_get_lists_it(sandbox: SandboxPortal) -> None:
    assert sandbox.result("event.bind", {"event": "onCrmDealAdd", "handler": HOOK}) is True
    sandbox.result("event.bind", {"event": "ONCRMDEALUPDATE", "handler": HOOK, "auth_type": 2})
    assert sandbox.result("event.get") == [
        {"event": "ONCRMDEALADD", "handler": HOOK, "auth_type": "0", "offline": 0},
        {"event": "ONCRMDEALUPDATE", "handler": HOOK, "auth_type": "2", "offline": 0},
    ]


def test_event_bind_errors(sandbox: SandboxPortal) -> None:
    assert_error(
        sandbox.call("event.bind", {"event": "ONCRMNOTHING", "handler": HOOK}),
        400,
        "ERROR_EVENT_NOT_FOUND",
        "Event not found",
    )
    assert_error(
        sandbox.call("event.bind", {"handler": HOOK}), 400, "ERROR_ARGUMENT", "Argument 'EVENT' is null or empty"
    )
    assert_error(
        sandbox.call("event.bind", {"event": "ONCRMDEALADD"}),
        400,
        "ERROR_ARGUMENT",
        "Argument 'HANDLER' is null or empty",
    )
    assert_error(
        sandbox.call("event.bind", {"event": "ONCRMDEALADD", "handler": "http://localhost/x"}),
        400,
        "ERROR_WRONG_HANDLER_URL",
    )
    assert_error(
        sandbox.call("event.bind", {"event": "ONCRMDEALADD", "handler": HOOK, "event_type": "soon"}),
        400,
        "ERROR_ARGUMENT",
        "Value must be one of {online|offline}",
    )
    sandbox.result("event.bind", {"event": "ONCRMDEALADD", "handler": HOOK})
    assert_error(
        sandbox.call("event.bind", {"event": "oncrmdealadd", "handler": HOOK}),
        400,
        "ERROR_CORE",
        "Unable to set event handler: Handler already binded",
    )


def test_crm_events_need_the_crm_scope(sandbox: SandboxPortal) -> None:
    token = scoped_token(sandbox, "placement")
    response = sandbox.call("event.bind", {"event": "ONCRMDEALADD", "handler": HOOK}, token=token)
    assert_error(response, 400, "ERROR_EVENT_NOT_FOUND")
    assert sandbox.call("event.bind", {"event": "ONAPPUNINSTALL", "handler": HOOK}, token=token).status_code == 200


def test_a_non_admin_binds_for_themself_only(sandbox: SandboxPortal) -> None:
    sandbox.result("event.bind", {"event": "ONCRMDEALADD", "handler": HOOK}, user=3)
    sandbox.result("event.bind", {"event": "ONCRMDEALDELETE", "handler": HOOK, "auth_type": 3}, user=3)
    response = sandbox.call("event.bind", {"event": "ONCRMDEALUPDATE", "handler": HOOK, "auth_type": 1}, user=3)
    assert_error(
        response,
        403,
        "ACCESS_DENIED",
        "Access denied! Event binding with AUTH_TYPE requires administrator access rights",
    )
    sandbox.result("event.bind", {"event": "ONCRMCONTACTADD", "handler": HOOK}, user=4)
    mine = sandbox.result("event.get", user=3)
    assert [(row["event"], row["auth_type"]) for row in mine] == [("ONCRMDEALADD", "3"), ("ONCRMDEALDELETE", "3")]
    assert len(sandbox.result("event.get")) == 3  # the admin sees everyone's


def test_offline_binding_is_admin_only_and_listed_without_a_handler(sandbox: SandboxPortal) -> None:
    response = sandbox.call("event.bind", {"event": "ONCRMDEALADD", "event_type": "offline"}, user=2)
    assert_error(
        response, 403, "ACCESS_DENIED", "Access denied! Offline events binding requires administrator access rights"
    )
    sandbox.result("event.bind", {"event": "ONCRMDEALADD", "event_type": "OFFLINE", "handler": HOOK})
    assert sandbox.result("event.get") == [{"event": "ONCRMDEALADD", "connector_id": "", "offline": 1}]
    assert_error(
        sandbox.call("event.bind", {"event": "ONOFFLINEEVENT", "event_type": "offline"}),
        400,
        "ERROR_ARGUMENT",
        "Offline event cannot be registered for this event.",
    )
    assert sandbox.result("event.unbind", {"event": "ONCRMDEALADD", "event_type": "offline"}) == {"count": 1}


def test_event_unbind_counts_removed_handlers_and_non_admins_touch_only_their_own(sandbox: SandboxPortal) -> None:
    sandbox.result("event.bind", {"event": "ONCRMDEALADD", "handler": HOOK})
    sandbox.result("event.bind", {"event": "ONCRMDEALADD", "handler": HOOK}, user=3)
    sandbox.result("event.bind", {"event": "ONCRMDEALADD", "handler": HOOK}, user=4)
    assert sandbox.result("event.unbind", {"event": "oncrmdealadd", "handler": HOOK}, user=3) == {"count": 1}
    response = sandbox.call("event.unbind", {"event": "ONCRMDEALADD", "handler": HOOK, "auth_type": 4}, user=3)
    assert_error(
        response,
        403,
        "ACCESS_DENIED",
        "Access denied! Event unbinding with AUTH_TYPE requires administrator access rights",
    )
    assert sandbox.result("event.unbind", {"event": "ONCRMDEALADD", "handler": HOOK, "auth_type": 0}) == {"count": 1}
    assert sandbox.result("event.unbind", {"event": "ONCRMDEALADD", "handler": HOOK}) == {"count": 1}
    assert sandbox.result("event.get") == []
    assert_error(
        sandbox.call("event.unbind", {"event": "ONCRMDEALADD"}),
        400,
        "ERROR_ARGUMENT",
        "Argument 'HANDLER' is null or empty",
    )


def test_events_lists_what_the_apps_scopes_allow(sandbox: SandboxPortal) -> None:
    names = sandbox.result("events", user=3)
    assert {
        "ONAPPINSTALL",
        "ONAPPUNINSTALL",
        "ONAPPUPDATE",
        "ONAPPTEST",
        "ONCRMDEALADD",
        "ONCRMDEALUPDATE",
        "ONCRMDEALDELETE",
        "ONCRMDEALMOVETOCATEGORY",
        "ONCRMCONTACTADD",
        "ONCRMCONTACTUPDATE",
        "ONCRMCONTACTDELETE",
    } <= set(names)
    assert sandbox.result("events", {"SCOPE": "crm"}) == [n for n in names if n.startswith("ONCRM")]
    narrow = sandbox.call("events", token=scoped_token(sandbox, "placement")).json()["result"]
    assert "ONCRMDEALADD" not in narrow and "ONAPPTEST" in narrow


# --- event.test ------------------------------------------------------------------------------


def test_event_test_fires_onapptest_with_the_query_to_bound_handlers(
    sandbox: SandboxPortal, settings: Any, event_receiver: tuple[str, list[str]]
) -> None:
    settings.SANDBOX_EVENTS_SYNC = True  # delivered before the call answers, so no waiting
    url, received = event_receiver
    sandbox.result("event.bind", {"event": "ONAPPTEST", "handler": url})
    assert sandbox.result("event.test", {"any": "value", "nested": {"a": "1"}}, user=2) == 1
    (body,) = received
    payload = dict(parse_qsl(body))
    assert payload["event"] == "ONAPPTEST"
    assert payload["data[QUERY][any]"] == "value"
    assert payload["data[QUERY][nested][a]"] == "1"
    assert "data[QUERY][auth]" not in payload
    assert payload["auth[user_id]"] == "2"
    assert json.dumps(payload)  # plain strings only, as form-encoded events are


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": TAB, "LANG_ALL": "x", "TITLE": {"a": 1}}),
        ("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": ["x"], "USER_ID": {"a": 1}}),
        ("placement.bind", {"PLACEMENT": "CRM_DEAL_DETAIL_TAB", "HANDLER": TAB, "LANG_ALL": {"en": "x"}}),
        ("placement.unbind", {"PLACEMENT": {"a": 1}, "USER_ID": "abc"}),
        ("event.bind", {"event": {"a": 1}, "handler": HOOK, "auth_type": [1]}),
        ("event.bind", {"event": "ONCRMDEALADD", "handler": HOOK, "auth_type": "7abc", "event_type": ["x"]}),
        ("event.unbind", {"event": "ONCRMDEALADD", "handler": {"a": 1}}),
        ("app.option.set", {"options": "not-a-dict"}),
        ("app.option.get", {"option": {"a": 1}}),
        ("placement.list", {"SCOPE": ["crm"], "FULL": "false"}),
    ],
)
def test_malformed_input_gets_an_answer_and_never_a_500(
    sandbox: SandboxPortal, method: str, params: dict[str, Any]
) -> None:
    response = sandbox.call(method, params)
    assert response.status_code in (200, 400), response.text
