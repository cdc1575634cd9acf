"""Erasing an account once a super admin approved it (approvals.PrivilegedChange).

The person disappears; the conversations stay for the people on the other side: the
account is anonymised and deactivated, every message it sent becomes a tombstone, every
file it uploaded (and any data export) is deleted from the store after commit, and the
records around the account lose the personal details they held.
"""

from auditlog.context import disable_auditlog
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from chat.models import (
    Attachment,
    DataExport,
    EmergencyRequest,
    LegacyAuditEntry,
    Message,
    ReaderAvailability,
    SafetyAlert,
)
from chat.removal import message_update_broadcast, stored_files_release
from chat.retention import person_on_hold
from samia_chat.audit import audit_event
from samia_chat.errors import Conflict
from samia_chat.models import AccessEvent, Consent, User
from samia_chat.tokens import sign_out_everywhere

ERASED_NAME = "Deleted user"


def _personal_traces_remove(user: User) -> None:
    """What the records around the account still say about the person: addresses and
    browsers in consents and access events, the names in the change history, what they
    wrote in an emergency request or a safety alert. The rows stay (what happened, when).
    The approvals app clears what its own records hold."""
    Consent.objects.filter(user=user).update(ip_address=None, user_agent="")
    AccessEvent.objects.filter(actor=user).update(ip_address=None, user_agent="")
    # Failed sign-ins name the username they tried, not an actor.
    AccessEvent.objects.filter(actor__isnull=True, detail__username=user.username).update(
        detail={}, ip_address=None, user_agent=""
    )
    user_type = ContentType.objects.get_for_model(User)
    LogEntry.objects.filter(content_type=user_type, object_pk=str(user.pk)).update(
        changes={},
        changes_text="",
        object_repr=f"deleted-{user.pk}",
        serialized_data=None,
        remote_addr=None,
    )
    LogEntry.objects.filter(actor=user).update(remote_addr=None, actor_email=None)
    # The previous platform's trail, if it was imported, said as much about them.
    LegacyAuditEntry.objects.filter(user=user).update(
        ip_address=None, user_agent="", old_values=None, new_values=None, metadata=None
    )


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
    exports = list(DataExport.objects.filter(user=user).exclude(storage_key=""))
    keys = [a.storage_key for a in files] + [e.storage_key for e in exports]
    Attachment.objects.filter(pk__in=[a.pk for a in files]).delete()
    DataExport.objects.filter(user=user).delete()
    EmergencyRequest.objects.filter(client=user).update(reason="")
    SafetyAlert.objects.filter(raised_by=user).update(reason="")
    ReaderAvailability.objects.filter(reader=user).update(on_call=False)
    _personal_traces_remove(user)
    sign_out_everywhere(user=user)
    user.username = f"deleted-{user.pk}"
    user.display_name = ERASED_NAME
    user.first_name = user.last_name = user.email = ""
    user.is_active = False
    user.set_unusable_password()
    # The change history would otherwise keep the old name and address as the "before"
    # of this very save.
    with disable_auditlog():
        user.save()
    audit_event(
        actor=approved_by,
        action=AccessEvent.Action.ERASURE,
        target=user,
        detail={"change": change_id, "messages": len(sent), "files": len(keys)},
    )
    stored_files_release(keys)
