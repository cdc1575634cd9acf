"""Event names and the JSON shapes of sessions and messages, for the API and the socket."""

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from chat.models import (
    Attachment,
    ChatSession,
    EmergencyRequest,
    Membership,
    Message,
    SafetyAlert,
)
from samia_chat.models import STAFF_ROLES, User

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


def iso_time(value) -> str | None:
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


# Held messages (awaiting review, or rejected) keep their place in the session, but their
# content reaches only their sender and staff; everyone else sees that something is held.
HELD_STATUSES = frozenset({Message.Status.PENDING_REVIEW, Message.Status.REJECTED})


def sees_held_content(message: Message, viewer: User | None) -> bool:
    return viewer is not None and (
        viewer.pk == message.sender_id or getattr(viewer, "role", None) in STAFF_ROLES
    )


def _review_of(message: Message) -> dict[str, Any]:
    # Where a held message stands, as its sender and staff see it.
    status = "pending" if message.status == Message.Status.PENDING_REVIEW else "rejected"
    return {"status": status, "reason": message.held_reason}


def message_dict(message: Message, viewer: User | None = None) -> dict[str, Any]:
    """The JSON of a message as `viewer` may see it; without a viewer, as any member may
    (the shape broadcasts carry). Tombstones keep their place but lose their content, and
    so do held messages for everyone but their sender and staff.

    Expects `sender`, `attachment` and `reply_to__sender` to be loaded with the message.
    """
    attachment = message.attachment if message.attachment_id else None
    reply = message.reply_to
    held = message.status in HELD_STATUSES
    hidden = message.is_tombstone or (held and not sees_held_content(message, viewer))
    return {
        "id": message.pk,
        "session_id": message.session_id,
        "sender": user_dict(message.sender) if message.sender_id else None,
        "kind": message.kind,
        "body": "" if hidden else message.body,
        "status": message.status,
        "client_msg_id": message.client_msg_id,
        "reply_to": message.reply_to_id,
        "reply_preview": (
            {
                "id": reply.pk,
                "sender": reply.sender.username if reply.sender_id else None,
                "kind": reply.kind,
                "body": (
                    ""
                    if reply.is_tombstone or reply.status in HELD_STATUSES
                    else reply.body[:REPLY_EXCERPT_CHARS]
                ),
                "status": reply.status,
            }
            if reply is not None
            else None
        ),
        "attachment": (
            attachment_dict(attachment) if attachment is not None and not hidden else None
        ),
        # Only the sender and staff learn how the review stands (and why it was refused).
        "review": _review_of(message) if held and not hidden else None,
        "created_at": iso_time(message.created_at),
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
        "scheduled_at": iso_time(session.scheduled_at),
        "members": [member_dict(m, online) for m in session.memberships.all()],
        "last_message": message_dict(session.last_message) if session.last_message else None,
        "last_activity_at": iso_time(session.last_activity_at),
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


# --- emergency readings and safety alerts ---------------------------------------------------

EMERGENCY_REQUESTED = "emergency.requested"
EMERGENCY_TAKEN = "emergency.taken"
EMERGENCY_CLOSED = "emergency.closed"
EMERGENCY_ESCALATED = "emergency.escalated"
EMERGENCY_ACCEPTED = "emergency.accepted"
EMERGENCY_UPDATED = "emergency.updated"
ON_CALL_UPDATED = "on_call.updated"
SAFETY_ALERT = "safety.alert"

STEP_NAMES = {0: "readers", 1: "staff", 2: "super_admins", 3: "closed"}


def _first_name(user: User) -> str:
    return (user.public_name.split() or [user.username])[0]


def emergency_dict(request: EmergencyRequest, *, timeline: bool = False) -> dict[str, Any]:
    """A request as its client, staff and on-call readers see it. Readers get no timeline.

    Expects `client` and `accepted_by` loaded; `timeline` reads the request's events.
    """
    data: dict[str, Any] = {
        "id": request.pk,
        "status": request.status,
        "step": STEP_NAMES[request.step],
        "reason": request.reason,
        "client": {"id": request.client_id, "first_name": _first_name(request.client)},
        "created_at": iso_time(request.created_at),
        "next_step_at": iso_time(request.next_step_at),
        "accepted_by": user_dict(request.accepted_by) if request.accepted_by_id else None,
        "session_id": request.session_id,
        "response_ms": request.response_ms,
    }
    if timeline:
        data["timeline"] = [
            {
                "kind": event.kind,
                "label": event.get_kind_display(),
                "actor": user_dict(event.actor) if event.actor_id else None,
                "detail": event.detail,
                "at": iso_time(event.created_at),
            }
            for event in request.events.select_related("actor")
        ]
    return data


def emergency_requested_event(request: EmergencyRequest) -> dict[str, Any]:
    return {"type": EMERGENCY_REQUESTED, "request": emergency_dict(request)}


def emergency_taken_event(request: EmergencyRequest) -> dict[str, Any]:
    return {
        "type": EMERGENCY_TAKEN,
        "request_id": request.pk,
        "taken_by": user_dict(request.accepted_by),
    }


def emergency_closed_event(request: EmergencyRequest) -> dict[str, Any]:
    return {"type": EMERGENCY_CLOSED, "request_id": request.pk, "status": request.status}


def emergency_escalated_event(request: EmergencyRequest, level: str) -> dict[str, Any]:
    return {
        "type": EMERGENCY_ESCALATED,
        "level": level,
        "request": emergency_dict(request, timeline=True),
    }


def emergency_accepted_event(request: EmergencyRequest) -> dict[str, Any]:
    return {
        "type": EMERGENCY_ACCEPTED,
        "request_id": request.pk,
        "session_id": request.session_id,
        "reader": user_dict(request.accepted_by),
    }


def emergency_updated_event(request: EmergencyRequest) -> dict[str, Any]:
    # The client and staff both see the timeline ("ringing 4 readers", "escalated"...).
    return {"type": EMERGENCY_UPDATED, "request": emergency_dict(request, timeline=True)}


def on_call_event(*, on_call: bool, changed_at) -> dict[str, Any]:
    return {"type": ON_CALL_UPDATED, "on_call": on_call, "changed_at": iso_time(changed_at)}


def safety_alert_dict(alert: SafetyAlert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "status": alert.status,
        "reason": alert.reason,
        "session_id": alert.session_id,
        "raised_by": user_dict(alert.raised_by) if alert.raised_by_id else None,
        "created_at": iso_time(alert.created_at),
        "acknowledged_by": user_dict(alert.acknowledged_by) if alert.acknowledged_by_id else None,
        "resolved_by": user_dict(alert.resolved_by) if alert.resolved_by_id else None,
    }


def safety_alert_event(alert: SafetyAlert) -> dict[str, Any]:
    return {"type": SAFETY_ALERT, "alert": safety_alert_dict(alert)}
