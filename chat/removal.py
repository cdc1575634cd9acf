"""Taking content away: a sender's deletion, a staff redaction, and the release of stored
files once nothing names them. Each leaves a tombstone in place of the message (its id and
place in the session stay, so every client's history keeps the same order)."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat import events
from chat.models import Attachment, ChatSession, Message
from samia_chat.audit import audit_event
from samia_chat.errors import Conflict, Forbidden, Invalid
from samia_chat.filecrypt import file_delete
from samia_chat.models import AccessEvent, User
from samia_chat.realtime import broadcast_on_commit, session_group


def stored_files_release(storage_keys: list[str]) -> None:
    """Once the transaction commits, delete these stored objects, each unless another
    attachment still names it (imported history stores identical files once)."""

    def release() -> None:
        shared = set(
            Attachment.objects.filter(storage_key__in=storage_keys).values_list(
                "storage_key", flat=True
            )
        )
        for key in storage_keys:
            if key not in shared:
                file_delete(key)

    transaction.on_commit(release, robust=True)


def message_update_broadcast(message: Message) -> Message:
    message = Message.objects.select_related("sender", "attachment", "reply_to__sender").get(
        pk=message.pk
    )
    broadcast_on_commit(session_group(message.session_id), events.message_updated_event(message))
    return message


def _attachment_discard(message: Message) -> None:
    """Detach and delete a message's attachment; its stored bytes go after commit.

    Runs with the message row locked. The bytes are removed only once the tombstone is
    committed, so a rolled-back deletion loses nothing.
    """
    if message.attachment_id is None:
        return
    attachment = Attachment.objects.get(pk=message.attachment_id)
    message.attachment = None
    message.save(update_fields=["attachment"])
    storage_key = attachment.storage_key
    attachment.delete()
    stored_files_release([storage_key])


@transaction.atomic
def message_delete(*, message: Message, user: User) -> Message:
    """Turn the user's own recent message into a tombstone for everyone."""
    message = Message.objects.select_for_update().select_related("session").get(pk=message.pk)
    if message.sender_id != user.pk:
        raise Forbidden("You can only delete your own messages.", code="NOT_YOUR_MESSAGE")
    if message.is_tombstone:
        raise Conflict("This message is already deleted.", code="ALREADY_DELETED")
    window = timedelta(seconds=settings.CHAT["DELETE_WINDOW_SECONDS"])
    if timezone.now() - message.created_at > window:
        raise Forbidden(
            "Messages can only be deleted in the first minutes after sending.",
            code="DELETE_WINDOW_PASSED",
        )
    if message.session.status != ChatSession.Status.ACTIVE:
        raise Conflict("This session is closed; its record cannot change.", code="SESSION_INACTIVE")
    _attachment_discard(message)
    message.status = Message.Status.DELETED
    message.body = ""
    message.deleted_at = timezone.now()
    message.save(update_fields=["status", "body", "deleted_at"])
    return message_update_broadcast(message)


@transaction.atomic
def message_redact(*, message: Message, user: User, reason: str) -> Message:
    """Staff remove a message's content, with a reason kept for the audit."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("A redaction needs a reason.", code="REASON_REQUIRED")
    if len(reason) > 500:
        raise Invalid("The reason can be at most 500 characters.", code="REASON_TOO_LONG")
    message = Message.objects.select_for_update().get(pk=message.pk)
    if message.status == Message.Status.REDACTED:
        raise Conflict("This message is already redacted.", code="ALREADY_REDACTED")
    _attachment_discard(message)
    message.status = Message.Status.REDACTED
    message.body = ""
    message.redacted_by = user
    message.redaction_reason = reason
    message.deleted_at = timezone.now()
    message.save(update_fields=["status", "body", "redacted_by", "redaction_reason", "deleted_at"])
    audit_event(
        actor=user, action=AccessEvent.Action.REDACTION, target=message, detail={"reason": reason}
    )
    return message_update_broadcast(message)
