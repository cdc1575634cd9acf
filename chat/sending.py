"""Posting a text message: one path for both transports.

The API's `POST /api/sessions/{id}/messages` and the socket's `message.send` frame both
come here, so the membership check, the per-user rate limit, idempotency and the metrics
are the same whichever way a message arrives.
"""

from django.db import transaction

from chat import services
from chat.models import Message
from chat.permissions import access_session
from samia_chat.errors import NUL_REFUSED, Invalid
from samia_chat.limits import message_rate_hit
from samia_chat.metrics import MESSAGES_SENT, SEND_REPLAYS
from samia_chat.models import User


def text_message_post(
    user: User,
    session_id: int,
    *,
    body: str,
    client_msg_id: str,
    reply_to_id: int | None = None,
) -> tuple[Message, bool]:
    """Send `body` into the session as `user`. Returns (message, created); a retry with the
    same client_msg_id returns the first attempt's message with created=False."""
    # Counted before the transaction: the session lock is not held over a Redis round trip.
    message_rate_hit(user.pk)
    with transaction.atomic():
        # The access check and the session lock in one query.
        access = access_session(user, session_id, write=True, lock=True)
        message, created = services.message_send(
            session=access.session,
            sender=user,
            body=body,
            client_msg_id=client_msg_id,
            reply_to_id=reply_to_id,
            session_locked=True,
        )
    (MESSAGES_SENT.labels(kind=message.kind) if created else SEND_REPLAYS).inc()
    return message, created


def message_send_frame_parse(frame: dict) -> dict:
    """The arguments of a socket `message.send` frame, checked as strictly as the API's
    JSON body (integers are integers, not strings or booleans)."""
    session_id = frame.get("session_id")
    body = frame.get("body")
    client_msg_id = frame.get("client_msg_id")
    reply_to = frame.get("reply_to")
    if frame.get("kind", "text") != "text":
        raise Invalid("Only text messages are sent over the socket.", code="INVALID")
    if type(session_id) is not int:
        raise Invalid("session_id must be an integer.", code="INVALID")
    if not isinstance(body, str) or not isinstance(client_msg_id, str):
        raise Invalid("body and client_msg_id must be strings.", code="INVALID")
    if reply_to is not None and type(reply_to) is not int:
        raise Invalid("reply_to must be an integer or null.", code="INVALID")
    if "\x00" in body:
        raise Invalid(NUL_REFUSED, code="INVALID_CHARACTERS")
    return {
        "session_id": session_id,
        "body": body,
        "client_msg_id": client_msg_id,
        "reply_to_id": reply_to,
    }
