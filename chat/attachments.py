"""Messages that carry a file: storing, sending and removing attachments.

The order of a send keeps storage and database consistent: the processed file is
encrypted into the store first; the message and its attachment row are then written in
one transaction. If that transaction fails, the stored object is deleted again, so no
message ever names a missing file and (apart from a crash between the two steps, which
`sweep_files` cleans up) no file is left without its message.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from chat.files import CleanFile, display_name, file_clean
from chat.models import Attachment, ChatSession, DataExport, Message
from chat.services import (
    client_msg_id_check,
    message_deliver,
    message_replay,
    reply_to_find,
    session_row_lock,
)
from samia_chat.errors import Conflict
from samia_chat.filecrypt import (
    StoredFile,
    current_key_id,
    data_key_rewrap,
    file_delete,
    file_storage,
    file_store,
)
from samia_chat.models import Role, User

KIND_OF_ATTACHMENT = {
    Attachment.Kind.VOICE: Message.Kind.VOICE,
    Attachment.Kind.IMAGE: Message.Kind.IMAGE,
    Attachment.Kind.FILE: Message.Kind.FILE,
}

SWEEP_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class AttachmentDraft:
    """A processed upload, ready to be stored: the bytes in `path` are what members get."""

    path: Path
    kind: str
    content_type: str
    name: str
    duration_ms: int | None = None
    waveform: list[int] | None = None
    width: int | None = None
    height: int | None = None

    @classmethod
    def of_clean_file(cls, clean: CleanFile, original_name: str, path: Path | None = None):
        """The draft of a cleaned image or document, offered under its sender's name."""
        return cls(
            path=path or clean.path,
            kind=clean.kind,
            content_type=clean.content_type,
            name=display_name(original_name, clean.extension),
            width=clean.width,
            height=clean.height,
        )


FILE_KINDS = frozenset({Message.Kind.IMAGE, Message.Kind.FILE})
VOICE_KINDS = frozenset({Message.Kind.VOICE})


def upload_replay(
    *, session: ChatSession, sender: User, client_msg_id: str, kinds: frozenset[str]
) -> Message | None:
    """The message an earlier attempt of this upload made, if any.

    A client_msg_id already spent on a message of another kind (a text, say) is a
    conflict, not a replay.
    """
    client_msg_id_check(client_msg_id)
    existing = message_replay(session=session, sender=sender, client_msg_id=client_msg_id)
    if existing is not None and existing.kind not in kinds and not existing.is_tombstone:
        raise Conflict(
            "This client_msg_id was already used for a different message.",
            code="CLIENT_MSG_ID_REUSED",
        )
    return existing


def _voice_seconds(duration_ms: int) -> int:
    return math.ceil(duration_ms / 1000)


def attachment_precheck(
    *, session: ChatSession, sender: User, kind: str, duration_ms: int | None = None
) -> None:
    """Refuse early, before any decoding, what the send would refuse anyway.

    Reads the session without a lock; attachment_send checks again under it.
    """
    if session.status != ChatSession.Status.ACTIVE:
        raise Conflict(
            f"This session is {session.get_status_display().lower()}; it accepts no messages.",
            code="SESSION_INACTIVE",
        )
    if kind == Attachment.Kind.IMAGE and session.images_used >= session.image_quota:
        raise Conflict(
            f"This session already has its {session.image_quota} images.",
            code="QUOTA_EXCEEDED",
        )
    if kind == Attachment.Kind.VOICE and sender.role == Role.CLIENT:
        needed = _voice_seconds(duration_ms) if duration_ms is not None else 1
        if session.client_voice_seconds_used + needed > session.client_voice_quota_seconds:
            raise Conflict(
                "You have used this session's voice-note allowance.", code="QUOTA_EXCEEDED"
            )


def attachment_send(
    *,
    session: ChatSession,
    sender: User,
    draft: AttachmentDraft,
    client_msg_id: str,
    reply_to_id: int | None = None,
) -> tuple[Message, bool]:
    """Store the draft encrypted and send it as a message. Returns (message, created).

    Idempotent on (session, sender, client_msg_id) like a text send: a retry returns the
    first message and stores nothing. The caller still owns (and removes) `draft.path`.
    """
    kinds = frozenset({KIND_OF_ATTACHMENT[draft.kind]})
    existing = upload_replay(
        session=session, sender=sender, client_msg_id=client_msg_id, kinds=kinds
    )
    if existing is not None:
        return existing, False
    stored = file_store(draft.path, folder=str(session.pk))
    try:
        message, created = _attachmentmessage_insert(
            session=session,
            sender=sender,
            draft=draft,
            stored=stored,
            client_msg_id=client_msg_id,
            reply_to_id=reply_to_id,
        )
    except BaseException:
        file_delete(stored.storage_key)
        raise
    if not created:
        # A concurrent retry won the race; its file is the one the message names.
        file_delete(stored.storage_key)
    return message, created


