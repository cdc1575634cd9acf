"""The legacy world as it is written: logical people, conversations and messages, the rows
each of them leaves in the old tables, and the files in the buckets (expected.py derives
what a correct import produces from these).

A logical message is written once per copy (a generation's row); its copies agree on
sender, time and content, so the expectations follow from what was written rather than
from re-reading it.
"""

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from psycopg.types.json import Jsonb

from tests.legacy.schema import TABLES, columns

SUPABASE_OBJECTS = "https://abcd.supabase.co/storage/v1/object"

# Which copy of a message (or source of a session) survives a merge: the oldest generation's.
MESSAGE_TABLES = ("messages", "messages_backup", "chat_messages_backup", "chat_messages")


@dataclass(frozen=True)
class Payload:
    """A file's bytes and what they really are (the rows may say otherwise)."""

    name: str
    data: bytes
    ext: str
    mime: str
    decodable: bool = True

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(eq=False)
class Profile:
    id: uuid.UUID
    email: str | None
    role: str  # as stored
    created_at: datetime
    active: bool = True
    duplicate_of: "Profile | None" = None

    @property
    def account(self) -> "Profile":
        return self.duplicate_of or self


@dataclass(eq=False)
class Booking:
    id: uuid.UUID
    client: Profile
    reader: Profile
    status: str


@dataclass(eq=False)
class Conversation:
    key: uuid.UUID  # the booking id, or the session's own id when it has no booking
    kind: str  # ours: reading | emergency | support
    participants: list[Profile]
    booking: Booking | None = None
    sources: list[tuple[str, uuid.UUID]] = field(default_factory=list)
    raw_status: dict[str, str] = field(default_factory=dict)  # source table -> status


@dataclass(eq=False)
class Attachment:
    kind: str  # ours: voice | image | file
    payload: Payload | None  # None: the file is not in the bucket
    label: str  # the MIME type the rows state
    file_name: str
    locations: list[str] = field(default_factory=list)  # "bucket/key", as referenced

    @property
    def available(self) -> bool:
        return self.payload is not None and self.payload.decodable


