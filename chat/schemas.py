"""Request and response shapes of the chat API (they become the OpenAPI schema)."""

from datetime import datetime, timedelta
from typing import Literal

from ninja import Field, Schema
from pydantic import StrictBool, StrictInt, field_validator


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    role: str


class MemberOut(UserOut):
    last_read_id: int
    online: bool


class ReplyPreviewOut(Schema):
    id: int
    sender: str | None
    kind: str
    body: str
    status: str


class AttachmentOut(Schema):
    id: str = Field(description="Opaque id; the file is fetched from `url`.")
    kind: Literal["voice", "image", "file"]
    content_type: str
    size_bytes: int
    name: str
    url: str = Field(description="Members (and staff, audited) GET it; supports HTTP Range.")
    duration_ms: int | None = Field(description="Voice notes: true decoded duration.")
    waveform: list[int] | None = Field(description="Voice notes: 64 peaks, 0-100.")
    width: int | None = Field(description="Images: pixels after re-encoding.")
    height: int | None


class ReviewOut(Schema):
    status: Literal["pending", "rejected"]
    reason: str = Field(description="Why it was rejected (empty otherwise).")


class MessageOut(Schema):
    id: int
    session_id: int
    sender: UserOut | None
    kind: str
    body: str
    status: str
    client_msg_id: str | None
    reply_to: int | None
    reply_preview: ReplyPreviewOut | None
    attachment: AttachmentOut | None = Field(
        description="Null for text, tombstones, and held messages seen by anyone but "
        "their sender and staff."
    )
    review: ReviewOut | None = Field(
        description="A held message's review, for its sender and staff only."
    )
    created_at: datetime


class SessionOut(Schema):
    id: int
    kind: str
    status: str
    booking_ref: str | None
    service_name: str
    scheduled_at: datetime | None
    members: list[MemberOut]
    unread_count: int
    last_message: MessageOut | None
    last_activity_at: datetime


class MessagePageOut(Schema):
    messages: list[MessageOut]
    has_more: bool


class SessionIn(Schema):
    kind: Literal["reading"] = "reading"
    # Strict: JSON bodies carry real numbers and booleans; "3" or "yes" is refused, not
    # coerced (pydantic's lax default would accept them).
    client_id: StrictInt
    reader_id: StrictInt
    booking_ref: str = Field(max_length=64)
    service_name: str = Field("", max_length=120)
    scheduled_at: datetime | None = None

    @field_validator("scheduled_at")
    @classmethod
    def _storable(cls, value: datetime | None) -> datetime | None:
        # A real booking's time: databases refuse years past 9999 in UTC, and PostgreSQL
        # offsets of 16 hours or more; nothing real lies outside these bounds.
        if value is None:
            return None
        offset = value.utcoffset()
        if offset is not None and abs(offset) > timedelta(hours=14):
            raise ValueError("the UTC offset must be within ±14 hours")
        if not 2000 <= value.year <= 2200:
            raise ValueError("the year must be between 2000 and 2200")
        return value


class MessageIn(Schema):
    kind: Literal["text"] = "text"
    body: str
    client_msg_id: str
    reply_to: StrictInt | None = None


class ReadIn(Schema):
    up_to: StrictInt


class ReadOut(Schema):
    session_id: int
    last_read_id: int


class StatusIn(Schema):
    action: Literal["pause", "resume", "lock", "end"]


class RedactIn(Schema):
    reason: str = Field(max_length=2000)


class UploadIn(Schema):
    """The form fields sent beside `file` in a multipart upload."""

    client_msg_id: str = Field(description="1-64 of A-Z a-z 0-9 . _ : - ; makes retries safe.")
    reply_to: int | None = None


class EmergencyIn(Schema):
    reason: str = Field("", description="Optional, at most 500 characters.")


class EmergencyClientOut(Schema):
    id: int
    first_name: str


class TimelineEntryOut(Schema):
    kind: str
    label: str
    actor: UserOut | None
    detail: dict
    at: datetime


class EmergencyOut(Schema):
    id: int
    status: Literal["pending", "escalated", "accepted", "cancelled", "expired"]
    step: Literal["readers", "staff", "super_admins", "closed"]
    reason: str
    client: EmergencyClientOut
    created_at: datetime
    next_step_at: datetime | None = Field(description="When the ladder moves on if unanswered.")
    accepted_by: UserOut | None
    session_id: int | None
    response_ms: int | None
    timeline: list[TimelineEntryOut] | None = Field(
        None, description="For the client and staff; readers do not get it."
    )


class AcceptedOut(Schema):
    request_id: int
    session_id: int


class AssignIn(Schema):
    reader_id: StrictInt = Field(description="A reader, or the staff member's own id to take it.")


class OnCallIn(Schema):
    on_call: StrictBool


class OnCallOut(Schema):
    on_call: bool
    changed_at: datetime


class SafetyAlertIn(Schema):
    reason: str = Field(description="What is wrong, 1-300 characters.")


class SafetyAlertOut(Schema):
    id: int
    status: Literal["open", "acknowledged", "resolved"]
    reason: str
    session_id: int
    raised_by: UserOut | None
    created_at: datetime
    acknowledged_by: UserOut | None
    resolved_by: UserOut | None


class ReaderOut(UserOut):
    on_call: bool