@transaction.atomic
def _attachmentmessage_insert(
    *,
    session: ChatSession,
    sender: User,
    draft: AttachmentDraft,
    stored: StoredFile,
    client_msg_id: str,
    reply_to_id: int | None,
) -> tuple[Message, bool]:
    session = session_row_lock(session.pk)
    kinds = frozenset({KIND_OF_ATTACHMENT[draft.kind]})
    existing = upload_replay(
        session=session, sender=sender, client_msg_id=client_msg_id, kinds=kinds
    )
    if existing is not None:
        return existing, False
    attachment_precheck(
        session=session, sender=sender, kind=draft.kind, duration_ms=draft.duration_ms
    )
    reply_to = reply_to_find(session=session, reply_to_id=reply_to_id)
    if draft.kind == Attachment.Kind.IMAGE:
        session.images_used += 1
    if draft.kind == Attachment.Kind.VOICE and sender.role == Role.CLIENT:
        session.client_voice_seconds_used += _voice_seconds(draft.duration_ms or 0)
    attachment = Attachment.objects.create(
        session=session,
        uploaded_by=sender,
        kind=draft.kind,
        content_type=draft.content_type,
        name=draft.name,
        size_bytes=stored.size_bytes,
        storage_key=stored.storage_key,
        key_id=stored.key_id,
        wrapped_key=stored.wrapped_key,
        duration_ms=draft.duration_ms,
        waveform=draft.waveform,
        width=draft.width,
        height=draft.height,
    )
    message = message_deliver(
        session,
        sender=sender,
        kind=KIND_OF_ATTACHMENT[draft.kind],
        client_msg_id=client_msg_id,
        reply_to=reply_to,
        attachment=attachment,
    )
    return message, True


def file_send(
    *,
    session: ChatSession,
    sender: User,
    source: Path,
    original_name: str,
    client_msg_id: str,
    reply_to_id: int | None = None,
) -> tuple[Message, bool]:
    """Type, clean and send an uploaded image or document. Returns (message, created).

    The session's state is checked before the file is read; the image quota once its kind
    is known; both again under the session lock. Callers answer replays before this.
    """
    attachment_precheck(session=session, sender=sender, kind=Attachment.Kind.FILE)
    clean = file_clean(source, original_name=original_name)
    try:
        attachment_precheck(session=session, sender=sender, kind=clean.kind)
        return attachment_send(
            session=session,
            sender=sender,
            draft=AttachmentDraft.of_clean_file(clean, original_name),
            client_msg_id=client_msg_id,
            reply_to_id=reply_to_id,
        )
    finally:
        clean.path.unlink(missing_ok=True)


def file_keys_rotate(*, batch_size: int = 500) -> int:
    """Re-wrap every data key not under the newest master key. Returns how many changed.

    Only the small wrapped keys in the database change (attachments and data exports);
    file bodies are not touched, so this is quick and safe to interrupt and run again.
    """
    newest = current_key_id()
    changed = 0
    sealed = (
        Attachment.objects.all(),
        DataExport.objects.filter(status=DataExport.Status.READY),
    )
    for rows in sealed:
        while True:
            with transaction.atomic():
                batch = list(
                    rows.select_for_update(skip_locked=True)
                    .exclude(key_id=newest)
                    .only("pk", "key_id", "wrapped_key")[:batch_size]
                )
                if not batch:
                    break
                for row in batch:
                    row.key_id, row.wrapped_key = data_key_rewrap(
                        key_id=row.key_id, wrapped_key=bytes(row.wrapped_key)
                    )
                rows.model.objects.bulk_update(batch, ["key_id", "wrapped_key"])
                changed += len(batch)
    return changed


def _stored_keys(folder: str = "") -> Iterator[str]:
    storage = file_storage()
    directories, files = storage.listdir(folder)
    for name in files:
        yield f"{folder}/{name}" if folder else name
    for directory in directories:
        yield from _stored_keys(f"{folder}/{directory}" if folder else directory)


def files_unreferenced(*, grace: timedelta = SWEEP_GRACE) -> list[str]:
    """Stored objects no attachment or data export names, older than `grace`.

    The grace period spares uploads in flight: their bytes are stored a moment before
    the transaction that records them commits.
    """
    storage = file_storage()
    cutoff = timezone.now() - grace
    unreferenced = []
    for key in _stored_keys():
        if Attachment.objects.filter(storage_key=key).exists():
            continue
        if DataExport.objects.filter(storage_key=key).exists():
            continue
        if storage.get_modified_time(key) < cutoff:
            unreferenced.append(key)
    return unreferenced


def files_sweep(*, keys: list[str]) -> None:
    for key in keys:
        file_delete(key)
