"""Who Bitrix24 refused to let change a deal: remembered briefly so the tab opens read-only
without asking again; forgotten when the deal changes (a new assignee may now edit)."""

from __future__ import annotations

from django.core.cache import cache

READ_ONLY_TTL = 10 * 60


def readonly_key(portal_id: int, deal_id: int) -> str:
    return f"dealdesk:readonly:{portal_id}:{deal_id}"


def readonly_remembered(*, portal_id: int, user_id: int, deal_id: int) -> bool:
    return user_id in (cache.get(readonly_key(portal_id, deal_id)) or ())


def readonly_remember(*, portal_id: int, user_id: int, deal_id: int) -> None:
    users = set(cache.get(readonly_key(portal_id, deal_id)) or ()) | {user_id}
    cache.set(readonly_key(portal_id, deal_id), sorted(users), READ_ONLY_TTL)


def readonly_forget(*, portal_id: int, deal_id: int) -> None:
    cache.delete(readonly_key(portal_id, deal_id))
