"""What privacy obligations keep or produce: legal holds and data exports."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chat.models.conversations import ChatSession


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
                violation_error_message="A hold names a person or a session: choose one.",
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
