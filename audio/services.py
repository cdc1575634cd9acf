"""Voice notes: a recording becomes a message carrying its playable rendition."""

from pathlib import Path

from django.conf import settings

from audio.processing import VoiceRendition, voice_note_transcode
from chat.attachments import AttachmentDraft, attachment_precheck, attachment_send
from chat.models import Attachment, ChatSession, Message
from samia_chat.consent import has_voice_consent
from samia_chat.errors import Forbidden
from samia_chat.models import User


def voice_note_draft(
    rendition: VoiceRendition, *, name: str, path: Path | None = None
) -> AttachmentDraft:
    """The draft of a transcoded voice note: its rendition, true duration and waveform."""
    return AttachmentDraft(
        path=path or rendition.path,
        kind=Attachment.Kind.VOICE,
        content_type=rendition.content_type,
        name=name,
        duration_ms=rendition.duration_ms,
        waveform=rendition.waveform,
    )


def voice_note_send(
    *,
    session: ChatSession,
    sender: User,
    source: Path,
    client_msg_id: str,
    reply_to_id: int | None = None,
) -> tuple[Message, bool]:
    """Decode the recording, store its AAC/M4A rendition and send it. Returns (message, created).

    Callers answer replays before this (nothing is decoded for a retry); attachment_send
    checks again. Session state and quota are checked before decoding and again under the
    session lock; the duration charged to a client's allowance is the decoded one.
    """
    if not has_voice_consent(sender):
        raise Forbidden(
            "Voice notes need your consent to voice recording and processing (My privacy).",
            code="VOICE_CONSENT_REQUIRED",
        )
    attachment_precheck(session=session, sender=sender, kind=Attachment.Kind.VOICE)
    rendition = voice_note_transcode(
        source, max_duration_ms=settings.CHAT["VOICE_MAX_SECONDS"] * 1000
    )
    try:
        return attachment_send(
            session=session,
            sender=sender,
            draft=voice_note_draft(rendition, name=f"voice-note-{client_msg_id}.m4a"),
            client_msg_id=client_msg_id,
            reply_to_id=reply_to_id,
        )
    finally:
        rendition.path.unlink(missing_ok=True)
