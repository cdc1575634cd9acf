"""Event names and the JSON shapes of sessions and messages, for the API and the socket."""

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from chat.models import Attachment, ChatSession, Membership, Message
from samia_chat.models import User

MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
SESSION_UPDATED = "session.updated"
TYPING = "typing"
READ = "read"
PRESENCE = "presence"

REPLY_EXCERPT_CHARS = 140


def user_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.public_name,
        "role": user.role,
    }


_ENCODER = DjangoJSONEncoder()


def _iso(value) -> str | None:
    # The encoder the API responses use, so a message reads the same over HTTP and socket.
    return _ENCODER.default(value) if value is not None else None


def attachment_dict(attachment: Attachment) -> dict[str, Any]:
    """What a client needs to show and fetch an attachment: metadata, never bytes."""
    # Every key is always present (null where it does not apply): the same shape over the
    # API and the socket.
    return {
        "id": attachment.public_id,
        "kind": attachment.kind,
        "content_type": attachment.content_type,
        "size_bytes": attachment.size_bytes,
        "name": attachment.name,
        "url": reverse("chat:file", args=[attachment.public_id]),
        "duration_ms": attachment.duration_ms,
        "waveform": attachment.waveform,
        "width": attachment.width,
        "height": attachment.height,
    }


def message_dict(message: Message) -> dict[str, Any]:
    """The public JSON of a message. Tombstones keep their place but lose their content.

    Expects `sender`, `attachment` and `reply_to__sender` to be loaded with the message.
    """
    attachment = message.attachment if message.attachment_id else None
    reply = message.reply_to
    return {
        "id": message.pk,
        "session_id": message.session_id,
        "sender": user_dict(message.sender) if message.sender_id else None,
        "kind": message.kind,
        "body": "" if message.is_tombstone else message.body,
        "status": message.status,
        "client_msg_id": message.client_msg_id,
        "reply_to": message.reply_to_id,
        "reply_preview": (
            {
                "id": reply.pk,
                "sender": reply.sender.username if reply.sender_id else None,
                "kind": reply.kind,
                "body": "" if reply.is_tombstone else reply.body[:REPLY_EXCERPT_CHARS],
                "status": reply.status,
            }
            if reply is not None
            else None
        ),
        "attachment": (
            attachment_dict(attachment)
            if attachment is not None and not message.is_tombstone
            else None
        ),
        "created_at": _iso(message.created_at),
    }


def member_dict(membership: Membership, online: set[int]) -> dict[str, Any]:
    return {
        **user_dict(membership.user),
        "last_read_id": membership.last_read_message_id,
        "online": membership.user_id in online,
    }


def session_dict(
    session: ChatSession,
    *,
    online: set[int],
    unread_count: int | None = None,
) -> dict[str, Any]:
    """The JSON of a session. `unread_count` is per viewer; broadcasts leave it out.

    Expects `memberships__user` prefetched and `last_message` (with its sender) loaded.
    """
    data: dict[str, Any] = {
        "id": session.pk,
        "kind": session.kind,
        "status": session.status,
        "booking_ref": session.booking_ref,
        "service_name": session.service_name,
        "scheduled_at": _iso(session.scheduled_at),
        "members": [member_dict(m, online) for m in session.memberships.all()],
        "last_message": message_dict(session.last_message) if session.last_message else None,
        "last_activity_at": _iso(session.last_activity_at),
    }
    if unread_count is not None:
        data["unread_count"] = unread_count
    return data


def message_created_event(message: Message, previous_id: int | None) -> dict[str, Any]:
    # previous_id lets a client notice a missed push and catch up at once.
    return {"type": MESSAGE_CREATED, "message": message_dict(message), "previous_id": previous_id}


def message_updated_event(message: Message) -> dict[str, Any]:
    return {"type": MESSAGE_UPDATED, "message": message_dict(message)}


def session_updated_event(session_data: dict[str, Any]) -> dict[str, Any]:
    return {"type": SESSION_UPDATED, "session": session_data}


def read_event(*, session_id: int, user_id: int, up_to: int) -> dict[str, Any]:
    return {"type": READ, "session_id": session_id, "user_id": user_id, "up_to": up_to}


def typing_event(*, session_id: int, user: dict[str, Any]) -> dict[str, Any]:
    return {"type": TYPING, "session_id": session_id, "user": user}


def presence_event(*, user_id: int, online: bool) -> dict[str, Any]:
    return {"type": PRESENCE, "user_id": user_id, "online": online}
