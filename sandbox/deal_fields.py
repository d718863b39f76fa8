"""The deal's field table and how deals look on the wire (deals-api-spec.md §4, §5.3, §5.6, §9.1).

- `FIELDS`: the 45 standard descriptors of `crm.deal.fields`, verbatim from the §5.6 sample and in
  its order; `fields_description()` adds one descriptor per DealUserField.
- `deal_json(deal, select)`: a deal as `crm.deal.get` / `crm.deal.list` send it (IDs and money as
  strings, "Y"/"N", null for unset, ISO dates with offset, keys in the get sample's order).
- `item_json(deal)` (sandbox/deal_item.py): the same deal as `crm.item.*` send it.
- `filter_fields()` / `order_fields()` / `deals_queryset()`: what sandbox.listing needs for
  `crm.deal.list` (derived fields such as STAGE_SEMANTIC_ID and CONTACT_ID are annotations).
- `DealContext`: funnels, stages and user fields, read once per call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils.dateparse import parse_date, parse_datetime

from sandbox.listing import FieldSpec
from sandbox.models import Category, Deal, DealContact, DealUserField, Status
from sandbox.userfields import label, sorted_items
from sandbox.wire import date_str, datetime_str, id_str, money_str

# (name, type, title, flags, extra): flags R read-only, I immutable, M multiple, D deprecated.
_STANDARD: tuple[tuple[str, str, str, str, dict[str, Any]], ...] = (
    ("ID", "integer", "ID", "R", {}),
    ("TITLE", "string", "Title", "", {}),
    ("TYPE_ID", "crm_status", "Type", "", {"statusType": "DEAL_TYPE"}),
    ("CATEGORY_ID", "crm_category", "Sales Funnel", "I", {}),
    ("STAGE_ID", "crm_status", "Deal Stage", "", {"statusType": "DEAL_STAGE"}),
    ("STAGE_SEMANTIC_ID", "string", "Stage Group", "R", {}),
    ("IS_NEW", "char", "New Deal", "R", {}),
    ("IS_RECURRING", "char", "Recurring Deal", "", {}),
    ("IS_RETURN_CUSTOMER", "char", "Repeat Deal", "", {}),
    ("IS_REPEATED_APPROACH", "char", "Repeated Approach", "", {}),
    ("PROBABILITY", "integer", "Probability", "", {}),
    ("CURRENCY_ID", "crm_currency", "Currency", "", {}),
    ("OPPORTUNITY", "double", "Amount", "", {}),
    ("IS_MANUAL_OPPORTUNITY", "char", "IS_MANUAL_OPPORTUNITY", "", {}),
    ("TAX_VALUE", "double", "Tax Rate", "", {}),
    ("COMPANY_ID", "crm_company", "Company", "", {"settings": {"parentEntityTypeId": 4}}),
    ("CONTACT_ID", "crm_contact", "Contact", "D", {}),
    ("CONTACT_IDS", "crm_contact", "Contacts", "M", {}),
    ("QUOTE_ID", "crm_quote", "Estimate", "R", {"settings": {"parentEntityTypeId": 7}}),
    ("BEGINDATE", "date", "Start Date", "", {}),
    ("CLOSEDATE", "date", "Close Date", "", {}),
    ("OPENED", "char", "Available to All", "", {}),
    ("CLOSED", "char", "Closed", "", {}),
    ("COMMENTS", "string", "Comment", "", {}),
    ("ASSIGNED_BY_ID", "user", "Assignee", "", {}),
    ("CREATED_BY_ID", "user", "Created By", "R", {}),
    ("MODIFY_BY_ID", "user", "Modified By", "R", {}),
    ("MOVED_BY_ID", "user", "MOVED_BY_ID", "R", {}),
    ("DATE_CREATE", "datetime", "Creation Date", "R", {}),
    ("DATE_MODIFY", "datetime", "Modification Date", "R", {}),
    ("MOVED_TIME", "datetime", "MOVED_TIME", "R", {}),
    ("SOURCE_ID", "crm_status", "Source", "", {"statusType": "SOURCE"}),
    ("SOURCE_DESCRIPTION", "string", "Additional Info about Source", "", {}),
    ("LEAD_ID", "crm_lead", "Lead", "R", {"settings": {"parentEntityTypeId": 1}}),
    ("ADDITIONAL_INFO", "string", "Additional Information", "", {}),
    ("LOCATION_ID", "location", "Location", "", {}),
    ("ORIGINATOR_ID", "string", "External Source", "", {}),
    ("ORIGIN_ID", "string", "Identifier in External Source", "", {}),
    ("UTM_SOURCE", "string", "Advertising System", "", {}),
    ("UTM_MEDIUM", "string", "Traffic Type", "", {}),
    ("UTM_CAMPAIGN", "string", "Campaign Identifier", "", {}),
    ("UTM_CONTENT", "string", "Campaign Content", "", {}),
    ("UTM_TERM", "string", "Campaign Search Condition", "", {}),
    ("LAST_ACTIVITY_TIME", "datetime", "LAST_ACTIVITY_TIME", "R", {}),
    ("LAST_ACTIVITY_BY", "user", "LAST_ACTIVITY_BY", "R", {}),
)
STANDARD_NAMES = tuple(row[0] for row in _STANDARD)
READ_ONLY = frozenset(row[0] for row in _STANDARD if "R" in row[3])

# Key order of the crm.deal.get sample (§5.3); CONTACT_IDS is never returned by get or list.
GET_ORDER = (
    "ID", "TITLE", "TYPE_ID", "STAGE_ID", "PROBABILITY", "CURRENCY_ID", "OPPORTUNITY",
    "IS_MANUAL_OPPORTUNITY", "TAX_VALUE", "LEAD_ID", "COMPANY_ID", "CONTACT_ID", "QUOTE_ID",
    "BEGINDATE", "CLOSEDATE", "ASSIGNED_BY_ID", "CREATED_BY_ID", "MODIFY_BY_ID", "DATE_CREATE",
    "DATE_MODIFY", "OPENED", "CLOSED", "COMMENTS", "ADDITIONAL_INFO", "LOCATION_ID", "CATEGORY_ID",
    "STAGE_SEMANTIC_ID", "IS_NEW", "IS_RECURRING", "IS_RETURN_CUSTOMER", "IS_REPEATED_APPROACH",
    "SOURCE_ID", "SOURCE_DESCRIPTION", "ORIGINATOR_ID", "ORIGIN_ID", "MOVED_BY_ID", "MOVED_TIME",
    "LAST_ACTIVITY_TIME", "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM",
    "LAST_ACTIVITY_BY",
)  # fmt: skip

# UF settings as Bitrix24 reports the defaults of a new field (crm.company.fields sample, b24restdocs).
_UF_SETTINGS: dict[str, dict[str, Any]] = {
    "string": {"SIZE": 20, "ROWS": 1, "REGEXP": "", "MIN_LENGTH": 0, "MAX_LENGTH": 0, "DEFAULT_VALUE": ""},
    "enumeration": {"DISPLAY": "LIST", "LIST_HEIGHT": 1, "CAPTION_NO_VALUE": "", "SHOW_NO_VALUE": "Y"},
    "date": {"DEFAULT_VALUE": {"TYPE": "NONE", "VALUE": ""}},
}


def _descriptor(name: str, type_: str, title: str, flags: str, extra: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": type_,
        "isRequired": False,
        "isReadOnly": "R" in flags,
        "isImmutable": "I" in flags,
        "isMultiple": "M" in flags,
        "isDynamic": False,
    }
    if "D" in flags:
        result["isDeprecated"] = True
    if "statusType" in extra:
        result["statusType"] = extra["statusType"]
    result["title"] = title
    if "settings" in extra:
        result["settings"] = dict(extra["settings"])
    return result


def uf_descriptor(field: DealUserField, lang: str = "en") -> dict[str, Any]:
    """A UF field as legacy `*.fields` send it: Dynamic, title = FIELD_NAME, the label in *Label.

    Shape from restservice.php prepareFields (spec Appendix A.5) and the crm.company.fields sample
    in the current docs: `"isDynamic": true, "title": "UF_CRM_…", "listLabel": "New Field", …`; the labels
    are LIST_COLUMN_LABEL, EDIT_FORM_LABEL and LIST_FILTER_LABEL in the portal's language.
    """
    result: dict[str, Any] = {
        "type": field.user_type_id,
        "isRequired": field.mandatory == "Y",
        "isReadOnly": False,
        "isImmutable": False,
        "isMultiple": field.multiple == "Y",
        "isDynamic": True,
    }
    if field.user_type_id == "enumeration":
        result["items"] = [{"ID": str(i.get("ID", "")), "VALUE": str(i.get("VALUE", ""))} for i in sorted_items(field)]
    result.update(
        title=field.field_name,
        listLabel=label(field, "LIST_COLUMN_LABEL", lang),
        formLabel=label(field, "EDIT_FORM_LABEL", lang),
        filterLabel=label(field, "LIST_FILTER_LABEL", lang),
    )
    settings = field.settings or _UF_SETTINGS.get(field.user_type_id)
    if settings:
        result["settings"] = dict(settings)
    return result


def fields_description(user_fields: list[DealUserField]) -> dict[str, dict[str, Any]]:
    described = {row[0]: _descriptor(*row) for row in _STANDARD}
    described.update((field.field_name, uf_descriptor(field)) for field in user_fields)
    return described


# --- Funnels, stages, user fields --------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    status_id: str
    category_id: int
    sort: int
    semantic: str  # P in progress, S success, F failure


def category_of_entity(entity_id: str) -> int | None:
    """DEAL_STAGE is funnel 0, DEAL_STAGE_<n> funnel n (deals-api-spec.md §4.3)."""
    if entity_id == "DEAL_STAGE":
        return 0
    match = re.fullmatch(r"DEAL_STAGE_(\d+)", entity_id)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class DealContext:
    """What serializing and validating deals needs from the portal's settings."""

    stages: dict[str, Stage]
    user_fields: list[DealUserField]
    categories: frozenset[int]

    @classmethod
    def load(cls) -> DealContext:
        stages: dict[str, Stage] = {}
        for row in Status.objects.filter(entity_id__startswith="DEAL_STAGE").order_by("sort", "id"):
            category = category_of_entity(row.entity_id)
            if category is not None:
                stages[row.status_id] = Stage(row.status_id, category, row.sort, row.semantics or "P")
        return cls(
            stages=stages,
            user_fields=list(DealUserField.objects.order_by("sort", "id")),
            categories=frozenset(Category.objects.values_list("pk", flat=True)),
        )

    def funnel(self, category_id: int) -> list[Stage]:
        return sorted((s for s in self.stages.values() if s.category_id == category_id), key=lambda s: s.sort)

    def first_stage(self, category_id: int) -> Stage | None:
        funnel = self.funnel(category_id)
        return funnel[0] if funnel else None

    def semantic(self, stage_id: str) -> str:
        stage = self.stages.get(stage_id)
        return stage.semantic if stage else "P"

    def user_field(self, name: str) -> DealUserField | None:
        return next((f for f in self.user_fields if f.field_name == name), None)


