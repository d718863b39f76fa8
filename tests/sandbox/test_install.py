"""Installing and uninstalling an app from the Marketplace (bitrix24-protocol.md §1)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import SandboxPortal
from tests.sandbox.test_portal_ui import Html, app_frame, bind_deal_tab, page, post, post_xhr, sign_in_as


def the_app() -> Any:
    from sandbox.models import App

    return App.objects.get()


def test_install_puts_the_app_in_installing_and_opens_its_installer_page(sandbox: SandboxPortal) -> None:
    app = the_app()
    response = post(sandbox, f"marketplace/{app.pk}/install/")
    assert response.status_code == 200 and response.url.endswith(f"/sandbox/app/{app.pk}/")
    app.refresh_from_db()
    assert app.state == "installing"
    assert re.fullmatch(r"[0-9a-f]{32}", app.application_token)

    iframe, form = app_frame(Html(response.text))
    assert form.attrs["action"].startswith(app.install_url + "?DOMAIN=")
    assert "data-b24-autosubmit" in form.attrs
    names = [name for name, _ in form.inputs]
    assert form.value("PLACEMENT") == "DEFAULT"
    assert "PLACEMENT_OPTIONS" not in names  # omitted when empty (§5.2)
    assert form.value("APPLICATION_TOKEN") == app.application_token
    init = json.loads(iframe["data-init"])
    assert (init["INSTALL"], init["PLACEMENT"], init["IS_ADMIN"]) == (True, "DEFAULT", True)
    assert iframe["data-install-finish-url"] == f"/sandbox/marketplace/{app.pk}/install-finish/"


def test_install_finish_marks_the_app_installed_and_the_page_then_shows_installed(sandbox: SandboxPortal) -> None:
    app = the_app()
    installer = post(sandbox, f"marketplace/{app.pk}/install/")
    iframe, _ = app_frame(Html(installer.text))
    finished = post_xhr(
        sandbox,
        iframe["data-install-finish-url"].removeprefix("/sandbox/"),
        {"app_sid": iframe["data-app-sid"], "value": "Y"},
    )
    assert finished.status_code == 200
    assert finished.json()["result"] is True
    app.refresh_from_db()
    assert (app.state, app.installed_by_id) == ("installed", 1)
    assert app.installed_at is not None

    reloaded = page(sandbox, f"app/{app.pk}/")  # what applayout.js does after installFinish
    assert "is installed." in reloaded.text and 'data-state="installed"' in reloaded.text
    main_iframe, main_form = app_frame(Html(reloaded.text))
    assert main_form.attrs["action"].startswith(app.handler_url + "?DOMAIN=")
    assert json.loads(main_iframe["data-init"])["INSTALL"] is False
    marketplace = page(sandbox, "marketplace/").text
    assert 'data-state="installed"' in marketplace


def test_a_placement_bound_by_the_installer_shows_only_after_install_finish(sandbox: SandboxPortal) -> None:
    from sandbox.models import Deal

    app = the_app()
    post(sandbox, f"marketplace/{app.pk}/install/")
    bind_deal_tab(sandbox)
    deal_id = Deal.objects.order_by("id")[0].pk
    assert not Html(page(sandbox, f"crm/deal/details/{deal_id}/").text).with_attr("iframe", "data-b24-app")
    post_xhr(sandbox, f"marketplace/{app.pk}/install-finish/", {})
    assert Html(page(sandbox, f"crm/deal/details/{deal_id}/").text).with_attr("iframe", "data-b24-app")


def test_a_non_admin_cannot_install_and_is_told_why(sandbox: SandboxPortal) -> None:
    app = the_app()
    sign_in_as(sandbox, 2)
    marketplace = page(sandbox, "marketplace/").text
    assert "Only an administrator installs or removes applications" in marketplace
    assert f"/marketplace/{app.pk}/install/" not in marketplace
    response = post(sandbox, f"marketplace/{app.pk}/install/")
    assert "Only a portal administrator can install" in response.text
    assert the_app().state == "not_installed"


def test_ordinary_users_see_a_notice_instead_of_the_installer(sandbox: SandboxPortal) -> None:
    app = the_app()
    post(sandbox, f"marketplace/{app.pk}/install/")
    sign_in_as(sandbox, 3)
    response = page(sandbox, f"app/{app.pk}/")
    assert "not fully installed yet" in response.text
    assert not Html(response.text).with_attr("iframe", "data-b24-app")
    refused = post_xhr(sandbox, f"marketplace/{app.pk}/install-finish/", {})
    assert refused.status_code == 403
    assert the_app().state == "installing"


def test_install_finish_is_refused_unless_the_app_is_installing(sandbox: SandboxPortal) -> None:
    app = the_app()
    response = post_xhr(sandbox, f"marketplace/{app.pk}/install-finish/", {})
    assert response.status_code == 403
    assert response.json()["error"] == "INSTALL_REFUSED"
    assert post_xhr(sandbox, "marketplace/999/install-finish/", {}).status_code == 404
    assert the_app().state == "not_installed"


def test_uninstall_sends_onappuninstall_without_tokens_and_removes_bindings_and_tokens(
    sandbox: SandboxPortal, settings: Any
) -> None:
    from sandbox.models import AccessToken, EventBinding, EventDelivery, PlacementBinding, RefreshToken
    from sandbox.portal import get_portal

    settings.SANDBOX_EVENTS_SYNC = True
    app = sandbox.install_app()
    token = sandbox.token(1)
    handler = f"{sandbox.app_url}b24/uninstall/"
    EventBinding.objects.create(app=app, event="ONAPPUNINSTALL", handler=handler)
    EventBinding.objects.create(app=app, event="ONCRMDEALUPDATE", handler=f"{sandbox.app_url}b24/events/")
    bind_deal_tab(sandbox)

    response = post(sandbox, f"marketplace/{app.pk}/uninstall/", {"clean": "1"})
    assert "is uninstalled" in response.text
    assert the_app().state == "uninstalled"
    (delivery,) = EventDelivery.objects.filter(event="ONAPPUNINSTALL")
    assert delivery.handler == handler
    assert delivery.payload["data"] == {"LANGUAGE_ID": "en", "CLEAN": 1}
    assert delivery.payload["auth"] == {
        "domain": sandbox.url.split("/")[2],
        "server_endpoint": f"{sandbox.url}oauth/rest/",
        "client_endpoint": f"{sandbox.url}rest/",
        "member_id": get_portal().member_id,
        "application_token": app.application_token,
    }
    assert delivery.delivered_at is not None  # it was really POSTed
    assert not PlacementBinding.objects.exists() and not EventBinding.objects.exists()
    assert not AccessToken.objects.filter(revoked=False).exists()
    assert not RefreshToken.objects.filter(revoked=False).exists()
    answer = sandbox.call("user.current", token=token)
    assert (answer.status_code, answer.json()) == (
        401,
        {"error": "APPLICATION_NOT_FOUND", "error_description": "Application not found"},
    )


def test_after_an_uninstall_every_call_with_the_apps_tokens_is_application_not_found(
    sandbox: SandboxPortal, settings: Any
) -> None:
    """Fresh, expired or spent alike: the portal looks for the app before the token (bitrix24-uninstall.md)."""
    from datetime import timedelta

    from django.utils import timezone

    from sandbox.models import AccessToken

    app = sandbox.install_app()
    fresh, expired = sandbox.token(1), sandbox.token(3)
    AccessToken.objects.filter(token=expired).update(expires_at=timezone.now() - timedelta(hours=2))
    post(sandbox, f"marketplace/{app.pk}/uninstall/", {"clean": "0"})

    for token in (fresh, expired):
        for method in ("app.info", "crm.item.get", "batch"):
            answer = sandbox.call(method, {"entityTypeId": 2, "id": 1, "cmd": {"a": "app.info"}}, token=token)
            assert answer.status_code == 401
            assert answer.json() == {"error": "APPLICATION_NOT_FOUND", "error_description": "Application not found"}


def test_onappuninstall_is_sent_only_once_the_app_is_gone(
    sandbox: SandboxPortal, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app may confirm the event with the portal: by delivery time its token is refused."""
    from sandbox import events as sandbox_events
    from sandbox.models import EventBinding

    settings.SANDBOX_EVENTS_SYNC = True
    app = sandbox.install_app()
    token = sandbox.token(1)
    EventBinding.objects.create(app=app, event="ONAPPUNINSTALL", handler=f"{sandbox.app_url}b24/events/")
    seen: list[tuple[str, int, str]] = []
    real_deliver = sandbox_events.deliver

    def deliver(delivery_id: int) -> None:
        answer = sandbox.call("app.info", token=token)
        seen.append((the_app().state, answer.status_code, answer.json().get("error", "")))
        real_deliver(delivery_id)

    monkeypatch.setattr(sandbox_events, "deliver", deliver)
    post(sandbox, f"marketplace/{app.pk}/uninstall/", {"clean": "0"})
    assert seen == [("uninstalled", 401, "APPLICATION_NOT_FOUND")]


