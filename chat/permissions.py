"""Who may see and change a session or a message: the one place these rules live.

Outsiders get 404 (they never learn a session exists); people who may see a thing but not
change it get 403. Staff are not participants: they read any session, read-only, and
every such read is recorded as an access event here.
"""

from dataclasses import dataclass

from django.http import HttpRequest

from chat.models import (
    Attachment,
    ChatSession,
    EmergencyRequest,
    Membership,
    Message,
    SafetyAlert,
)
from chat.selectors import is_on_call
from samia_chat.audit import audit_event
from samia_chat.errors import Forbidden, NotFound
from samia_chat.models import SESSION_OPENER_ROLES, STAFF_ROLES, AccessEvent, Role, User

NOT_FOUND = "No such session."


@dataclass(frozen=True)
class SessionAccess:
    session: ChatSession
    membership: Membership | None

    @property
    def is_member(self) -> bool:
        return self.membership is not None


def access_session(
    user: User,
    session_id: int,
    *,
    write: bool = False,
    lock: bool = False,
    request: HttpRequest | None = None,
) -> SessionAccess:
    """Return the session and the caller's membership, or raise.

    `write=True` means taking part (sending, marking read): members only. A staff read of
    a session they are not in is recorded as an access event. `lock=True` (with `write`,
    inside a transaction) also locks the session row, in the same query, for a write that
    must be ordered within the session.
    """
    if not user.is_authenticated:
        raise NotFound(NOT_FOUND)
    # Members are the hot path (every send): one query for membership and session.
    # Unique per (session, user): no ORDER BY needed to pick one.
    found = Membership.objects.select_related("session").filter(session_id=session_id, user=user)
    if lock:
        found = found.select_for_update(of=("session",))
    membership = next(iter(found[:1]), None)
    if membership is not None:
        membership.user = user
        return SessionAccess(session=membership.session, membership=membership)
    session = ChatSession.objects.filter(pk=session_id).first()
    if session is None or user.role not in STAFF_ROLES:
        raise NotFound(NOT_FOUND)
    if write:
        raise Forbidden("Staff read sessions read-only.", code="READ_ONLY")
    audit_event(actor=user, action=AccessEvent.Action.STAFF_READ, target=session, request=request)
    return SessionAccess(session=session, membership=None)


def access_message(user: User, message_id: int, *, write: bool = False) -> Message:
    """Return a message the user may see (and change, with `write`), or raise."""
    message = Message.objects.select_related("session", "sender").filter(pk=message_id).first()
    if message is None:
        raise NotFound("No such message.")
    access_session(user, message.session_id)
    if write and message.sender_id != user.pk:
        raise Forbidden("You can only change your own messages.", code="NOT_YOUR_MESSAGE")
    return message


HELD_STATUSES = {Message.Status.PENDING_REVIEW, Message.Status.REJECTED}


def access_attachment(user: User, public_id: str) -> tuple[Attachment, SessionAccess]:
    """Return an attachment the user may download, and how they reach its session.

    Members of the session get it; staff too (read-only: the caller audits the download,
    so no separate staff-read event is written here). A held message's file (awaiting
    review, or rejected) reaches only its sender and staff. Everyone else, and every file
    whose message is gone or a tombstone, gets 404.
    """
    attachment = (
        Attachment.objects.select_related("message", "session")
        .filter(public_id=public_id[:32])
        .first()
    )
    message = getattr(attachment, "message", None) if attachment is not None else None
    if message is None or message.is_tombstone or not user.is_authenticated:
        raise NotFound("No such file.")
    is_staff = user.role in STAFF_ROLES
    membership = Membership.objects.filter(session_id=attachment.session_id, user=user).first()
    if membership is None and not is_staff:
        raise NotFound("No such file.")
    if message.status in HELD_STATUSES and message.sender_id != user.pk and not is_staff:
        raise NotFound("No such file.")
    return attachment, SessionAccess(session=attachment.session, membership=membership)


def access_emergency(user: User, request_id: int) -> EmergencyRequest:
    """Return an emergency request the user may see, or raise 404.

    Its client sees it; staff see every request; a reader sees an open request while on
    call (it is ringing for them) and one they took.
    """
    request = (
        EmergencyRequest.objects.select_related("client", "accepted_by")
        .filter(pk=request_id)
        .first()
    )
    if request is None or not user.is_authenticated:
        raise NotFound("No such emergency request.")
    if request.client_id == user.pk or user.role in STAFF_ROLES:
        return request
    # A reader sees a request they took, or one ringing for them now.
    if user.role == Role.READER and (
        request.accepted_by_id == user.pk or (request.is_open and is_on_call(user))
    ):
        return request
    raise NotFound("No such emergency request.")


def access_safety_alert(user: User, alert_id: int) -> SafetyAlert:
    """Staff handle safety alerts; nobody else learns one exists."""
    alert = SafetyAlert.objects.select_related("raised_by").filter(pk=alert_id).first()
    if alert is None or not user.is_authenticated or user.role not in STAFF_ROLES:
        raise NotFound("No such alert.")
    return alert


STATUS_ACTIONS = ("pause", "resume", "lock", "end")


def can_change_status(user: User, access: SessionAccess, action: str) -> bool:
    """Staff may do any status action; a reader may only lock a session they take part in."""
    if user.role in STAFF_ROLES:
        return True
    return action == "lock" and access.is_member and user.role == Role.READER


def can_redact(user: User) -> bool:
    return user.role in STAFF_ROLES


def can_open_sessions(user: User) -> bool:
    return user.role in SESSION_OPENER_ROLES