# --- crm.deal.get / crm.deal.list ----------------------------------------------------------------


def primary_contact_id(deal: Deal) -> int | None:
    """CONTACT_ID mirrors the primary binding (§5.3 observation); uses prefetched bindings if any."""
    bindings = list(deal.contact_bindings.all())
    primary = next((b for b in bindings if b.is_primary == "Y"), bindings[0] if bindings else None)
    return primary.contact_id if primary else None


def _standard_values(deal: Deal, context: DealContext) -> dict[str, Any]:
    return {
        "ID": id_str(deal.pk),
        "TITLE": deal.title,
        "TYPE_ID": deal.type_id,
        "STAGE_ID": deal.stage_id,
        "PROBABILITY": id_str(deal.probability),
        "CURRENCY_ID": deal.currency_id,
        "OPPORTUNITY": money_str(deal.opportunity),
        "IS_MANUAL_OPPORTUNITY": deal.is_manual_opportunity,
        "TAX_VALUE": money_str(deal.tax_value),
        "LEAD_ID": id_str(deal.lead_id),
        "COMPANY_ID": id_str(deal.company_id),
        "CONTACT_ID": id_str(primary_contact_id(deal)),
        "QUOTE_ID": id_str(deal.quote_id),
        "BEGINDATE": date_str(deal.begindate),
        "CLOSEDATE": date_str(deal.closedate),
        "ASSIGNED_BY_ID": id_str(deal.assigned_by_id),
        "CREATED_BY_ID": id_str(deal.created_by_id),
        "MODIFY_BY_ID": id_str(deal.modify_by_id),
        "DATE_CREATE": datetime_str(deal.date_create),
        "DATE_MODIFY": datetime_str(deal.date_modify),
        "OPENED": deal.opened,
        "CLOSED": deal.closed,
        "COMMENTS": deal.comments,
        "ADDITIONAL_INFO": deal.additional_info,
        "LOCATION_ID": deal.location_id,
        "CATEGORY_ID": id_str(deal.category_id),
        "STAGE_SEMANTIC_ID": context.semantic(deal.stage_id),
        "IS_NEW": deal.is_new,
        "IS_RECURRING": deal.is_recurring,
        "IS_RETURN_CUSTOMER": deal.is_return_customer,
        "IS_REPEATED_APPROACH": deal.is_repeated_approach,
        "SOURCE_ID": deal.source_id,
        "SOURCE_DESCRIPTION": deal.source_description,
        "ORIGINATOR_ID": deal.originator_id,
        "ORIGIN_ID": deal.origin_id,
        "MOVED_BY_ID": id_str(deal.moved_by_id),
        "MOVED_TIME": datetime_str(deal.moved_time),
        "LAST_ACTIVITY_TIME": datetime_str(deal.last_activity_time),
        "UTM_SOURCE": deal.utm_source,
        "UTM_MEDIUM": deal.utm_medium,
        "UTM_CAMPAIGN": deal.utm_campaign,
        "UTM_CONTENT": deal.utm_content,
        "UTM_TERM": deal.utm_term,
        "LAST_ACTIVITY_BY": id_str(deal.last_activity_by),
    }


