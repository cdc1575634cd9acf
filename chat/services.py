"""Writes to conversations. Each service checks the rules, writes, audits, and broadcasts
after commit. Callers have already authorised the user with chat.permissions."""

import re
from contextlib import nullcontext
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import events
from chat.models import ChatSession, Membership, Message
from chat.presence import online_user_ids
from chat.removal import message_update_broadcast
from chat.signals import message_held
from samia_chat.audit import audit_event
from samia_chat.errors import Conflict, Invalid
from samia_chat.models import STAFF_ROLES, AccessEvent, Role, User
from samia_chat.realtime import broadcast_on_commit, join_session_on_commit, session_group

CLIENT_MSG_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "pause": ({ChatSession.Status.ACTIVE}, ChatSession.Status.PAUSED),
    "resume": ({ChatSession.Status.PAUSED}, ChatSession.Status.ACTIVE),
    "lock": ({ChatSession.Status.ACTIVE, ChatSession.Status.PAUSED}, ChatSession.Status.LOCKED),
    "end": (
        {ChatSession.Status.ACTIVE, ChatSession.Status.PAUSED, ChatSession.Status.LOCKED},
        ChatSession.Status.ENDED,
    ),
}
PAST = {"pause": "paused", "resume": "resumed", "lock": "locked", "end": "ended"}
STATUS_NOTICES = {
    "pause": "{user} paused the session.",
    "resume": "{user} resumed the session.",
    "lock": "{user} locked the session. The reading is over; the chat is now read-only.",
    "end": "{user} ended the session.",
}


def session_row_lock(session_id: int) -> ChatSession:
    return ChatSession.objects.select_for_update().get(pk=session_id)


def message_insert(session: ChatSession, **fields) -> tuple[Message, int | None]:
    """Insert a message into a locked session and move the session's pointers.

    Every message goes through here so that `previous_id` in the broadcast always names
    the message before it, which is how clients detect a missed push. The caller sets
    `sender` and `reply_to` as loaded objects, so the message serialises without a query.
    """
    previous_id = session.last_message_id
    message = Message.objects.create(session=session, **fields)
    session.last_message = message
    session.last_activity_at = message.created_at
    # A queryset update: no model signals (auditlog would diff the row on every message).
    ChatSession.objects.filter(pk=session.pk).update(
        last_message=message,
        last_activity_at=message.created_at,
        client_text_chars_used=session.client_text_chars_used,
        client_voice_seconds_used=session.client_voice_seconds_used,
        images_used=session.images_used,
    )
    return message, previous_id


def _session_payload(session: ChatSession) -> dict:
    session = (
        ChatSession.objects.select_related(
            "last_message__sender", "last_message__attachment", "last_message__reply_to__sender"
        )
        .prefetch_related("memberships__user")
        .get(pk=session.pk)
    )
    online = online_user_ids(m.user_id for m in session.memberships.all())
    return events.session_dict(session, online=online)


def message_created_broadcast(message: Message, previous_id: int | None) -> None:
    broadcast_on_commit(
        session_group(message.session_id), events.message_created_event(message, previous_id)
    )


def message_deliver(session: ChatSession, *, sender: User, kind: str, **fields) -> Message:
    """Insert a member's message into a locked session, mark it read by its sender (your
    own message is read by you) and broadcast it after commit.

    A message the review gate holds (a reader's voice note to a client, by default) is
    stored awaiting review: it keeps its place, and only its sender and staff reach its
    content until a reviewer releases it.
    """
    held = hold_required(session_id=session.pk, sender=sender, kind=kind)
    if held:
        fields["status"] = Message.Status.PENDING_REVIEW
    message, previous_id = message_insert(session, sender=sender, kind=kind, **fields)
    Membership.objects.filter(session=session, user=sender).update(last_read_message_id=message.pk)
    if held:
        message_held.send(sender=Message, message=message)
    message_created_broadcast(message, previous_id)
    return message


def hold_applies(*, kind: str, sender: User | None) -> bool:
    """Whether messages of `kind` from `sender`'s role wait for review
    (settings.CHAT["HOLD_FOR_REVIEW"]; by default a reader's voice notes)."""
    return sender is not None and (kind, sender.role) in settings.CHAT["HOLD_FOR_REVIEW"]


