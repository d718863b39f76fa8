"""The portal's web UI (included at the end of sandbox/urls.py, inside the `sandbox` namespace)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from sandbox.views import deal_card, marketplace, pages, prefs, tools

urlpatterns: list[URLPattern | URLResolver] = [
    path("", pages.home, name="home"),
    path("crm/deal/", pages.deal_list, name="deal_list"),
    path("crm/deal/details/<int:deal_id>/", deal_card.deal_card, name="deal_card"),
    path("crm/deal/details/<int:deal_id>/edit/", deal_card.deal_edit, name="deal_edit"),
    path("crm/deal/details/<int:deal_id>/delete/", deal_card.deal_delete, name="deal_delete"),
    path("marketplace/", marketplace.app_list, name="marketplace"),
    path("marketplace/<int:app_id>/install/", marketplace.app_install, name="app_install"),
    path("marketplace/<int:app_id>/uninstall/", marketplace.app_uninstall, name="app_uninstall"),
    path("marketplace/<int:app_id>/install-finish/", marketplace.app_install_finish, name="app_install_finish"),
    path("app/<int:app_id>/", marketplace.app_page, name="app_page"),
    path("app/refresh-auth/", marketplace.app_refresh_auth, name="app_refresh_auth"),
    path("app/option/", marketplace.app_option, name="app_option"),
    path("log/", tools.request_log, name="log"),
    path("log/clear/", tools.request_log_clear, name="log_clear"),
    path("log.json", tools.request_log_json, name="log_json"),
    path("faults/", tools.faults, name="faults"),
    path("faults.json", tools.faults_json, name="faults_json"),
    path("switch-user/", tools.switch_user, name="switch_user"),
    path("prefs/", prefs.portal_prefs, name="prefs"),
    path("bx24.js", tools.bx24_js, name="bx24_js"),
]
