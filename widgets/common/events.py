"""Bitrix24 events that make the deal tab's cached knowledge stale (registered in widgets.apps).

Events arrive late and without retries (bitrix24-protocol.md §6), so they only drop caches and
count the deal's versions for the "changed elsewhere" notice (widgets.common.freshness); nothing here is
needed for correctness, which the saves' conflict checks provide.
"""

from __future__ import annotations

from typing import Any

from b24app.events import Event, on_event, portal_purged
from b24app.models import Portal
from widgets.common.freshness import deal_deleted_mark, deal_version_bump
from widgets.common.freshness import deal_version_key as deal_version_key  # tests/reliability read it from here
from widgets.common.readonly import readonly_forget
from widgets.common.refdata import refdata_drop


@on_event("ONCRMDEALUPDATE")
def on_deal_changed(portal: Portal, event: Event) -> None:
    """A new assignee may now edit: forget who was refused; and count the change for open tabs."""
    deal_id = event.entity_number
    if deal_id is None:
        return
    readonly_forget(portal_id=portal.pk, deal_id=deal_id)
    deal_version_bump(portal_id=portal.pk, deal_id=deal_id)


@on_event("ONCRMDEALDELETE")
def on_deal_deleted(portal: Portal, event: Event) -> None:
    """Open tabs of the deal say it is gone (widgets.common.freshness) and stop offering to save.

    Only a deletion the portal confirmed reaches here (b24app.events.event_confirmed): a forged
    one, sent with the APPLICATION_TOKEN any user can read, must not tell a live deal's tabs it is gone.
    """
    deal_id = event.entity_number
    if deal_id is None:
        return
    deal_deleted_mark(portal_id=portal.pk, deal_id=deal_id)
    on_deal_changed(portal, event)


@on_event("ONCRMDEALMOVETOCATEGORY")
def on_deal_moved(portal: Portal, event: Event) -> None:
    """A move may land in a funnel created after the stages were cached: read them again."""
    on_deal_changed(portal, event)
    refdata_drop(portal_id=portal.pk, kinds=("stages", "funnels"))


@on_event("ONAPPUNINSTALL")
def on_app_uninstalled(portal: Portal, event: Event) -> None:
    refdata_drop(portal_id=portal.pk)


def portal_data_purged(sender: Any, portal: Portal, **kwargs: Any) -> None:
    refdata_drop(portal_id=portal.pk)


def events_connect() -> None:
    portal_purged.connect(portal_data_purged, dispatch_uid="widgets.common.events.portal_data_purged")
