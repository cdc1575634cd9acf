"""The JSON of reviews and the real-time events of decisions."""

from typing import Any

from approvals.models import MessageReview, PrivilegedChange, ReaderApplication
from chat.events import attachment_dict, iso_time, message_dict, user_dict
from samia_chat.models import Role

APPROVAL_REQUESTED = "approval.requested"
APPROVAL_DECIDED = "approval.decided"


def review_dict(review: MessageReview) -> dict[str, Any]:
    """A held message as reviewers see it: who sent it to whom, how long it has waited,
    and the file to play (the download is audited).

    Expects `message__sender`, `message__session` and `message__attachment` loaded;
    `client` is read from the session's members.
    """
    message = review.message
    attachment = message.attachment if message.attachment_id else None
    clients = [m.user for m in message.session.memberships.all() if m.user.role == Role.CLIENT]
    return {
        "id": review.pk,
        "status": review.status,
        "submitted_at": iso_time(review.submitted_at),
        "decided_at": iso_time(review.decided_at),
        "decided_by": user_dict(review.decided_by) if review.decided_by_id else None,
        "reason": review.reason,
        "message_id": message.pk,
        "session_id": message.session_id,
        "kind": message.kind,
        "body": message.body,
        "sender": user_dict(message.sender) if message.sender_id else None,
        "client": user_dict(clients[0]) if clients else None,
        "attachment": attachment_dict(attachment) if attachment is not None else None,
    }


def approval_requested_event(review: MessageReview, pending_count: int) -> dict[str, Any]:
    return {
        "type": APPROVAL_REQUESTED,
        "pending_count": pending_count,
        "review": review_dict(review),
    }


def queue_changed_event(review_id: int, status: str, pending_count: int) -> dict[str, Any]:
    # Reviewers learn an item left the queue (someone else decided it) and the new count.
    return {
        "type": APPROVAL_DECIDED,
        "subject": "message",
        "id": review_id,
        "status": status,
        "pending_count": pending_count,
    }


def review_decided_event(review: MessageReview) -> dict[str, Any]:
    """To the sender of a held message: the decision, why, and the message as they see it."""
    message = review.message
    return {
        "type": APPROVAL_DECIDED,
        "subject": "message",
        "id": review.pk,
        "status": review.status,
        "reason": review.reason,
        "message": message_dict(message, message.sender),
    }


def application_decided_event(application: ReaderApplication) -> dict[str, Any]:
    return {
        "type": APPROVAL_DECIDED,
        "subject": "reader_application",
        "id": application.pk,
        "status": application.status,
        "reason": application.reason,
    }


def change_decided_event(change: PrivilegedChange) -> dict[str, Any]:
    return {
        "type": APPROVAL_DECIDED,
        "subject": "privileged_change",
        "id": change.pk,
        "kind": change.kind,
        "status": change.status,
        "new_role": change.new_role,
    }