def uf_wire_value(field: DealUserField, stored: Any) -> Any:
    """UF values as the legacy methods send them: strings, dates with offset, [] for empty multiple."""
    if field.multiple == "Y":
        values = stored if isinstance(stored, list) else ([] if stored in (None, "") else [stored])
        return [_uf_scalar(field, v) for v in values]
    return None if stored is None else _uf_scalar(field, stored)


def _uf_scalar(field: DealUserField, value: Any) -> Any:
    if field.user_type_id == "date":
        parsed_date = parse_date(str(value)[:10])
        return date_str(parsed_date) if parsed_date else value
    if field.user_type_id == "datetime":
        parsed = parse_datetime(str(value))
        return datetime_str(parsed) if parsed else value
    return value


def deal_json(deal: Deal, select: list[str] | None = None, *, context: DealContext | None = None) -> dict[str, Any]:
    """A deal as crm.deal.get sends it; with `select`, only those keys (ID always), in get order."""
    context = context or DealContext.load()
    values = _standard_values(deal, context)
    for field in context.user_fields:
        values[field.field_name] = uf_wire_value(field, deal.uf.get(field.field_name))
    if select is None:
        return values
    wanted = set(select) | {"ID"}
    return {key: value for key, value in values.items() if key in wanted}


def resolve_select(raw: Any, context: DealContext) -> list[str]:
    """`*` = standard fields but not multiple ones, `UF_*` = UF fields but not multiple ones;
    omitted = `*` + `UF_*` (crm.deal.list docs, §5.4). Unknown names are ignored."""
    single_uf = [f.field_name for f in context.user_fields if f.multiple != "Y"]
    all_uf = {f.field_name for f in context.user_fields}
    standard = list(GET_ORDER)
    if isinstance(raw, dict):
        raw = list(raw.values())
    if not isinstance(raw, list) or not raw:
        return standard + single_uf
    chosen: list[str] = []
    for item in raw:
        name = str(item).strip().upper() if isinstance(item, str | int) else ""
        if name == "*":
            chosen.extend(standard)
        elif name == "UF_*":
            chosen.extend(single_uf)
        elif name in GET_ORDER or name in all_uf:
            chosen.append(name)
    return chosen


