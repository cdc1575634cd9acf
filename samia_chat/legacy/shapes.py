"""The import's own shapes: what it keeps of the old tables' rows, merged, while it plans."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GEN1 = ("messages", "messages_backup")
GEN2_SESSIONS, GEN2_MESSAGES = "chat_sessions_backup", "chat_messages_backup"
GEN3_SESSIONS, GEN3_MESSAGES = "chat_sessions", "chat_messages"
# Read only to count them: derived state (notifications) or never used (empty shells).
NOT_IMPORTED = (
    "chat_notifications",
    "chat_participants",
    "file_uploads",
    "media_storage",
    "message_reactions",
    "chat_archives",
)


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass
class Person:
    legacy_id: str
    email: str
    display_name: str
    role: str
    role_raw: str
    active: bool
    created_at: datetime | None
    merged_into: str | None = None  # another profile with the same email


@dataclass
class LegacyMessage:
    """One message, after merging its copies across tables and generations."""

    key: str  # its identity: the legacy message id
    conversation: str
    sender: str | None
    kind: str
    kind_raw: str
    status_raw: str
    body: str
    created_at: datetime
    copies: list[tuple[str, str]] = field(default_factory=list)  # (table, row id)
    file_refs: list[str] = field(default_factory=list)
    file_name: str = ""
    reply_to: str | None = None
    deleted: bool = False
    deleted_at: datetime | None = None
    approval: str | None = None  # approved / rejected / pending, when the old data says
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_notes: str = ""
    read_by: set[str] = field(default_factory=set)
    read_by_recipient: bool = False

    def absorb(self, other: "LegacyMessage") -> None:
        """Take what a duplicate copy knows that this one does not."""
        self.copies += other.copies
        self.file_refs += [r for r in other.file_refs if r not in self.file_refs]
        self.file_name = self.file_name or other.file_name
        self.reply_to = self.reply_to or other.reply_to
        if other.deleted and not self.deleted:
            self.deleted, self.deleted_at = True, other.deleted_at
        if self.approval in (None, "pending") and other.approval not in (None, "pending"):
            self.approval, self.reviewed_by = other.approval, other.reviewed_by
            self.reviewed_at = other.reviewed_at
        self.approval = self.approval or other.approval
        self.read_by |= other.read_by
        self.read_by_recipient = self.read_by_recipient or other.read_by_recipient


@dataclass
class Conversation:
    key: str
    kind: str
    booking_id: str | None = None
    status_raw: str = ""
    client: str | None = None
    reader: str | None = None
    members: set[str] = field(default_factory=set)
    sources: list[tuple[str, str]] = field(default_factory=list)  # session rows behind it
    status_source: tuple[str, str] | None = None  # the session row its status comes from
    created_at: datetime | None = None
    service_name: str = ""
    scheduled_at: datetime | None = None
    messages: dict[str, LegacyMessage] = field(default_factory=dict)


@dataclass
class Plan:
    people: dict[str, Person]
    conversations: dict[str, Conversation]
    voice_files: dict[str, list[str]]  # legacy message id -> voice_notes file paths
