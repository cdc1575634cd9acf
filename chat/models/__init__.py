"""The chat app's data, one module per subject; everything is importable from here."""

from chat.models.conversations import (
    Attachment,
    ChatSession,
    Membership,
    Message,
    default_image_quota,
    default_text_quota,
    default_voice_quota,
    new_public_id,
)
from chat.models.emergency import EmergencyEvent, EmergencyRequest, ReaderAvailability, SafetyAlert
from chat.models.legacy import LegacyAuditEntry, LegacyRecord
from chat.models.records import DataExport, LegalHold

__all__ = [
    "Attachment",
    "ChatSession",
    "DataExport",
    "EmergencyEvent",
    "EmergencyRequest",
    "LegacyAuditEntry",
    "LegacyRecord",
    "LegalHold",
    "Membership",
    "Message",
    "ReaderAvailability",
    "SafetyAlert",
    "default_image_quota",
    "default_text_quota",
    "default_voice_quota",
    "new_public_id",
]
