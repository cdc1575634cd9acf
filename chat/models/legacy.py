"""What the import of the old platform's data keeps: which legacy row became what, and the
old audit trail as read-only history."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from chat.models.conversations import ChatSession


class LegacyRecord(models.Model):
    """One legacy row and what it became. A second import skips every row found here, so
    running it again adds only what is new.

    `target_id` is null for a row that was merged into another (`merged_into` names the
    legacy id it duplicates) or left out with an anomaly.
    """

    source_table = models.CharField(max_length=40)
    legacy_id = models.CharField(max_length=64)
    target_type = models.CharField(max_length=24)
    target_id = models.BigIntegerField(null=True, blank=True)
    merged_into = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=24, default="created")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_table", "legacy_id"], name="chat_legacy_record_unique"
            )
        ]
        indexes = [models.Index(fields=["target_type", "target_id"], name="chat_legacy_target")]

    def __str__(self) -> str:
        return f"{self.source_table} {self.legacy_id} → {self.target_type} {self.target_id}"


class LegacyAuditEntry(models.Model):
    """An entry of the old platform's audit trail or monitoring log, kept as it was, linked
    to what its record became here. Never written after the import."""

    source_table = models.CharField(max_length=40)
    legacy_id = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40)
    table_name = models.CharField(max_length=80, blank=True)
    record_id = models.CharField(max_length=64, blank=True)
    target_type = models.CharField(max_length=24, blank=True)
    target_id = models.BigIntegerField(null=True, blank=True)
    session = models.ForeignKey(
        ChatSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    old_values = models.JSONField(null=True, blank=True)
    new_values = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name_plural = "legacy audit entries"
        constraints = [
            models.UniqueConstraint(
                fields=["source_table", "legacy_id"], name="chat_legacy_audit_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.table_name} {self.record_id} ({self.source_table})"