def hold_required(*, session_id: int, sender: User, kind: str) -> bool:
    """Held: the gate covers this kind and role, and a client other than the sender is in
    the session (a reader's note to staff alone is not held)."""
    if not hold_applies(kind=kind, sender=sender):
        return False
    return (
        Membership.objects.filter(session_id=session_id, user__role=Role.CLIENT)
        .exclude(user=sender)
        .exists()
    )


@transaction.atomic
def held_message_settle(*, message_id: int, release: bool, reason: str = "") -> Message:
    """Release a held message to the session, or withhold it for good with a reason its
    sender sees; the session is told either way (message.updated).

    The decision itself (who, when) belongs to whoever calls: the approvals app.
    """
    message = Message.objects.select_for_update().filter(pk=message_id).first()
    if message is None or message.status != Message.Status.PENDING_REVIEW:
        raise Conflict("This message is no longer awaiting review.", code="MESSAGE_GONE")
    message.status = Message.Status.SENT if release else Message.Status.REJECTED
    message.held_reason = "" if release else reason
    message.save(update_fields=["status", "held_reason"])
    return message_update_broadcast(message)


def _system_message(session: ChatSession, body: str) -> Message:
    message, previous_id = message_insert(session, kind=Message.Kind.SYSTEM, body=body)
    message_created_broadcast(message, previous_id)
    return message


@transaction.atomic
def session_open(
    *,
    opened_by: User,
    client: User,
    reader: User,
    booking_ref: str,
    service_name: str = "",
    scheduled_at: datetime | None = None,
    kind: str = ChatSession.Kind.READING,
) -> ChatSession:
    """Open a session between a client and a reader; both are told in real time."""
    if client.role != Role.CLIENT or not client.is_active:
        raise Invalid("client_id must name an active client.", code="INVALID_MEMBER")
    # Staff may take an emergency reading themselves when no reader answers.
    may_answer = reader.may_give_readings or (
        kind == ChatSession.Kind.EMERGENCY and reader.role in STAFF_ROLES
    )
    if not may_answer or not reader.is_active:
        raise Invalid("reader_id must name an active, approved reader.", code="INVALID_MEMBER")
    booking_ref = (booking_ref or "").strip()
    if kind == ChatSession.Kind.READING and not booking_ref:
        raise Invalid("A reading needs its booking_ref.", code="BOOKING_REF_REQUIRED")
    if booking_ref and ChatSession.objects.filter(booking_ref=booking_ref).exists():
        raise Conflict("A session already exists for this booking.", code="BOOKING_EXISTS")
    try:
        with transaction.atomic():
            session = ChatSession.objects.create(
                kind=kind,
                booking_ref=booking_ref or None,
                service_name=service_name,
                scheduled_at=scheduled_at,
                created_by=opened_by,
            )
    except IntegrityError:
        # Lost a race with another request for the same booking.
        raise Conflict(
            "A session already exists for this booking.", code="BOOKING_EXISTS"
        ) from None
    Membership.objects.bulk_create(
        [Membership(session=session, user=client), Membership(session=session, user=reader)]
    )
    session = session_row_lock(session.pk)
    _system_message(session, f"{service_name or 'Reading'} with {reader.public_name} started.")
    audit_event(
        actor=opened_by,
        action=AccessEvent.Action.SESSION_OPENED,
        target=session,
        detail={"booking_ref": booking_ref, "client": client.pk, "reader": reader.pk},
    )
    event = events.session_updated_event(_session_payload(session))
    for user in (client, reader):
        join_session_on_commit(user.pk, session.pk, event)
    return session


def _validate_text(body: str) -> str:
    if not body or not body.strip():
        raise Invalid("A message cannot be empty.", code="BLANK_MESSAGE")
    limit = settings.CHAT["MESSAGE_MAX_CHARS"]
    if len(body) > limit:
        raise Invalid(f"A message can be at most {limit} characters.", code="MESSAGE_TOO_LONG")
    return body


def client_msg_id_check(client_msg_id: str) -> None:
    if not CLIENT_MSG_ID_RE.match(client_msg_id or ""):
        raise Invalid(
            "client_msg_id must be 1-64 letters, digits or . _ : -", code="INVALID_CLIENT_MSG_ID"
        )


def message_replay(*, session: ChatSession, sender: User, client_msg_id: str) -> Message | None:
    """The message an earlier attempt of this send already made, if any.

    Asked on every send and almost always empty: a bare key lookup first (no ORDER BY, so
    PostgreSQL takes the unique index rather than walking the session's messages), the
    whole message only on a hit.
    """
    found = Message.objects.filter(
        session=session, sender=sender, client_msg_id=client_msg_id
    ).values_list("pk", flat=True)[:1]
    if not found:
        return None
    return Message.objects.select_related("sender", "attachment", "reply_to__sender").get(
        pk=found[0]
    )


