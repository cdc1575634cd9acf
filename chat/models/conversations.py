"""Conversations, their members, their messages and the files messages carry."""

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
    # Defaults rather than auto_now_add: imported history keeps its own times.
    created_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)
    # Kept under the session row lock by message_send, so the inbox needs no aggregate.
    last_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_activity_at = models.DateTimeField(default=timezone.now, db_index=True)

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
    joined_at = models.DateTimeField(default=timezone.now)

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
    # Not unique: imported history stores identical files once and its attachments share
    # the object (chat.removal.stored_files_release deletes it with the last of them).
    storage_key = models.CharField(max_length=255, db_index=True)
    # The SHA-256 of the file an import read, so a later run reuses its stored object.
    source_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    key_id = models.CharField(max_length=32)
    wrapped_key = models.BinaryField(max_length=64)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    waveform = models.JSONField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

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
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    redacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    redaction_reason = models.CharField(max_length=500, blank=True)
    # Why a reviewer withheld a held message; its sender (and staff) see it.
    held_reason = models.CharField(max_length=500, blank=True)
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
