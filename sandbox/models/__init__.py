"""The sandbox portal's data: one Bitrix24 portal with its users, CRM, apps and logs.

Lives in the `sandbox` database alias (see b24app.dbrouters). Money is Decimal throughout;
the REST layer formats it as Bitrix24 does on the wire.

Django looks for an app's models in `sandbox.models`, and the code and migrations import them
from here, so this package re-exports every model. The submodules are imported in the order the
models were first declared: Django registers them in that order, and the seed wipes tables in
its reverse.
"""

from __future__ import annotations

# isort: off
from .base import YesNo, yn_field
from .access import AccessToken, App, AuthCode, Portal, RefreshToken, User, Webhook
from .dictionaries import Category, Currency, Status
from .crm import (
    CardConfig,
    Contact,
    Deal,
    DealContact,
    DealUserField,
    Multifield,
    Product,
    ProductRow,
    RecurringDeal,
)
from .bindings import EventBinding, EventDelivery, PlacementBinding
from .traffic import OperatingUsage, RateBucket, RequestLog

# isort: on

__all__ = [
    "AccessToken",
    "App",
    "AuthCode",
    "CardConfig",
    "Category",
    "Contact",
    "Currency",
    "Deal",
    "DealContact",
    "DealUserField",
    "EventBinding",
    "EventDelivery",
    "Multifield",
    "OperatingUsage",
    "PlacementBinding",
    "Portal",
    "Product",
    "ProductRow",
    "RateBucket",
    "RecurringDeal",
    "RefreshToken",
    "RequestLog",
    "Status",
    "User",
    "Webhook",
    "YesNo",
    "yn_field",
]