# --- Filters and order for crm.deal.list ---------------------------------------------------------

_FILTER_KINDS: dict[str, tuple[str, str]] = {
    "ID": ("pk", "int"), "TITLE": ("title", "str"), "TYPE_ID": ("type_id", "ref"),
    "CATEGORY_ID": ("category_id", "int"), "STAGE_ID": ("stage_id", "ref"),
    "STAGE_SEMANTIC_ID": ("api_stage_semantic", "ref"), "IS_NEW": ("is_new", "yn"),
    "IS_RECURRING": ("is_recurring", "yn"), "IS_RETURN_CUSTOMER": ("is_return_customer", "yn"),
    "IS_REPEATED_APPROACH": ("is_repeated_approach", "yn"), "PROBABILITY": ("probability", "int"),
    "CURRENCY_ID": ("currency_id", "ref"), "OPPORTUNITY": ("opportunity", "decimal"),
    "IS_MANUAL_OPPORTUNITY": ("is_manual_opportunity", "yn"), "TAX_VALUE": ("tax_value", "decimal"),
    "COMPANY_ID": ("company_id", "int"), "CONTACT_ID": ("api_contact_id", "int"),
    "QUOTE_ID": ("quote_id", "int"), "BEGINDATE": ("begindate", "date"),
    "CLOSEDATE": ("closedate", "date"), "OPENED": ("opened", "yn"), "CLOSED": ("closed", "yn"),
    "COMMENTS": ("comments", "str"), "ASSIGNED_BY_ID": ("assigned_by_id", "int"),
    "CREATED_BY_ID": ("created_by_id", "int"), "MODIFY_BY_ID": ("modify_by_id", "int"),
    "MOVED_BY_ID": ("moved_by_id", "int"), "DATE_CREATE": ("date_create", "datetime"),
    "DATE_MODIFY": ("date_modify", "datetime"), "MOVED_TIME": ("moved_time", "datetime"),
    "SOURCE_ID": ("source_id", "ref"), "SOURCE_DESCRIPTION": ("source_description", "str"),
    "LEAD_ID": ("lead_id", "int"), "ADDITIONAL_INFO": ("additional_info", "str"),
    "LOCATION_ID": ("location_id", "str"), "ORIGINATOR_ID": ("originator_id", "str"),
    "ORIGIN_ID": ("origin_id", "str"), "UTM_SOURCE": ("utm_source", "str"),
    "UTM_MEDIUM": ("utm_medium", "str"), "UTM_CAMPAIGN": ("utm_campaign", "str"),
    "UTM_CONTENT": ("utm_content", "str"), "UTM_TERM": ("utm_term", "str"),
    "LAST_ACTIVITY_TIME": ("last_activity_time", "datetime"), "LAST_ACTIVITY_BY": ("last_activity_by", "int"),
}  # fmt: skip
# CONTACT_IDS is deliberately absent: "The filter does not support the field CONTACT_IDS" (§5.4).


