"""What people see: the deal tab (urls_tab) and the app's main page with the card-layout admin
(urls_layout). Names are unique across both (tab_*, layout_*)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from widgets.common import theme
from widgets.layouts import urls as urls_layout
from widgets.products import urls as urls_tab

app_name = "widgets"

urlpatterns: list[URLPattern | URLResolver] = [
    *urls_tab.urlpatterns,
    *urls_layout.urlpatterns,
    path("theme/", theme.theme_save, name="theme_save"),
]
