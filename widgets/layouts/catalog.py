"""What a portal offers the layout editor: its deal funnels and deal fields with human labels.

Read with crm.category.list (entityTypeId 2, protocol §7.2) and crm.deal.fields (deals-api-spec.md
§5.6), plus the card's pseudo-fields (§8.1); kept briefly in the cache, as are people's names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.utils.translation import gettext as _

from b24app.models import Portal
from widgets.layouts.schema import PSEUDO_FIELDS

CATALOG_TTL = 120
NAME_TTL = 24 * 3600
DEAL_TYPE = 2


@dataclass(frozen=True)
class Funnel:
    id: int
    name: str
    is_default: bool


@dataclass(frozen=True)
class FieldInfo:
    name: str
    given_label: str  # the portal's title; for a card pseudo-field our English label
    kind: str  # "card" (pseudo-field), "deal" (standard) or "custom" (UF_)
    deprecated: bool = False

    @property
    def label(self) -> str:
        """In the reader's language: the portal's titles come translated, ours are translated here
        (the catalogue is cached for every reader, whatever their language)."""
        return _(self.given_label) if self.kind == "card" else self.given_label


@dataclass(frozen=True)
class Catalog:
    funnels: tuple[Funnel, ...]
    fields: tuple[FieldInfo, ...]

    @property
    def known(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields)

    def label(self, name: str) -> str:
        return next((f.label for f in self.fields if f.name == name), name)

    def funnel(self, funnel_id: int) -> Funnel | None:
        return next((f for f in self.funnels if f.id == funnel_id), None)

    @property
    def default_funnel(self) -> Funnel:
        fallback = self.funnels[0] if self.funnels else Funnel(0, _("General"), True)
        return next((f for f in self.funnels if f.is_default), fallback)


def _is_yes(value: Any) -> bool:
    # isDefault is typed boolean but every sample sends "Y"/"N" (protocol §7.2, §9 item 15).
    return value is True or value in ("Y", "y", 1, "1", "true")


def catalog_from_api(categories: Any, fields: Any) -> Catalog:
    raw = categories.get("categories", []) if isinstance(categories, dict) else categories
    funnels = tuple(
        Funnel(int(c["id"]), str(c.get("name") or _("Funnel %(id)s") % {"id": c["id"]}), _is_yes(c.get("isDefault")))
        for c in (raw if isinstance(raw, list) else [])
        if isinstance(c, dict) and str(c.get("id", "")).isdigit()
    )
    infos = [FieldInfo(name, label, "card") for name, label in PSEUDO_FIELDS.items()]
    for name, spec in (fields if isinstance(fields, dict) else {}).items():
        spec = spec if isinstance(spec, dict) else {}
        if name.startswith("UF_"):
            # A user field's title is its code; people know it by listLabel / formLabel.
            label = spec.get("formLabel") or spec.get("listLabel") or spec.get("title") or name
            infos.append(FieldInfo(name, str(label), "custom"))
        else:
            infos.append(FieldInfo(name, str(spec.get("title") or name), "deal", bool(spec.get("isDeprecated"))))
    return Catalog(funnels=tuple(sorted(funnels, key=lambda f: (not f.is_default, f.id))), fields=tuple(infos))


def catalog_key(kind: str, portal: Portal, user_id: int | None = None) -> str:
    return f"layout:{kind}:{portal.pk}" + (f":{user_id}" if user_id is not None else "")


def user_name_remember(portal: Portal, user: Any) -> str:
    if not isinstance(user, dict) or not str(user.get("ID", "")).isdigit():
        return ""
    name = " ".join(str(user.get(k) or "").strip() for k in ("NAME", "LAST_NAME")).strip()
    name = name or str(user.get("EMAIL") or "") or _("User %(id)s") % {"id": user["ID"]}
    cache.set(catalog_key("name", portal, int(user["ID"])), name[:200], NAME_TTL)
    return name


def user_name(portal: Portal, user_id: int) -> str:
    return str(cache.get(catalog_key("name", portal, user_id)) or _("User #%(id)s") % {"id": user_id})


def catalog_cached(portal: Portal) -> Catalog | None:
    cached = cache.get(catalog_key("catalog", portal))
    return cached if isinstance(cached, Catalog) else None


def catalog_remember(portal: Portal, catalog: Catalog) -> None:
    cache.set(catalog_key("catalog", portal), catalog, CATALOG_TTL)


# Valid on a card, but left out of the palette: covered by a card pseudo-field (amount and
# currency, client, UTM, recurring), or bookkeeping the card shows in its header anyway.
PALETTE_HIDDEN = frozenset(
    {
        "ID",
        "CATEGORY_ID",
        "STAGE_SEMANTIC_ID",
        "IS_NEW",
        "IS_RECURRING",
        "IS_MANUAL_OPPORTUNITY",
        "OPPORTUNITY",
        "CURRENCY_ID",
        "COMPANY_ID",
        "CONTACT_ID",
        "CONTACT_IDS",
        "MOVED_BY_ID",
        "MOVED_TIME",
        "LAST_ACTIVITY_TIME",
        "LAST_ACTIVITY_BY",
        "UTM_SOURCE",
        "UTM_MEDIUM",
        "UTM_CAMPAIGN",
        "UTM_CONTENT",
        "UTM_TERM",
    }
)