def filter_fields(context: DealContext) -> dict[str, FieldSpec]:
    specs = {name: FieldSpec(orm, kind) for name, (orm, kind) in _FILTER_KINDS.items()}
    for field in context.user_fields:
        kind = "ref" if field.user_type_id == "enumeration" else "str"
        specs[field.field_name] = FieldSpec(f"uf__{field.field_name}", kind)
    return specs


def order_fields(context: DealContext) -> dict[str, FieldSpec]:
    """As filter_fields, but STAGE_ID sorts by the stages' sort order (restservice.php, §13 #31)."""
    specs = filter_fields(context)
    specs["STAGE_ID"] = FieldSpec("api_stage_sort", "int")
    return specs


def deals_queryset() -> QuerySet[Deal]:
    """Deals with the derived fields the list filters and sorts on."""
    stage = Status.objects.filter(entity_id__startswith="DEAL_STAGE", status_id=OuterRef("stage_id"))
    primary = DealContact.objects.filter(deal=OuterRef("pk"), is_primary="Y").values("contact_id")[:1]
    return Deal.objects.annotate(
        api_stage_semantic=Coalesce(NullIf(Subquery(stage.values("semantics")[:1]), Value("")), Value("P")),
        api_stage_sort=Subquery(stage.values("sort")[:1]),
        api_contact_id=Subquery(primary),
    ).prefetch_related("contact_bindings")