def reply_to_find(*, session: ChatSession, reply_to_id: int | None) -> Message | None:
    if reply_to_id is None:
        return None
    reply_to = (
        Message.objects.select_related("sender").filter(pk=reply_to_id, session=session).first()
    )
    if reply_to is None:
        raise Invalid("reply_to must be a message of this session.", code="INVALID_REPLY")
    return reply_to


def message_send(
    *,
    session: ChatSession,
    sender: User,
    body: str,
    client_msg_id: str,
    reply_to_id: int | None = None,
    session_locked: bool = False,
) -> tuple[Message, bool]:
    """Send a text message. Returns (message, created).

    Idempotent on (session, sender, client_msg_id): a retry returns the message the first
    attempt made, with created=False, and broadcasts nothing. The session row is locked,
    which serialises sends per session so ids follow commit order (`session_locked`: the
    caller's transaction already holds that lock on the row `session` was read from).
    """
    if session_locked and not transaction.get_connection().in_atomic_block:
        raise RuntimeError("session_locked=True needs the caller's transaction.")
    # Under the caller's lock the caller's transaction is the unit: a savepoint of our own
    # would add two round trips to every send and undo nothing its rollback does not.
    with nullcontext() if session_locked else transaction.atomic():
        client_msg_id_check(client_msg_id)
        body = _validate_text(body)
        if not session_locked:
            session = session_row_lock(session.pk)
        existing = message_replay(session=session, sender=sender, client_msg_id=client_msg_id)
        if existing is not None:
            if existing.body != body and not existing.is_tombstone:
                raise Conflict(
                    "This client_msg_id was already used for a different message.",
                    code="CLIENT_MSG_ID_REUSED",
                )
            return existing, False
        if session.status != ChatSession.Status.ACTIVE:
            raise Conflict(
                f"This session is {session.get_status_display().lower()}; it accepts no messages.",
                code="SESSION_INACTIVE",
            )
        reply_to = reply_to_find(session=session, reply_to_id=reply_to_id)
        if sender.role == Role.CLIENT:
            if session.client_text_chars_used + len(body) > session.client_text_quota_chars:
                raise Conflict(
                    "You have used this session's text allowance.", code="QUOTA_EXCEEDED"
                )
            session.client_text_chars_used += len(body)
        message = message_deliver(
            session,
            sender=sender,
            kind=Message.Kind.TEXT,
            body=body,
            client_msg_id=client_msg_id,
            reply_to=reply_to,
        )
        return message, True


def session_mark_read(*, membership: Membership, up_to: int) -> int:
    """Move the member's read pointer forward (never back). Returns the pointer."""
    session = ChatSession.objects.only("last_message_id").get(pk=membership.session_id)
    up_to = min(up_to, session.last_message_id or 0)
    with transaction.atomic():
        moved = Membership.objects.filter(pk=membership.pk, last_read_message_id__lt=up_to).update(
            last_read_message_id=up_to
        )
        if moved:
            broadcast_on_commit(
                session_group(membership.session_id),
                events.read_event(
                    session_id=membership.session_id, user_id=membership.user_id, up_to=up_to
                ),
            )
    return max(up_to, membership.last_read_message_id)


@transaction.atomic
def session_change_status(*, session: ChatSession, user: User, action: str) -> ChatSession:
    """Pause, resume, lock or end a session; members see it at once."""
    if action not in TRANSITIONS:
        raise Invalid("action must be pause, resume, lock or end.", code="INVALID_ACTION")
    allowed_from, target = TRANSITIONS[action]
    session = session_row_lock(session.pk)
    if session.status not in allowed_from:
        raise Conflict(
            f"A {session.get_status_display().lower()} session cannot be {PAST[action]}.",
            code="INVALID_TRANSITION",
        )
    previous = session.status
    session.status = target
    session.status_changed_at = timezone.now()
    session.save(update_fields=["status", "status_changed_at"])
    _system_message(session, STATUS_NOTICES[action].format(user=user.public_name))
    audit_event(
        actor=user,
        action=AccessEvent.Action.SESSION_STATUS,
        target=session,
        detail={"from": previous, "to": target},
    )
    broadcast_on_commit(
        session_group(session.pk), events.session_updated_event(_session_payload(session))
    )
    return session