@dataclass(eq=False)
class Message:
    id: uuid.UUID  # the id copies use unless told otherwise
    conversation: Conversation | None  # None: an orphan
    sender: Profile | None  # None: the sender id names no profile
    sender_id: uuid.UUID
    kind: str  # ours: text | voice | image | file | system | emergency
    at: datetime
    content: str | None = None
    attachment: Attachment | None = None
    reply_to: "Message | None" = None
    reply_to_id: uuid.UUID | None = None  # as written; set alone for a dangling reply
    held: bool = False
    review: dict | None = None  # decision, reviewer (Profile), at, notes
    deleted_at: datetime | None = None
    read_by: set = field(default_factory=set)  # of Profile
    original_content: str | None = None  # set when the message was edited
    raw_status: str | None = None  # a generation 3 status outside the documented list
    copies: list[tuple[str, uuid.UUID]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.deleted_at is not None:
            return "deleted"
        if self.held:
            return "pending_review"
        if self.review and self.review["decision"] == "rejected":
            return "rejected"
        return "sent"


class Ledger:
    """Collects rows per table and files per bucket, and what they mean."""

    def __init__(self, files_dir: Path, seed: int) -> None:
        self.files_dir = files_dir
        self.rng = random.Random(seed)
        self.rows: dict[str, list[tuple]] = {table: [] for table in TABLES}
        self._columns = {table: columns(table) for table in TABLES}
        self._column_sets = {table: frozenset(names) for table, names in self._columns.items()}
        self._json_columns = {
            table: frozenset(name for name, kind, _ in spec if kind == "jsonb")
            for table, spec in TABLES.items()
        }
        self.ids: dict[str, str] = {}
        self.paths: dict[str, Path] = {}
        self.profiles: list[Profile] = []
        self.conversations: list[Conversation] = []
        self.messages: list[Message] = []
        self.files_written: dict[str, str] = {}  # "bucket/key" -> sha256
        self.files_missing: set[str] = set()

    # --- primitives -----------------------------------------------------------------

    def uid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def name(self, key: str, value) -> None:
        assert key not in self.ids, key
        self.ids[key] = str(value)

    def row(self, table: str, **values) -> None:
        unknown = values.keys() - self._column_sets[table]
        assert not unknown, (table, unknown)
        for name in self._json_columns[table] & values.keys():
            if values[name] is not None:
                values[name] = Jsonb(values[name])
        self.rows[table].append(tuple(map(values.get, self._columns[table])))

    # --- files ----------------------------------------------------------------------

    def put(self, bucket: str, key: str, payload: Payload | None) -> str:
        """Writes `payload` at bucket/key (None: declares the key missing); returns the
        "bucket/key" location."""
        location = f"{bucket}/{key}"
        if payload is None:
            self.files_missing.add(location)
            return location
        path = self.files_dir / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload.data)
        self.files_written[location] = payload.sha256
        return location

    @staticmethod
    def url(location: str, *, signed: bool = False, token: str = "") -> str:
        if signed:
            return f"{SUPABASE_OBJECTS}/sign/{location}?token={token}"
        return f"{SUPABASE_OBJECTS}/public/{location}"

    def attach(self, kind: str, payload: Payload | None, *, label: str, file_name: str = ""):
        return Attachment(kind=kind, payload=payload, label=label, file_name=file_name)

    # --- people and conversations -----------------------------------------------------

    def profile(self, *, role: str, email: str | None, created_at: datetime, **extra) -> Profile:
        duplicate_of = extra.pop("duplicate_of", None)
        profile = Profile(
            id=extra.pop("id", None) or self.uid(),
            email=email,
            role=role,
            created_at=created_at,
            duplicate_of=duplicate_of,
        )
        profile.active = (
            extra.get("is_active", True) is not False
            and not extra.get("deactivated")
            and extra.get("deleted_at") is None
        )
        values = {"is_active": True, "deactivated": False, "preferred_language": "en"} | extra
        self.row(
            "profiles",
            id=profile.id,
            email=email,
            role=role,
            created_at=created_at,
            updated_at=created_at + timedelta(days=3),
            **values,
        )
        self.profiles.append(profile)
        return profile

    def conversation(self, *, key, kind: str, participants, booking=None) -> Conversation:
        conversation = Conversation(
            key=key, kind=kind, participants=list(participants), booking=booking
        )
        self.conversations.append(conversation)
        return conversation

    def _source(self, conversation: Conversation, table: str, source_id, status=None) -> None:
        if (table, source_id) not in conversation.sources:
            conversation.sources.append((table, source_id))
        if status is not None:
            conversation.raw_status[table] = status

    def gen2_session(self, conversation: Conversation, *, id, status: str, at, **extra) -> None:
        booking = conversation.booking
        self._source(conversation, "chat_sessions_backup", id, status)
        client, reader = conversation.participants[:2]
        self.row(
            "chat_sessions_backup",
            id=id,
            booking_id=booking.id if booking else None,
            client_id=client.id,
            reader_id=reader.id,
            status=status,
            client_text_chars_used=self.rng.randint(20, 900),
            client_voice_seconds_used=self.rng.randint(0, 120),
            client_images_sent=self.rng.randint(0, 3),
            reader_voice_notes_sent=self.rng.randint(0, 4),
            max_text_chars=2000,
            max_voice_seconds=300,
            max_images=5,
            max_reader_voice_notes=10,
            created_at=at,
            updated_at=at + timedelta(hours=2),
            participants=[client.id, reader.id],
            **extra,
        )

    def gen3_session(
        self, conversation: Conversation, *, id, type: str, status: str, at, **extra
    ) -> None:
        booking = conversation.booking
        self._source(conversation, "chat_sessions", id, status)
        ended = status not in ("active", "paused", "locked")
        self.row(
            "chat_sessions",
            id=id,
            participants=[p.id for p in conversation.participants],
            type=type,
            booking_id=booking.id if booking else None,
            status=status,
            started_at=at,
            ended_at=at + timedelta(hours=1) if ended else None,
            last_message_at=at + timedelta(minutes=50),
            metadata={"source": "unified_migration"} if booking else {},
            created_at=at,
            updated_at=at + timedelta(hours=1),
            **extra,
        )

    # --- messages -----------------------------------------------------------------------

    def message(self, conversation, sender, kind: str, at, content=None, **extra) -> Message:
        if isinstance(sender, Profile):
            sender_id, profile = sender.id, sender
        else:
            sender_id, profile = sender, None
        message = Message(
            id=extra.pop("id", None) or self.uid(),
            conversation=conversation,
            sender=profile,
            sender_id=sender_id,
            kind=kind,
            at=at,
            content=content,
            **extra,
        )
        if message.reply_to is not None:
            message.reply_to_id = message.reply_to.id
        self.messages.append(message)
        return message

    def _copy(self, message: Message, table: str, id) -> uuid.UUID:
        id = id or message.id
        message.copies.append((table, id))
        return id

    def _recipient(self, message: Message) -> Profile | None:
        if message.conversation is None:
            return None
        others = [p for p in message.conversation.participants if p is not message.sender]
        return others[0] if others else None

    def gen1(
        self,
        message: Message,
        *,
        table="messages",
        id=None,
        location=None,
        signed=False,
        type=None,
        booking_id=None,
        is_approved=None,
        metadata=None,
        flagged_reason=None,
    ):
        """A row of `messages` (or `messages_backup`)."""
        id = self._copy(message, table, id)
        conversation = message.conversation
        if conversation is not None:
            booking_id = conversation.booking.id
            self._source(conversation, "messages", booking_id)
        review = message.review or {}
        approved = review.get("decision") == "approved"
        if message.kind == "voice" and message.sender and message.sender.role == "reader":
            is_approved = approved
        attachment = message.attachment
        self.row(
            table,
            id=id,
            booking_id=booking_id,
            sender_id=message.sender_id,
            type=type or message.kind,
            content=message.content,
            file_url=self._reference(attachment, location, signed),
            metadata=metadata if metadata is not None else _gen1_metadata(attachment),
            is_read=bool(message.read_by),
            created_at=message.at,
            file_name=attachment.file_name if attachment else None,
            file_size=_size(attachment),
            duration_seconds=_seconds(attachment),
            is_approved=is_approved,
            approved_by=review["reviewer"].id if approved else None,
            approved_at=review["at"] if approved else None,
            flagged=flagged_reason is not None,
            flagged_reason=flagged_reason,
            reply_to=message.reply_to_id,
        )
        return id

    def gen2(self, message: Message, *, session_id, path: str, location=None, id=None):
        """A row of `chat_messages_backup`. Path "A" writes the message id in `id` and the
        session in `chat_session_id`; path "B" a row id in `id`, the message id in
        `message_id` and the session in `session_id`."""
        message_id = self._copy(message, "chat_messages_backup", id)
        attachment = message.attachment
        recipient = self._recipient(message)
        is_voice = message.kind == "voice"
        reference = self._reference(attachment, location, False)
        edited = message.original_content is not None
        read = bool(message.read_by)
        self.row(
            "chat_messages_backup",
            id=message_id if path == "A" else self.uid(),
            message_id=None if path == "A" else message_id,
            chat_session_id=session_id if path == "A" else None,
            session_id=None if path == "A" else session_id,
            sender_id=message.sender_id,
            recipient_id=recipient.id if recipient else None,
            message_type="text" if message.kind == "system" else message.kind,
            message_content=message.content,
            message_data={"client": "web", "path": path},
            file_attachment_url=None if is_voice else reference,
            file_attachment_type=None if is_voice or not attachment else attachment.label,
            file_attachment_size=None if is_voice else _size(attachment),
            voice_note_url=reference if is_voice else None,
            voice_note_duration=_seconds(attachment) if is_voice else None,
            is_read=read,
            read_at=message.at + timedelta(minutes=2) if read else None,
            is_edited=edited,
            edited_at=message.at + timedelta(minutes=1) if edited else None,
            original_content=message.original_content,
            reply_to_message_id=message.reply_to_id,
            reaction_data={},
            is_system_message=message.kind == "system",
            is_deleted=message.deleted_at is not None,
            deleted_at=message.deleted_at,
            created_at=message.at,
            updated_at=message.deleted_at or message.at,
        )
        return message_id

    def gen3(
        self,
        message: Message,
        *,
        id=None,
        session_id=None,
        location=None,
        signed=False,
        type=None,
        status=None,
        is_deleted=None,
        reply_to_id=None,
        read_by_sender=False,
    ):
        """A row of `chat_messages`."""
        id = self._copy(message, "chat_messages", id)
        conversation = message.conversation
        if conversation is not None:
            session_id = _gen3_session_id(conversation)
        review = message.review or {}
        if status is None:
            status = message.raw_status or _gen3_status(message)
        attachment = message.attachment
        reviewed = review.get("decision") == "approved"
        readers = [p.id for p in message.read_by]
        if read_by_sender:
            readers.insert(0, message.sender_id)
        self.row(
            "chat_messages",
            id=id,
            session_id=session_id,
            sender_id=message.sender_id,
            type=type or ("audio" if message.kind == "voice" else message.kind),
            content=message.content,
            file_url=self._reference(attachment, location, signed),
            file_name=attachment.file_name if attachment else None,
            file_size=_size(attachment),
            file_type=attachment.label if attachment else None,
            duration_seconds=_seconds(attachment),
            waveform_data=[12, 40, 85, 60, 22] if message.kind == "voice" else None,
            reply_to_message_id=reply_to_id or message.reply_to_id,
            status=status,
            approved_by=review["reviewer"].id if reviewed else None,
            approved_at=review["at"] if reviewed else None,
            delivered_to=[p.id for p in conversation.participants] if conversation else [],
            read_by=readers,
            is_edited=message.original_content is not None,
            edited_at=message.at + timedelta(minutes=1) if message.original_content else None,
            is_deleted=message.deleted_at is not None if is_deleted is None else is_deleted,
            deleted_at=message.deleted_at,
            metadata={},
            created_at=message.at,
            updated_at=message.deleted_at or message.at,
        )
        return id

    def _reference(self, attachment: Attachment | None, location, signed: bool) -> str | None:
        if attachment is None:
            return None
        assert location is not None, "a copy with an attachment names its file"
        if location not in attachment.locations:
            attachment.locations.append(location)
        return self.url(location, signed=signed, token=self.uid().hex)

    # --- around the messages ----------------------------------------------------------

    def voice_note(self, message: Message, message_id, location: str, *, backup=False) -> None:
        attachment = message.attachment
        _bucket, _, key = location.partition("/")
        values = dict(
            id=self.uid(),
            message_id=message_id,
            file_url=self.url(location),
            # The key inside the bucket its file_url names.
            file_path=key,
            duration_seconds=_seconds(attachment),
            file_size_bytes=_size(attachment),
            audio_format=location.rsplit(".", 1)[-1],
            is_transcribed=False,
            is_processed=True,
            processed_at=message.at + timedelta(seconds=5),
            created_at=message.at,
            updated_at=message.at + timedelta(seconds=5),
            user_id=message.sender_id,
        )
        self.row("voice_notes", **values)
        if backup:
            self.row("voice_notes_backup", **values)

    def approval(self, message: Message, message_id, booking: Booking, *, status: str):
        review = message.review or {}
        approval_id = self.uid()
        self.row(
            "voice_note_approvals",
            id=approval_id,
            message_id=message_id,
            reader_id=message.sender_id,
            booking_id=booking.id,
            status=status,
            reviewed_by=review["reviewer"].id if review else None,
            review_notes=review.get("notes"),
            created_at=message.at,
            updated_at=review.get("at", message.at),
        )
        return approval_id

    def audit(self, **values) -> None:
        self.row("chat_audit_logs", id=self.uid(), **values)

    def monitoring(self, **values) -> None:
        self.row("chat_monitoring", id=self.uid(), created_at=values.get("timestamp"), **values)

    def notification(self, **values) -> None:
        self.row("chat_notifications", id=self.uid(), **values)


def _gen3_session_id(conversation: Conversation) -> uuid.UUID:
    return next(i for t, i in conversation.sources if t == "chat_sessions")


def _gen3_status(message: Message) -> str:
    if message.deleted_at is not None:
        return "deleted"
    if message.held:
        return "pending_approval"
    if message.review:
        return message.review["decision"]
    return "sent"


def _gen1_metadata(attachment: Attachment | None) -> dict:
    if attachment is None:
        return {}
    return {"mime_type": attachment.label, "uploaded_via": "booking_chat"}


def _size(attachment: Attachment | None) -> int | None:
    if attachment is None:
        return None
    return len(attachment.payload.data) if attachment.payload else 18_432


def _seconds(attachment: Attachment | None) -> int | None:
    return 3 if attachment is not None and attachment.kind == "voice" else None
