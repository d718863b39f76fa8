"""The CRM's records: contacts, products, deals with their contacts, product rows,
user fields, card layouts and recurrences.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from .base import yn_field


class Contact(models.Model):
    name = models.CharField(max_length=100, blank=True)
    second_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    post = models.CharField(max_length=200, blank=True)
    honorific = models.CharField(max_length=20, blank=True)
    type_id = models.CharField(max_length=50, default="CLIENT")
    source_id = models.CharField(max_length=50, blank=True)
    company_id = models.PositiveIntegerField(null=True, blank=True)
    assigned_by_id = models.PositiveIntegerField(default=1)
    created_by_id = models.PositiveIntegerField(default=1)
    modify_by_id = models.PositiveIntegerField(default=1)
    opened = yn_field("Y")
    comments = models.TextField(blank=True)
    date_create = models.DateTimeField()
    date_modify = models.DateTimeField()
    uf = models.JSONField(default=dict)

    def __str__(self) -> str:
        return " ".join(p for p in (self.name, self.last_name) if p) or f"Contact #{self.pk}"


class Multifield(models.Model):
    """Phones, e-mails, web sites and messengers of a CRM entity (crm_multifield)."""

    entity_id = models.CharField(max_length=20, default="CONTACT")
    element_id = models.PositiveIntegerField()
    type_id = models.CharField(max_length=10)  # PHONE, EMAIL, WEB, IM
    value_type = models.CharField(max_length=20, default="WORK")
    value = models.CharField(max_length=250)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["entity_id", "element_id"]), models.Index(fields=["type_id", "value"])]


class Product(models.Model):
    catalog_id = models.PositiveIntegerField(default=25)
    name = models.CharField(max_length=255)
    code = models.CharField(max_length=255, blank=True)
    active = yn_field("Y")
    price = models.DecimalField(max_digits=20, decimal_places=4, default=Decimal("0"))
    currency_id = models.CharField(max_length=3, default="USD")
    section_id = models.PositiveIntegerField(null=True, blank=True)
    sort = models.IntegerField(default=500)
    description = models.TextField(blank=True)
    vat_id = models.PositiveIntegerField(null=True, blank=True)
    vat_rate = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    vat_included = yn_field("N")
    measure_code = models.PositiveIntegerField(default=796)
    measure_name = models.CharField(max_length=20, default="pcs")
    xml_id = models.CharField(max_length=255, blank=True)
    type = models.PositiveSmallIntegerField(default=1)  # 1 product, 4 offer, 7 service
    created_by = models.PositiveIntegerField(default=1)
    modified_by = models.PositiveIntegerField(default=1)
    date_create = models.DateTimeField()
    timestamp_x = models.DateTimeField()

    class Meta:
        ordering = ["sort", "id"]


class Deal(models.Model):
    title = models.CharField(max_length=255)
    type_id = models.CharField(max_length=50, default="SALE")
    category_id = models.PositiveIntegerField(default=0)
    stage_id = models.CharField(max_length=50, default="NEW")
    is_new = yn_field("Y")
    is_recurring = yn_field("N")
    is_return_customer = yn_field("N")
    is_repeated_approach = yn_field("N")
    probability = models.IntegerField(null=True, blank=True)
    currency_id = models.CharField(max_length=3, default="USD")
    opportunity = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0"))
    is_manual_opportunity = yn_field("N")
    tax_value = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0"))
    company_id = models.PositiveIntegerField(null=True, blank=True)
    quote_id = models.PositiveIntegerField(null=True, blank=True)
    lead_id = models.PositiveIntegerField(null=True, blank=True)
    begindate = models.DateField(null=True, blank=True)
    closedate = models.DateField(null=True, blank=True)
    opened = yn_field("Y")
    closed = yn_field("N")
    comments = models.TextField(blank=True)
    assigned_by_id = models.PositiveIntegerField(default=1)
    created_by_id = models.PositiveIntegerField(default=1)
    modify_by_id = models.PositiveIntegerField(default=1)
    moved_by_id = models.PositiveIntegerField(null=True, blank=True)
    date_create = models.DateTimeField()
    date_modify = models.DateTimeField()
    moved_time = models.DateTimeField(null=True, blank=True)
    source_id = models.CharField(max_length=50, blank=True)
    source_description = models.TextField(blank=True)
    additional_info = models.TextField(blank=True)
    location_id = models.CharField(max_length=50, null=True, blank=True)
    originator_id = models.CharField(max_length=255, null=True, blank=True)
    origin_id = models.CharField(max_length=255, null=True, blank=True)
    utm_source = models.CharField(max_length=255, null=True, blank=True)
    utm_medium = models.CharField(max_length=255, null=True, blank=True)
    utm_campaign = models.CharField(max_length=255, null=True, blank=True)
    utm_content = models.CharField(max_length=255, null=True, blank=True)
    utm_term = models.CharField(max_length=255, null=True, blank=True)
    last_activity_time = models.DateTimeField(null=True, blank=True)
    last_activity_by = models.PositiveIntegerField(null=True, blank=True)
    observer_ids = models.JSONField(default=list)
    uf = models.JSONField(default=dict)  # UF_CRM_* values by field name

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title


class DealContact(models.Model):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="contact_bindings")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="deal_bindings")
    sort = models.IntegerField(default=10)
    role_id = models.IntegerField(default=0)
    is_primary = yn_field("N")

    class Meta:
        ordering = ["sort", "id"]
        unique_together = [("deal", "contact")]


class ProductRow(models.Model):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="product_rows")
    product_id = models.PositiveIntegerField(default=0)
    product_name = models.CharField(max_length=255)
    original_product_name = models.CharField(max_length=255, blank=True)
    product_description = models.TextField(null=True, blank=True)
    price = models.DecimalField(max_digits=24, decimal_places=6)
    price_exclusive = models.DecimalField(max_digits=24, decimal_places=6)
    price_netto = models.DecimalField(max_digits=24, decimal_places=6)
    price_brutto = models.DecimalField(max_digits=24, decimal_places=6)
    price_account = models.DecimalField(max_digits=24, decimal_places=2)
    quantity = models.DecimalField(max_digits=24, decimal_places=4, default=Decimal("1"))
    discount_type_id = models.PositiveSmallIntegerField(default=2)
    discount_rate = models.DecimalField(max_digits=24, decimal_places=6, default=Decimal("0"))
    discount_sum = models.DecimalField(max_digits=24, decimal_places=6, default=Decimal("0"))
    tax_rate = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    tax_included = yn_field("N")
    customized = yn_field("Y")
    measure_code = models.PositiveIntegerField(default=0)
    measure_name = models.CharField(max_length=50, blank=True)
    sort = models.IntegerField(default=0)
    xml_id = models.CharField(max_length=255, blank=True)
    type = models.PositiveSmallIntegerField(default=1)
    store_id = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort", "id"]


class DealUserField(models.Model):
    """A deal user field (UF_CRM_*), so crm.deal.fields and card layouts include custom fields."""

    field_name = models.CharField(max_length=50, unique=True)
    user_type_id = models.CharField(max_length=30, default="string")  # string, double, date, enumeration...
    label = models.CharField(max_length=200)
    multiple = yn_field("N")
    mandatory = yn_field("N")
    sort = models.IntegerField(default=100)
    # Enumeration values [{"ID": "1", "VALUE": "...", "DEF": "N", "SORT": "10", "XML_ID": "..."}];
    # IDs are unique across the portal, as b_user_field_enum's are (sandbox.userfields allocates them).
    items = models.JSONField(default=list)
    xml_id = models.CharField(max_length=255, null=True, blank=True)
    show_filter = models.CharField(max_length=1, default="N")  # N, I exact, E mask, S substring
    show_in_list = yn_field("Y")
    edit_in_list = yn_field("Y")
    is_searchable = yn_field("N")
    settings = models.JSONField(default=dict)  # the type's effective SETTINGS
    # Per-language texts: {"EDIT_FORM_LABEL": {"en": "...", "de": "..."}, "LIST_COLUMN_LABEL": ...};
    # a kind or language missing here falls back to `label`.
    labels = models.JSONField(default=dict)

    class Meta:
        ordering = ["sort", "id"]


class CardConfig(models.Model):
    """A stored deal card layout: per funnel, common (C) or personal (P) for one user."""

    class Scope(models.TextChoices):
        COMMON = "C", "Common"
        PERSONAL = "P", "Personal"

    category_id = models.PositiveIntegerField(default=0)
    scope = models.CharField(max_length=1, choices=Scope.choices)
    user_id = models.PositiveIntegerField(null=True, blank=True)
    data = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        unique_together = [("category_id", "scope", "user_id")]


class RecurringDeal(models.Model):
    """Recurrence settings of a deal template (crm.deal.recurring.*)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="recurrences")
    base_deal_id = models.PositiveIntegerField(null=True, blank=True)
    active = yn_field("Y")
    next_execution = models.DateField(null=True, blank=True)
    last_execution = models.DateField(null=True, blank=True)
    counter_repeat = models.PositiveIntegerField(default=0)
    start_date = models.DateField(null=True, blank=True)
    category_id = models.PositiveIntegerField(default=0)
    is_limit = models.CharField(max_length=1, default="N")  # N none, D by date, T by times
    limit_repeat = models.PositiveIntegerField(null=True, blank=True)
    limit_date = models.DateField(null=True, blank=True)
    params = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
