"""Who reaches the portal: the portal itself, its users, its apps, their OAuth tokens and webhooks."""

from __future__ import annotations

from django.db import models


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
