"""The deal tab (CRM_DEAL_DETAIL_TAB): the placement handler and the editors' htmx endpoints."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from b24app.install import DEAL_TAB_PATH
from widgets.contacts import views as contacts_views
from widgets.products import views as tab_views
from widgets.products import views_editor

urlpatterns: list[URLPattern | URLResolver] = [
    path(DEAL_TAB_PATH, tab_views.tab_placement, name="tab_placement"),
    path(f"{DEAL_TAB_PATH}open/", tab_views.tab_open, name="tab_open"),
    path(f"{DEAL_TAB_PATH}<int:deal_id>/", tab_views.tab_show, name="tab_show"),
    path(f"{DEAL_TAB_PATH}<int:deal_id>/rows/", views_editor.tab_rows, name="tab_rows"),
    path(f"{DEAL_TAB_PATH}<int:deal_id>/products/", views_editor.tab_products, name="tab_products"),
    path(f"{DEAL_TAB_PATH}<int:deal_id>/ping/", views_editor.tab_ping, name="tab_ping"),
    path(f"{DEAL_TAB_PATH}<int:deal_id>/version/", views_editor.tab_version, name="tab_version"),
    path(f"{DEAL_TAB_PATH}<int:deal_id>/keep-editing/", views_editor.tab_keep_editing, name="tab_keep_editing"),
    path(f"{DEAL_TAB_PATH}<int:deal_id>/contacts/", contacts_views.tab_contacts, name="tab_contacts"),
    path(
        f"{DEAL_TAB_PATH}<int:deal_id>/contacts/search/", contacts_views.tab_contact_search, name="tab_contact_search"
    ),
]
