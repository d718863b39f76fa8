"""The app's main page ("" — what the portal opens from its app menu) and the card layout admin."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from widgets.layouts import views as layout_views
from widgets.layouts import views_history as layout_views_history

urlpatterns: list[URLPattern | URLResolver] = [
    path("", layout_views.layout_home, name="layout_home"),
    path("layout/", layout_views.layout_page, name="layout_page"),
    path("layout/edit/", layout_views.layout_edit, name="layout_edit"),
    path("layout/save/", layout_views.layout_save, name="layout_save"),
    path("layout/copy/", layout_views.layout_copy, name="layout_copy"),
    path("layout/import/", layout_views.layout_import, name="layout_import"),
    path("layout/export/", layout_views_history.layout_export, name="layout_export"),
    path("layout/diff/", layout_views_history.layout_diff_view, name="layout_diff"),
    path("layout/rollback/", layout_views_history.layout_rollback, name="layout_rollback"),
    path("layout/people/", layout_views_history.layout_users, name="layout_users"),
    path("layout/access/", layout_views_history.layout_access, name="layout_access"),
]
