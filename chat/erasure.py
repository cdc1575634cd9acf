"""Erasing an account once a super admin approved it (approvals.PrivilegedChange).

The person disappears; the conversations stay for the people on the other side: the
account is anonymised and deactivated, every message it sent becomes a tombstone, and
every file it uploaded is deleted from the store after commit.
"""

from django.db import transaction
from django.utils import timezone

from chat.models import Attachment, EmergencyRequest, Message, ReaderAvailability
from chat.retention import person_on_hold
from chat.services import message_update_broadcast
from samia_chat.audit import audit_event
from samia_chat.errors import Conflict
from samia_chat.filecrypt import file_delete
from samia_chat.models import AccessEvent, User
from samia_chat.tokens import sign_out_everywhere

ERASED_NAME = "Deleted user"


@transaction.atomic
def account_erase(*, user: User, approved_by: User, change_id: int | None = None) -> None:
    """Anonymise `user`, tombstone their messages and delete their files.

    Refused while a legal hold covers them (checked again here: a hold may be placed
    between the request and its approval).
    """
    if person_on_hold(user.pk):
        raise Conflict("A legal hold covers this person; lift it first.", code="LEGAL_HOLD")
    now = timezone.now()
    sent = list(
        Message.objects.select_for_update()
        .filter(sender=user)
        .exclude(status__in=[Message.Status.DELETED, Message.Status.REDACTED])
    )
    for message in sent:
        message.status = Message.Status.DELETED
        message.body = ""
        message.deleted_at = now
        message.attachment = None
        message.save(update_fields=["status", "body", "deleted_at", "attachment"])
        message_update_broadcast(message)
    files = list(Attachment.objects.filter(uploaded_by=user))
    keys = [attachment.storage_key for attachment in files]
    Attachment.objects.filter(pk__in=[a.pk for a in files]).delete()
    EmergencyRequest.objects.filter(client=user).update(reason="")
    ReaderAvailability.objects.filter(reader=user).update(on_call=False)
    sign_out_everywhere(user=user)
    user.username = f"deleted-{user.pk}"
    user.display_name = ERASED_NAME
    user.first_name = user.last_name = user.email = ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    audit_event(
        actor=approved_by,
        action=AccessEvent.Action.ERASURE,
        target=user,
        detail={"change": change_id, "messages": len(sent), "files": len(keys)},
    )

    def remove_files() -> None:
        for key in keys:
            file_delete(key)

    transaction.on_commit(remove_files, robust=True)