def test_an_uninstalled_app_can_be_installed_again(sandbox: SandboxPortal) -> None:
    app = sandbox.install_app()
    token_before = app.application_token
    post(sandbox, f"marketplace/{app.pk}/uninstall/")
    assert the_app().state == "uninstalled"
    post(sandbox, f"marketplace/{app.pk}/install/")
    post_xhr(sandbox, f"marketplace/{app.pk}/install-finish/", {})
    app = the_app()
    assert app.state == "installed"
    assert app.application_token == token_before  # stable per (portal, app) (§6.3)
    assert sandbox.result("user.current", user=1)["ID"] == "1"


def test_an_app_without_an_installer_is_installed_at_once_and_gets_onappinstall(
    sandbox: SandboxPortal, settings: Any
) -> None:
    from sandbox.models import AccessToken, EventDelivery

    settings.SANDBOX_EVENTS_SYNC = True
    app = the_app()
    app.install_url = ""
    app.event_install_url = f"{sandbox.app_url}b24/app-installed/"
    app.save()
    response = post(sandbox, f"marketplace/{app.pk}/install/")
    assert "Deal Desk is installed." in response.text
    assert the_app().state == "installed"
    (delivery,) = EventDelivery.objects.filter(event="ONAPPINSTALL")
    assert delivery.handler == app.event_install_url
    assert delivery.payload["data"] == {"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "en"}
    auth = delivery.payload["auth"]
    assert auth["refresh_token"] and auth["application_token"] == the_app().application_token
    assert AccessToken.objects.get(token=auth["access_token"]).user_id == 1


def test_onappinstall_says_not_yet_installed_while_an_installer_still_has_to_run(
    sandbox: SandboxPortal, settings: Any
) -> None:
    from sandbox.models import EventDelivery

    settings.SANDBOX_EVENTS_SYNC = True
    app = the_app()
    app.event_install_url = f"{sandbox.app_url}b24/app-installed/"
    app.save()
    post(sandbox, f"marketplace/{app.pk}/install/")
    (delivery,) = EventDelivery.objects.filter(event="ONAPPINSTALL")
    assert delivery.payload["data"]["INSTALLED"] == "N"


def test_the_install_services_refuse_non_admins_and_wrong_states(sandbox: SandboxPortal) -> None:
    from sandbox.install import InstallError, app_install_finish, app_install_start, app_uninstall
    from sandbox.models import User

    app, admin, rep = the_app(), User.objects.get(pk=1), User.objects.get(pk=3)
    with pytest.raises(InstallError):
        app_install_start(app=app, user=rep)
    with pytest.raises(InstallError):
        app_uninstall(app=app, user=admin)  # not installed
    app_install_start(app=app, user=admin)
    assert app_install_start(app=app, user=admin).state == "installing"  # reopening is harmless
    with pytest.raises(InstallError):
        app_install_finish(app=app, user=rep)
    assert app_install_finish(app=app, user=admin).state == "installed"
    with pytest.raises(InstallError):
        app_install_start(app=app, user=admin)  # already installed
    assert app_uninstall(app=app, user=admin).state == "uninstalled"


def test_the_marketplace_lists_the_app_with_masked_secret_and_scopes(sandbox: SandboxPortal) -> None:
    app = the_app()
    text = page(sandbox, "marketplace/").text
    for value in (app.name, app.handler_url, app.install_url, app.client_id, "crm", "placement", "user_brief"):
        assert value in text
    assert "Reveal" in text and "secret-value" in text and "data-reveal" in text
    assert re.search(r'<code class="secret-value" hidden>', text)
    assert "Not installed" in text
