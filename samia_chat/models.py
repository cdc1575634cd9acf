"""The kernel's data: users with their one role, refresh tokens, access events."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CLIENT = "client", _("Client")
    READER = "reader", _("Reader")
    MONITOR = "monitor", _("Monitor")
    ADMIN = "admin", _("Admin")
    SUPER_ADMIN = "super_admin", _("Super admin")


STAFF_ROLES = frozenset({Role.MONITOR, Role.ADMIN, Role.SUPER_ADMIN})
# Who decides held messages, and who decides reader applications and asks for privileged
# changes (a super admin approves those).
REVIEWER_ROLES = STAFF_ROLES
ADMIN_ROLES = frozenset({Role.ADMIN, Role.SUPER_ADMIN})
SESSION_OPENER_ROLES = frozenset({Role.ADMIN, Role.SUPER_ADMIN})

# What each staff role may do in the Django admin, by app and permission verb. Super admins
# may do everything. Changing users (and so roles) is a super admin's privilege.
ADMIN_PERMISSIONS: dict[str, dict[str, frozenset[str]]] = {
    Role.MONITOR: {
        "chat": frozenset({"view"}),
        "samia_chat": frozenset({"view"}),
        "approvals": frozenset({"view", "change"}),
    },
    Role.ADMIN: {
        "chat": frozenset({"view", "change"}),
        "samia_chat": frozenset({"view"}),
        "auditlog": frozenset({"view"}),
        "approvals": frozenset({"view", "change", "add"}),
    },
}


class User(AbstractUser):
    """A person using SAMIA Chat. Exactly one role; staff roles also reach the admin."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CLIENT)
    display_name = models.CharField(max_length=80, blank=True)
    # Raised by "sign out everywhere" (and erasure): it changes the session auth hash, so
    # every browser session and every access token issued before ends at once.
    auth_epoch = models.PositiveIntegerField(default=0)
    # False while a reader who signed up waits for an admin's approval (approvals app): they
    # take no sessions and no emergency calls. Readers made by staff start approved.
    reader_approved = models.BooleanField(default=True)

    @property
    def is_staff_role(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def may_give_readings(self) -> bool:
        """An active reader whose application (if they made one) was approved."""
        return self.role == Role.READER and self.is_active and self.reader_approved

    @property
    def public_name(self) -> str:
        return self.display_name or self.username

    def save(self, *args, **kwargs) -> None:
        # Admin access follows the role, so there is one source of truth; an account made
        # with createsuperuser is a super admin.
        if self.is_superuser:
            self.role = Role.SUPER_ADMIN
        self.is_staff = self.role in STAFF_ROLES
        super().save(*args, **kwargs)

    def get_session_auth_hash(self) -> str:
        base = super().get_session_auth_hash()
        if not self.auth_epoch:
            return base
        return salted_hmac("samia.auth-epoch", f"{base}:{self.auth_epoch}").hexdigest()

    def has_perm(self, perm: str, obj=None) -> bool:
        if not self.is_active:
            return False
        if self.role == Role.SUPER_ADMIN or super().has_perm(perm, obj):
            return True
        app_label, _, codename = perm.partition(".")
        verb = codename.split("_", 1)[0]
        return verb in ADMIN_PERMISSIONS.get(self.role, {}).get(app_label, frozenset())

    def has_module_perms(self, app_label: str) -> bool:
        if not self.is_active:
            return False
        if self.role == Role.SUPER_ADMIN or super().has_module_perms(app_label):
            return True
        return app_label in ADMIN_PERMISSIONS.get(self.role, {})


class RefreshToken(models.Model):
    """A rotating refresh token. Only its SHA-256 is stored; each use replaces it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="refresh_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    family = models.CharField(max_length=32, db_index=True)
    # The user's password fingerprint when issued: a password change invalidates it.
    fingerprint = models.CharField(max_length=24)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"refresh token of {self.user_id} ({self.family[:8]})"


class AccessEvent(models.Model):
    """An audited access: logins, failed logins, staff reads, token use, redactions.

    Model changes are recorded by django-auditlog; these are the events that change no
    row but still matter (who looked at what, who failed to log in).
    """

    class Action(models.TextChoices):
        LOGIN = "login", _("Login")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOGOUT = "logout", _("Logout")
        TOKEN_ISSUED = "token_issued", _("Token issued")
        TOKEN_REUSED = "token_reused", _("Refresh token reused")
        TOKEN_REFRESHED = "token_refreshed", _("Token refreshed")
        TOKEN_REVOKED = "token_revoked", _("Tokens revoked")
        STAFF_READ = "staff_read", _("Staff read")
        SESSION_OPENED = "session_opened", _("Session opened")
        SESSION_STATUS = "session_status", _("Session status changed")
        REDACTION = "redaction", _("Message redacted")
        DOWNLOAD = "download", _("Staff file download")
        FILE_KEYS_ROTATED = "file_keys_rotated", _("File keys rotated")
        FILES_SWEPT = "files_swept", _("Unreferenced files removed")
        APPROVAL = "approval", _("Approval decided")
        CHANGE_REQUESTED = "change_requested", _("Privileged change requested")
        ROLE_CHANGED = "role_changed", _("Role changed")
        ERASURE = "erasure", _("Account erased")
        RETENTION_RUN = "retention_run", _("Retention applied")
        LEGAL_HOLD = "legal_hold", _("Legal hold placed or lifted")
        CONSENT = "consent", _("Consent given or withdrawn")
        EXPORT = "export", _("Data export downloaded")
        ERASURE_REQUESTED = "erasure_requested", _("Erasure requested by the user")
        LEGACY_IMPORT = "legacy_import", _("Legacy data imported")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="access_events",
    )
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.target_type} {self.target_id}".strip()


class Consent(models.Model):
    """One consent given or withdrawn: what, which version of the text, when, from where.

    Rows are never changed: withdrawing adds a row with `granted=False`. A person's current
    state of a kind is their newest row of it.
    """

    class Kind(models.TextChoices):
        TERMS = "terms", _("Terms of service")
        VOICE = "voice", _("Voice recording and processing")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    version = models.CharField(max_length=32)
    granted = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "kind", "-created_at"], name="consent_current")]

    def __str__(self) -> str:
        verb = "gave" if self.granted else "withdrew"
        return f"{self.user} {verb} {self.get_kind_display()} v{self.version}"
