"""The app's main page ("" — what the portal opens from its app menu) and the card layout admin."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from widgets.layouts import views as layout_views
from widgets.layouts import views_history as layout_views_history
from widgets.layouts import views_open as layout_views_open

urlpatterns: list[URLPattern | URLResolver] = [
    path("", layout_views_open.main_page, name="layout_home"),
    path("layout/open/", layout_views_open.open_page, name="layout_open"),
    path("layout/", layout_views.page, name="layout_page"),
    path("layout/edit/", layout_views.edit, name="layout_edit"),
    path("layout/save/", layout_views.save, name="layout_save"),
    path("layout/copy/", layout_views.copy, name="layout_copy"),
    path("layout/import/", layout_views.import_json, name="layout_import"),
    path("layout/export/", layout_views_history.export_json, name="layout_export"),
    path("layout/diff/", layout_views_history.diff, name="layout_diff"),
    path("layout/rollback/", layout_views_history.rollback, name="layout_rollback"),
    path("layout/people/", layout_views_history.users, name="layout_users"),
    path("layout/access/", layout_views_history.access, name="layout_access"),
]
