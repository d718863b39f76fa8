from __future__ import annotations

from django.apps import AppConfig


class WidgetsConfig(AppConfig):
    name = "widgets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing registers the deal tab's event handlers with b24app.events (@on_event), and
        # the layout page's portal_purged receiver (uninstall with CLEAN=1 drops its versions).
        from widgets.common import events as tab_events
        from widgets.layouts import services as layout_services

        tab_events.events_connect()
        del layout_services
