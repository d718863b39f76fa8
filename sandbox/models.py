"""The sandbox portal's data: one Bitrix24 portal with its users, CRM, apps and logs.

Lives in the `sandbox` database alias (see b24app.dbrouters). Money is Decimal throughout;
the REST layer formats it as Bitrix24 does on the wire.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models


class YesNo(models.TextChoices):
    YES = "Y", "Yes"
    NO = "N", "No"


def yn_field(default: str = "N") -> models.CharField[str, str]:
    return models.CharField(max_length=1, choices=YesNo.choices, default=default)


class Portal(models.Model):
    """The portal itself (a single row): identity, fault injection and limit overrides."""

    class Fault(models.TextChoices):
        NONE = "", "None"
        LIMIT = "limit", "Every call answers 503 QUERY_LIMIT_EXCEEDED"
        DOWN_HTML = "down_html", "Portal down: 502 HTML error page"
        DOWN_RESET = "down_reset", "Portal down: connection closed without an answer"
        APPLIED_SLOW = "applied_slow", "A write is applied, then its answer waits the delay"
        APPLIED_RESET = "applied_reset", "A write is applied, then the connection closes without an answer"
        APPLIED_DOWN = "applied_down", "A write is applied, then the portal goes down (502 pages)"

    member_id = models.CharField(max_length=32, unique=True)
    license = models.CharField(max_length=40, default="en_pro100")
    fault = models.CharField(max_length=20, choices=Fault.choices, default=Fault.NONE, blank=True)
    fault_delay_ms = models.PositiveIntegerField(default=0)
    limits_enabled = models.BooleanField(null=True, blank=True)  # None = from settings
    rate_limit = models.FloatField(null=True, blank=True)  # None = from settings
    rate_burst = models.PositiveIntegerField(null=True, blank=True)
    # Version switches: the sandbox behaves as the current cloud; these turn on what older portals
    # do (bitrix24-protocol.md §5.2 and §5.3 item 4), so an app can be tried against both.
    older_placement_commands = models.BooleanField(default=False)
    older_placement_form = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Portal {self.member_id}"


class User(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Administrator"
        MANAGER = "manager", "Sales manager"
        REP = "rep", "Sales rep"
        READONLY = "readonly", "Read-only"

    id = models.PositiveIntegerField(primary_key=True)
    name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    second_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=20, choices=Role.choices)
    active = models.BooleanField(default=True)
    work_position = models.CharField(max_length=100, blank=True)
    department_ids = models.JSONField(default=list)
    personal_gender = models.CharField(max_length=1, blank=True)
    lang = models.CharField(max_length=2, default="en")
    time_zone = models.CharField(max_length=50, blank=True)
    date_register = models.DateTimeField()
    last_login = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.name} {self.last_name}".strip()

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN


class App(models.Model):
    """A marketplace app registered on this portal, and its install state."""

    class State(models.TextChoices):
        NOT_INSTALLED = "not_installed", "Not installed"
        INSTALLING = "installing", "Installing (waiting for BX24.installFinish)"
        INSTALLED = "installed", "Installed"
        UNINSTALLED = "uninstalled", "Uninstalled"

    client_id = models.CharField(max_length=100, unique=True)
    client_secret = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    handler_url = models.URLField(max_length=500)  # the app's main URL
    install_url = models.URLField(max_length=500, blank=True)  # installer page (scenario A)
    event_install_url = models.URLField(max_length=500, blank=True)  # ONAPPINSTALL handler
    redirect_uri = models.URLField(max_length=500, blank=True)  # OAuth authorization-code redirect
    scope = models.CharField(max_length=300, default="crm,placement,user_brief")
    state = models.CharField(max_length=20, choices=State.choices, default=State.NOT_INSTALLED)
    status = models.CharField(max_length=1, default="L")  # L/F/D/T/P/S as in app.info STATUS
    application_token = models.CharField(max_length=32, blank=True)
    installed_at = models.DateTimeField(null=True, blank=True)
    installed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    app_options = models.JSONField(default=dict)

    def __str__(self) -> str:
        return self.name

    @property
    def is_installed(self) -> bool:
        return self.state == self.State.INSTALLED

    @property
    def scopes(self) -> list[str]:
        return [s for s in self.scope.split(",") if s]


class AuthCode(models.Model):
    code = models.CharField(max_length=64, unique=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE)
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    expires_at = models.DateTimeField()
    used = models.BooleanField(default=False)


class AccessToken(models.Model):
    token = models.CharField(max_length=64, unique=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="access_tokens")
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    scope = models.CharField(max_length=300)
    expires_at = models.DateTimeField()
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)


class RefreshToken(models.Model):
    """Single use: spending one revokes it (and, as older docs say, its paired access token)."""

    token = models.CharField(max_length=64, unique=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="refresh_tokens")
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    scope = models.CharField(max_length=300)
    access_token = models.ForeignKey(AccessToken, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)


class Webhook(models.Model):
    """An inbound webhook: /rest/<user_id>/<code>/<method>."""

    user = models.ForeignKey(User, on_delete=models.CASCADE)
    code = models.CharField(max_length=32, unique=True)
    scope = models.CharField(max_length=300, default="crm,user,user_brief")
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class Currency(models.Model):
    code = models.CharField(max_length=3, primary_key=True)
    full_name = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    amount_cnt = models.PositiveIntegerField(default=1)
    sort = models.IntegerField(default=100)
    base = models.BooleanField(default=False)
    format_string = models.CharField(max_length=50)
    dec_point = models.CharField(max_length=5, default=".")
    thousands_sep = models.CharField(max_length=10, null=True, blank=True)
    decimals = models.PositiveSmallIntegerField(default=2)
    date_update = models.DateTimeField()

    class Meta:
        ordering = ["sort", "code"]


class Category(models.Model):
    """A deal funnel (crm.category, entityTypeId 2). The default funnel has id 0."""

    id = models.PositiveIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    sort = models.IntegerField(default=500)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["sort", "id"]


class Status(models.Model):
    """A row of a CRM dictionary (crm.status): deal stages per funnel, deal types, sources..."""

    entity_id = models.CharField(max_length=50)  # DEAL_STAGE, DEAL_STAGE_1, DEAL_TYPE, SOURCE ...
    status_id = models.CharField(max_length=50)  # NEW, C1:NEW, SALE ...
    name = models.CharField(max_length=200)
    name_init = models.CharField(max_length=200, blank=True)
    sort = models.IntegerField(default=10)
    system = yn_field("N")
    category_id = models.PositiveIntegerField(null=True, blank=True)
    color = models.CharField(max_length=10, blank=True)
    semantics = models.CharField(max_length=1, blank=True)  # "" in progress, S success, F failure

    class Meta:
        ordering = ["entity_id", "sort", "id"]
        unique_together = [("entity_id", "status_id")]


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


class PlacementBinding(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="placements")
    placement = models.CharField(max_length=100)
    handler = models.URLField(max_length=500)
    title = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=500, blank=True)
    group_name = models.CharField(max_length=200, blank=True)
    lang_all = models.JSONField(default=dict)
    options = models.JSONField(default=list)
    user_id = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]


class EventBinding(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="event_bindings")
    event = models.CharField(max_length=100)  # stored upper-case
    handler = models.URLField(max_length=500, blank=True)
    auth_type = models.PositiveIntegerField(default=0)
    offline = models.BooleanField(default=False)
    connector_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["id"]


class EventDelivery(models.Model):
    """One attempt to deliver an event (no retries, as Bitrix24)."""

    binding = models.ForeignKey(EventBinding, null=True, on_delete=models.SET_NULL)
    event = models.CharField(max_length=100)
    handler = models.URLField(max_length=500)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]


class RequestLog(models.Model):
    """Every REST call the portal answered, so a person (and a test) sees what each click costs."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    method = models.CharField(max_length=150)
    batch_size = models.PositiveIntegerField(default=0)  # commands in a batch, 0 otherwise
    batch_methods = models.JSONField(default=list)
    caller = models.CharField(max_length=150)  # client_id, "webhook:<id>" or "anonymous"
    user_id = models.PositiveIntegerField(null=True, blank=True)
    http_status = models.PositiveIntegerField()
    error = models.CharField(max_length=100, blank=True)
    duration_ms = models.FloatField(default=0)
    client_ip = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["-id"]


class RateBucket(models.Model):
    """Leaky bucket state per (portal, client IP) for QUERY_LIMIT_EXCEEDED."""

    key = models.CharField(max_length=200, unique=True)
    level = models.FloatField(default=0)
    updated = models.FloatField(default=0)  # unix time of the last drain


class OperatingUsage(models.Model):
    """Seconds spent per (app or webhook, method) in one-minute buckets, for OPERATION_TIME_LIMIT."""

    key = models.CharField(max_length=200)
    method = models.CharField(max_length=150)
    minute = models.PositiveBigIntegerField()  # unix minute
    seconds = models.FloatField(default=0)

    class Meta:
        unique_together = [("key", "method", "minute")]
