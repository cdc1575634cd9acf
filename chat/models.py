"""Conversations, their members and their messages."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def default_text_quota() -> int:
    return settings.CHAT["CLIENT_TEXT_QUOTA_CHARS"]


def default_voice_quota() -> int:
    return settings.CHAT["CLIENT_VOICE_QUOTA_SECONDS"]


def default_image_quota() -> int:
    return settings.CHAT["IMAGE_QUOTA"]


class ChatSession(models.Model):
    class Kind(models.TextChoices):
        READING = "reading", _("Reading")
        EMERGENCY = "emergency", _("Emergency")
        SUPPORT = "support", _("Support")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        LOCKED = "locked", _("Locked")
        ENDED = "ended", _("Ended")

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.READING)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    # The booking lives in the wider platform; here it is only a reference.
    booking_ref = models.CharField(max_length=64, null=True, blank=True)
    service_name = models.CharField(max_length=120, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    # Kept under the session row lock by message_send, so the inbox needs no aggregate.
    last_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_activity_at = models.DateTimeField(auto_now_add=True, db_index=True)

    client_text_quota_chars = models.PositiveIntegerField(default=default_text_quota)
    client_voice_quota_seconds = models.PositiveIntegerField(default=default_voice_quota)
    image_quota = models.PositiveIntegerField(default=default_image_quota)
    client_text_chars_used = models.PositiveIntegerField(default=0)
    client_voice_seconds_used = models.PositiveIntegerField(default=0)
    images_used = models.PositiveIntegerField(default=0)

    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="chat_sessions"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["booking_ref"],
                condition=Q(booking_ref__isnull=False),
                name="chat_session_unique_booking_ref",
            )
        ]

    def __str__(self) -> str:
        label = self.booking_ref or f"#{self.pk}"
        return f"{self.get_kind_display()} {label}"


class Membership(models.Model):
    """A participant of a session, with how far they have read."""

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    last_read_message_id = models.BigIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="chat_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.session}"


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


class Attachment(models.Model):
    """A file carried by a message: a voice note, an image or a document.

    The bytes live encrypted in the `chat-files` store (samia_chat.filecrypt); this row
    holds what is needed to find, decrypt and describe them. `public_id` is what URLs
    carry, so ids cannot be enumerated.
    """

    class Kind(models.TextChoices):
        VOICE = "voice", _("Voice note")
        IMAGE = "image", _("Image")
        FILE = "file", _("File")

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    content_type = models.CharField(max_length=64)
    name = models.CharField(max_length=160)
    size_bytes = models.PositiveBigIntegerField()
    storage_key = models.CharField(max_length=255, unique=True)
    key_id = models.CharField(max_length=32)
    wrapped_key = models.BinaryField(max_length=64)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    waveform = models.JSONField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        VOICE = "voice", _("Voice note")
        IMAGE = "image", _("Image")
        FILE = "file", _("File")
        SYSTEM = "system", _("System")
        EMERGENCY = "emergency", _("Emergency")

    class Status(models.TextChoices):
        SENT = "sent", _("Sent")
        PENDING_REVIEW = "pending_review", _("Pending review")
        REJECTED = "rejected", _("Rejected")
        DELETED = "deleted", _("Deleted")
        REDACTED = "redacted", _("Redacted")

    # Ids come from one sequence, and sends to a session are serialised by its row lock,
    # so within a session ids increase in commit order: "after=<id>" never skips a row.
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENT)
    client_msg_id = models.CharField(max_length=64, null=True, blank=True)
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    redacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    redaction_reason = models.CharField(max_length=500, blank=True)
    # Removed (row and stored bytes) when the message is deleted or redacted.
    attachment = models.OneToOneField(
        Attachment, null=True, blank=True, on_delete=models.SET_NULL, related_name="message"
    )

    class Meta:
        constraints = [
            # The idempotency key: a retried send finds the row it already made.
            models.UniqueConstraint(
                fields=["session", "sender", "client_msg_id"],
                condition=Q(client_msg_id__isnull=False),
                name="chat_message_unique_client_msg_id",
            )
        ]
        indexes = [models.Index(fields=["session", "id"], name="chat_message_session_id")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_tombstone(self) -> bool:
        return self.status in {self.Status.DELETED, self.Status.REDACTED}


# --- Emergency readings and safety alerts ---------------------------------------------------


class ReaderAvailability(models.Model):
    """Whether a reader takes emergency calls right now."""

    reader = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="availability"
    )
    on_call = models.BooleanField(default=False, db_index=True)
    changed_at = models.DateTimeField(auto_now_add=True)
    # Set by the worker when an on-call reader has no open socket; cleared when they return.
    offline_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "reader availability"

    def __str__(self) -> str:
        return f"{self.reader} {'on call' if self.on_call else 'off call'}"


class EmergencyRequest(models.Model):
    """A client's call for an emergency reading and where it stands on the ladder.

    `next_step_at` is the durable timer: the worker applies the step due at that time
    (alert staff, alert super_admins, expire), so a restart loses no escalation.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Ringing readers")
        ESCALATED = "escalated", _("Escalated to staff")
        ACCEPTED = "accepted", _("Accepted")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    class Step(models.IntegerChoices):
        READERS = 0, _("On-call readers")
        STAFF = 1, _("Monitors and admins")
        SUPER_ADMINS = 2, _("Super admins")
        CLOSED = 3, _("Closed")

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="emergency_requests"
    )
    reason = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    step = models.PositiveSmallIntegerField(choices=Step.choices, default=Step.READERS)
    next_step_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    session = models.OneToOneField(
        ChatSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="emergency"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    OPEN_STATUSES = (Status.PENDING, Status.ESCALATED)

    class Meta:
        constraints = [
            # One open request per client, enforced by the database under any race.
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(status__in=["pending", "escalated"]),
                name="chat_emergency_one_open_per_client",
            )
        ]

    def __str__(self) -> str:
        return f"Emergency #{self.pk} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class EmergencyEvent(models.Model):
    """One step on a request's timeline."""

    class Kind(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        DECLINED = "declined", _("Declined by a reader")
        ESCALATED_STAFF = "escalated_staff", _("Monitors and admins alerted")
        ESCALATED_SUPER = "escalated_super", _("Super admins alerted")
        ACCEPTED = "accepted", _("Accepted")
        ASSIGNED = "assigned", _("Assigned by staff")
        CANCELLED = "cancelled", _("Cancelled by the client")
        EXPIRED = "expired", _("Expired unanswered")

    request = models.ForeignKey(EmergencyRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.created_at:%H:%M:%S}"


class SafetyAlert(models.Model):
    """Raised by a client or reader inside a session; staff acknowledge, then resolve it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        RESOLVED = "resolved", _("Resolved")

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="safety_alerts")
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Safety alert #{self.pk} in {self.session} ({self.get_status_display()})"


class LegalHold(models.Model):
    """Keeps a person's or a session's record intact: while a hold is active, retention
    removes nothing from the sessions it covers and the person cannot be erased.

    A hold on a person covers every session they take part in.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="legal_holds",
    )
    session = models.ForeignKey(
        ChatSession, null=True, blank=True, on_delete=models.PROTECT, related_name="legal_holds"
    )
    reason = models.CharField(max_length=500)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField(default=timezone.now)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, session__isnull=True)
                | Q(user__isnull=True, session__isnull=False),
                name="chat_legal_hold_one_subject",
            )
        ]

    def __str__(self) -> str:
        subject = self.user or self.session
        state = "lifted" if self.lifted_at else "active"
        return f"Legal hold on {subject} ({state})"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


class DataExport(models.Model):
    """A person's "download my data" archive: built (inline when small, by the worker when
    large), kept encrypted in the file store, offered until it expires."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Being prepared")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    storage_key = models.CharField(max_length=255, blank=True)
    key_id = models.CharField(max_length=32, blank=True)
    wrapped_key = models.BinaryField(max_length=64, null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Data export #{self.pk} of {self.user} ({self.get_status_display()})"
