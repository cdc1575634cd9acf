"""Decisions: each locks its row, refuses a second decision, audits, and tells the people
it concerns after commit.

Two reviewers deciding the same item at once: both lock the row in turn; the second
finds it decided and gets ALREADY_DECIDED (409 in the API, a warning in the admin).
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals import events
from approvals.models import Decision, MessageReview, PrivilegedChange, ReaderApplication
from approvals.selectors import reviews_pending_count
from chat.erasure import account_erase
from chat.models import Message
from chat.retention import person_on_hold
from chat.services import held_message_settle
from samia_chat.audit import audit_event
from samia_chat.errors import Conflict, Forbidden, Invalid, NotFound
from samia_chat.models import (
    ADMIN_ROLES,
    REVIEWER_ROLES,
    AccessEvent,
    Role,
    User,
)
from samia_chat.realtime import (
    CLOSE_RECONNECT,
    STAFF_GROUP,
    broadcast_on_commit,
    user_group,
    user_sockets_close_on_commit,
)

REASON_MAX = 500


def _reason(reason: str, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise Invalid("A rejection needs a reason.", code="REASON_REQUIRED")
    if len(reason) > REASON_MAX:
        raise Invalid(f"The reason can be at most {REASON_MAX} characters.", code="REASON_TOO_LONG")
    return reason


def _already_decided(item: MessageReview | ReaderApplication | PrivilegedChange) -> Conflict:
    # Rows are locked without joins: on PostgreSQL a joined row read before the lock wait
    # would be the one from before the other decision (no decider yet).
    decider = User.objects.filter(pk=item.decided_by_id).first()
    by = f" by {decider.public_name}" if decider is not None else ""
    return Conflict(
        f"This was already {item.get_status_display().lower()}{by}.", code="ALREADY_DECIDED"
    )


def _pending_locked(model, pk: int, not_found: str):
    """The row, locked (no joins: see _already_decided), if nobody decided it yet."""
    item = model.objects.select_for_update().filter(pk=pk).first()
    if item is None:
        raise NotFound(not_found)
    if not item.is_pending:
        raise _already_decided(item)
    return item


def _decision_record(item, decider: User, *, approve: bool, reason: str) -> None:
    item.status = Decision.APPROVED if approve else Decision.REJECTED
    item.decided_by = decider
    item.decided_at = timezone.now()
    item.reason = reason
    item.save(update_fields=["status", "decided_by", "decided_at", "reason"])


def _queue_count_event(review_id: int, status: str):
    return lambda: events.queue_changed_event(review_id, status, reviews_pending_count())


# --- held messages ----------------------------------------------------------------------------


def review_open(message: Message, **_signal) -> MessageReview:
    """Put a just-held message in the queue (the receiver of chat's `message_held`; runs
    inside the send's transaction)."""
    review = MessageReview.objects.create(message=message, submitted_at=message.created_at)

    def requested() -> dict:
        fresh = (
            MessageReview.objects.select_related(
                "message__sender", "message__session", "message__attachment"
            )
            .prefetch_related("message__session__memberships__user")
            .get(pk=review.pk)
        )
        return events.approval_requested_event(fresh, reviews_pending_count())

    broadcast_on_commit(STAFF_GROUP, requested)
    return review


def _review_decide(
    *, review_id: int, reviewer: User, approve: bool, reason: str = ""
) -> MessageReview:
    if reviewer.role not in REVIEWER_ROLES:
        raise Forbidden("Only monitors and admins review messages.", code="NOT_A_REVIEWER")
    reason = _reason(reason, required=not approve)
    with transaction.atomic():
        review = _pending_locked(MessageReview, review_id, "No such review.")
        # Chat releases or withholds the message and tells the session (MESSAGE_GONE if its
        # sender deleted it meanwhile); the decision is recorded here.
        message = held_message_settle(message_id=review.message_id, release=approve, reason=reason)
        _decision_record(review, reviewer, approve=approve, reason=reason)
        review.message = message
        audit_event(
            actor=reviewer,
            action=AccessEvent.Action.APPROVAL,
            target=message,
            detail={"review": review.pk, "decision": review.status, "reason": reason},
        )
        # The sender learns the decision and why; other reviewers see the queue shrink.
        if message.sender_id:
            broadcast_on_commit(user_group(message.sender_id), events.review_decided_event(review))
        broadcast_on_commit(STAFF_GROUP, _queue_count_event(review.pk, review.status))
    return review


def voice_note_approve(*, review_id: int, reviewer: User) -> MessageReview:
    """Release a held message: its client hears it at once."""
    return _review_decide(review_id=review_id, reviewer=reviewer, approve=True)


def voice_note_reject(*, review_id: int, reviewer: User, reason: str) -> MessageReview:
    """Withhold a message for good; its sender is told why and may record again."""
    return _review_decide(review_id=review_id, reviewer=reviewer, approve=False, reason=reason)


# --- reader applications ----------------------------------------------------------------------


def reader_application_submit(*, user: User, about: str = "") -> ReaderApplication:
    """A reader who signed up applies; until approved they take no sessions or calls."""
    User.objects.filter(pk=user.pk).update(reader_approved=False)
    user.reader_approved = False
    return ReaderApplication.objects.create(user=user, about=about[:2000])


def _application_decide(
    *, application_id: int, admin: User, approve: bool, reason: str = ""
) -> ReaderApplication:
    if admin.role not in ADMIN_ROLES:
        raise Forbidden("Only admins decide reader applications.", code="NOT_AN_ADMIN")
    reason = _reason(reason, required=not approve)
    with transaction.atomic():
        application = _pending_locked(ReaderApplication, application_id, "No such application.")
        _decision_record(application, admin, approve=approve, reason=reason)
        User.objects.filter(pk=application.user_id).update(reader_approved=approve)
        audit_event(
            actor=admin,
            action=AccessEvent.Action.APPROVAL,
            target=application,
            detail={"decision": application.status, "reason": reason},
        )
        broadcast_on_commit(
            user_group(application.user_id), events.application_decided_event(application)
        )
    return application


def reader_application_approve(*, application_id: int, admin: User) -> ReaderApplication:
    return _application_decide(application_id=application_id, admin=admin, approve=True)


def reader_application_reject(
    *, application_id: int, admin: User, reason: str
) -> ReaderApplication:
    return _application_decide(
        application_id=application_id, admin=admin, approve=False, reason=reason
    )


# --- privileged changes -----------------------------------------------------------------------


def privileged_change_request(
    *,
    requester: User,
    target: User,
    kind: str,
    justification: str,
    new_role: str = "",
) -> PrivilegedChange:
    """An admin asks for a role change or an erasure; a different super_admin decides."""
    if requester.role not in ADMIN_ROLES:
        raise Forbidden("Only admins ask for privileged changes.", code="NOT_AN_ADMIN")
    justification = (justification or "").strip()
    if not justification:
        raise Invalid("Say why this change is needed.", code="JUSTIFICATION_REQUIRED")
    if len(justification) > REASON_MAX:
        raise Invalid("The justification is too long.", code="JUSTIFICATION_TOO_LONG")
    if kind == PrivilegedChange.Kind.ROLE_CHANGE:
        if new_role not in Role.values:
            raise Invalid("Choose the new role.", code="INVALID_ROLE")
        if new_role == target.role:
            raise Invalid(f"{target} already has this role.", code="SAME_ROLE")
    elif kind == PrivilegedChange.Kind.ERASURE:
        new_role = ""
        if person_on_hold(target.pk):
            raise Conflict(
                "A legal hold covers this person; they cannot be erased.", code="LEGAL_HOLD"
            )
    else:
        raise Invalid("Unknown change.", code="INVALID_KIND")
    try:
        with transaction.atomic():
            change = PrivilegedChange.objects.create(
                kind=kind,
                target=target,
                new_role=new_role,
                requested_by=requester,
                justification=justification,
            )
            audit_event(
                actor=requester,
                action=AccessEvent.Action.CHANGE_REQUESTED,
                target=target,
                detail={"change": change.pk, "kind": kind, "new_role": new_role},
            )
    except IntegrityError:
        raise Conflict(
            "A request of this kind for this person is already waiting.", code="ALREADY_REQUESTED"
        ) from None
    return change


def erasure_request_by_user(*, user: User, note: str = "") -> PrivilegedChange:
    """A person asks for their own account to be erased; a super admin decides. A legal
    hold does not stop the asking, only the erasing."""
    note = (note or "").strip()[:400]
    try:
        with transaction.atomic():
            change = PrivilegedChange.objects.create(
                kind=PrivilegedChange.Kind.ERASURE,
                target=user,
                requested_by=user,
                justification=f"Asked by the person themselves. {note}".strip(),
            )
            audit_event(
                actor=user,
                action=AccessEvent.Action.ERASURE_REQUESTED,
                target=user,
                detail={"change": change.pk},
            )
    except IntegrityError:
        raise Conflict(
            "You have already asked for your account to be deleted.", code="ALREADY_REQUESTED"
        ) from None
    return change


def _change_apply(change: PrivilegedChange, approver: User) -> None:
    target = User.objects.select_for_update().get(pk=change.target_id)
    if change.kind == PrivilegedChange.Kind.ROLE_CHANGE:
        previous = target.role
        target.role = change.new_role
        # A promoted superuser flag would turn the role back into super_admin on save.
        target.is_superuser = change.new_role == Role.SUPER_ADMIN and target.is_superuser
        target.save()
        # Open sockets joined the groups of the old role: they reconnect with the new one.
        user_sockets_close_on_commit(target.pk, CLOSE_RECONNECT)
        audit_event(
            actor=approver,
            action=AccessEvent.Action.ROLE_CHANGED,
            target=target,
            detail={"from": previous, "to": target.role, "change": change.pk},
        )
    else:
        account_erase(user=target, approved_by=approver, change_id=change.pk)
        # What the approvals themselves hold about the person.
        ReaderApplication.objects.filter(user=target).update(about="")
        PrivilegedChange.objects.filter(target=target, requested_by=target).update(
            justification="Asked by the person themselves."
        )


def _change_decide(
    *, change_id: int, approver: User, approve: bool, reason: str = ""
) -> PrivilegedChange:
    if approver.role != Role.SUPER_ADMIN:
        raise Forbidden("Only a super admin decides privileged changes.", code="NOT_A_SUPER_ADMIN")
    reason = _reason(reason, required=not approve)
    with transaction.atomic():
        change = _pending_locked(PrivilegedChange, change_id, "No such request.")
        if change.requested_by_id == approver.pk:
            raise Forbidden(
                "A different super admin must decide a change you asked for.",
                code="SAME_PERSON",
            )
        _decision_record(change, approver, approve=approve, reason=reason)
        audit_event(
            actor=approver,
            action=AccessEvent.Action.APPROVAL,
            target=change,
            detail={"decision": change.status, "kind": change.kind, "reason": reason},
        )
        if approve:
            _change_apply(change, approver)
        if change.requested_by_id:
            broadcast_on_commit(
                user_group(change.requested_by_id), events.change_decided_event(change)
            )
    return change


def privileged_change_approve(*, change_id: int, approver: User) -> PrivilegedChange:
    return _change_decide(change_id=change_id, approver=approver, approve=True)


def privileged_change_reject(*, change_id: int, approver: User, reason: str) -> PrivilegedChange:
    return _change_decide(change_id=change_id, approver=approver, approve=False, reason=reason)
