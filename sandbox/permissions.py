"""What each sandbox user may do with CRM data.

Roles: administrator and sales manager may do everything; a sales rep reads every deal but
edits and deletes only deals assigned to them; a read-only user reads and may not write.
"""

from __future__ import annotations

from sandbox.models import Deal, User


def can_read_crm(user: User) -> bool:
    return user.active


def can_add(user: User) -> bool:
    return user.role != User.Role.READONLY


def can_edit_deal(user: User, deal: Deal) -> bool:
    if user.role in (User.Role.ADMIN, User.Role.MANAGER):
        return True
    if user.role == User.Role.REP:
        return deal.assigned_by_id == user.pk
    return False


def can_delete_deal(user: User, deal: Deal) -> bool:
    return can_edit_deal(user, deal)


def can_edit_contacts(user: User) -> bool:
    return can_add(user)


def can_manage_settings(user: User) -> bool:
    """CRM settings: funnels, stages, common card layouts, other users' layouts."""
    return user.is_admin
