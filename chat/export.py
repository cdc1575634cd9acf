""" "Download my data": a zip with the person's data as JSON and their own files, decrypted.

What is in it: their profile, their consents, the sessions they take part in (with the
other members' names), every message of those sessions as they may see it (theirs and the
ones they received, with sender names; held and deleted messages without content), their
emergency requests, and the files they uploaded. Nobody else's files.

Small exports are built during the request; larger ones by the worker (chat/worker.py),
and the page offers them when ready. The archive is stored encrypted like any file and
expires after a week.
"""

import json
import logging
import tempfile
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone

from chat.events import HELD_STATUSES
from chat.models import (
    Attachment,
    ChatSession,
    DataExport,
    EmergencyRequest,
    Message,
)
from samia_chat.audit import audit_event
from samia_chat.errors import Conflict
from samia_chat.filecrypt import file_delete, file_read, file_store
from samia_chat.models import AccessEvent, User

logger = logging.getLogger(__name__)
EXPORT_TTL = timedelta(days=7)
COPY_CHUNK = 64 * 1024


def _profile(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
    }


def _consents(user: User) -> list[dict[str, Any]]:
    return [
        {
            "kind": c.kind,
            "version": c.version,
            "granted": c.granted,
            "at": c.created_at,
            "ip_address": c.ip_address,
            "user_agent": c.user_agent,
        }
        for c in user.consents.order_by("created_at", "id")
    ]


def _sessions(user: User) -> list[dict[str, Any]]:
    sessions = ChatSession.objects.filter(memberships__user=user).prefetch_related(
        "memberships__user"
    )
    return [
        {
            "id": s.pk,
            "kind": s.kind,
            "status": s.status,
            "booking_ref": s.booking_ref,
            "service_name": s.service_name,
            "scheduled_at": s.scheduled_at,
            "created_at": s.created_at,
            "members": [
                {"name": m.user.public_name, "role": m.user.role, "is_you": m.user_id == user.pk}
                for m in s.memberships.all()
            ],
        }
        for s in sessions.order_by("created_at")
    ]


def _file_path(attachment: Attachment, message_id: int) -> str:
    # The offered name is already cleaned on upload; the message id keeps names unique.
    return f"files/{message_id}-{Path(attachment.name).name}"


def _messages(user: User) -> tuple[list[dict[str, Any]], list[tuple[str, Attachment]]]:
    """The messages of the person's sessions as they may see them, and their own files."""
    rows = (
        Message.objects.filter(session__memberships__user=user)
        .select_related("sender", "attachment")
        .order_by("session_id", "id")
    )
    messages, files = [], []
    for m in rows.iterator(chunk_size=2000):
        mine = m.sender_id == user.pk
        hidden = m.is_tombstone or (m.status in HELD_STATUSES and not mine)
        entry: dict[str, Any] = {
            "id": m.pk,
            "session_id": m.session_id,
            "sender": m.sender.public_name if m.sender_id else None,
            "from_you": mine,
            "kind": m.kind,
            "status": m.status,
            "body": "" if hidden else m.body,
            "reply_to": m.reply_to_id,
            "created_at": m.created_at,
            "file": None,
        }
        if m.attachment_id and not hidden:
            entry["file"] = {"name": m.attachment.name, "content_type": m.attachment.content_type}
            if mine:
                path = _file_path(m.attachment, m.pk)
                entry["file"]["path_in_archive"] = path
                files.append((path, m.attachment))
        messages.append(entry)
    return messages, files


def _emergencies(user: User) -> list[dict[str, Any]]:
    return list(
        EmergencyRequest.objects.filter(client=user)
        .order_by("created_at")
        .values("id", "status", "reason", "created_at", "accepted_at", "session_id")
    )


def _archive_write(user: User, target: Path) -> None:
    messages, files = _messages(user)
    data = {
        "exported_at": timezone.now(),
        "profile": _profile(user),
        "consents": _consents(user),
        "sessions": _sessions(user),
        "messages": messages,
        "emergency_requests": _emergencies(user),
    }
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "data.json", json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
        )
        for path, attachment in files:
            with archive.open(path, "w") as out:
                for chunk in file_read(
                    storage_key=attachment.storage_key,
                    key_id=attachment.key_id,
                    wrapped_key=bytes(attachment.wrapped_key),
                ):
                    out.write(chunk)


def _estimated_bytes(user: User) -> int:
    files = Attachment.objects.filter(uploaded_by=user, message__isnull=False)
    return files.aggregate(total=Sum("size_bytes"))["total"] or 0


def data_export_request(*, user: User) -> DataExport:
    """Ask for an export. Built at once when small; otherwise the worker builds it."""
    if DataExport.objects.filter(user=user, status=DataExport.Status.PENDING).exists():
        raise Conflict("Your export is already being prepared.", code="EXPORT_PENDING")
    export = DataExport.objects.create(user=user)
    if _estimated_bytes(user) <= settings.PRIVACY["EXPORT_INLINE_BYTES"]:
        try:
            export = data_export_build(export_id=export.pk)
        except Exception:
            # Marked failed by the build; the person sees it and may ask again.
            logger.exception("data export %s failed", export.pk)
            export.refresh_from_db()
    return export


def data_export_write(*, user: User, target: Path) -> None:
    """Write `user`'s archive to `target` (the operator's command; nothing is stored)."""
    _archive_write(user, target)


def data_export_build(*, export_id: int) -> DataExport:
    """Build one pending export into the encrypted store. A failure marks it failed."""
    export = DataExport.objects.select_related("user").get(pk=export_id)
    if export.status != DataExport.Status.PENDING:
        return export
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "export.zip"
        try:
            _archive_write(export.user, target)
            stored = file_store(target, folder=f"exports/{export.user_id}")
        except Exception:
            DataExport.objects.filter(pk=export.pk).update(status=DataExport.Status.FAILED)
            raise
    now = timezone.now()
    export.status = DataExport.Status.READY
    export.ready_at = now
    export.expires_at = now + EXPORT_TTL
    export.storage_key = stored.storage_key
    export.key_id = stored.key_id
    export.wrapped_key = stored.wrapped_key
    export.size_bytes = stored.size_bytes
    export.save()
    return export


def data_exports_build_pending(*, limit: int = 2) -> int:
    """The worker's step: build the oldest pending exports, one worker per export."""
    built = 0
    for _ in range(limit):
        with transaction.atomic():
            export = (
                DataExport.objects.select_for_update(skip_locked=True)
                .filter(status=DataExport.Status.PENDING)
                .order_by("created_at")
                .first()
            )
            if export is None:
                break
            # Built inside the lock: a second worker skips this row instead of building it too.
            data_export_build(export_id=export.pk)
        built += 1
    return built


def data_exports_expire(*, now=None) -> int:
    """Remove archives past their expiry (the worker runs this now and then)."""
    now = now or timezone.now()
    expired = list(DataExport.objects.filter(status=DataExport.Status.READY, expires_at__lt=now))
    for export in expired:
        file_delete(export.storage_key)
        DataExport.objects.filter(pk=export.pk).update(
            status=DataExport.Status.EXPIRED, storage_key="", wrapped_key=None
        )
    return len(expired)


def data_export_download(*, export: DataExport, request: HttpRequest | None = None):
    """The archive's bytes, for its owner only (the caller checked); every download is
    audited."""
    audit_event(
        actor=export.user,
        action=AccessEvent.Action.EXPORT,
        target=export,
        request=request,
        detail={"size_bytes": export.size_bytes},
    )
    return file_read(
        storage_key=export.storage_key,
        key_id=export.key_id,
        wrapped_key=bytes(export.wrapped_key),
    )
