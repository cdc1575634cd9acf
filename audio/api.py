"""The voice-note endpoint of the JSON API."""

from django.http import HttpRequest
from ninja import File, Form, Router, Status
from ninja.files import UploadedFile

from audio.services import voice_note_send
from chat.attachments import VOICE_KINDS, upload_replay
from chat.events import message_dict
from chat.permissions import access_session
from chat.schemas import MessageOut, UploadIn
from samia_chat.api import ErrorOut
from samia_chat.limits import upload_rate_hit, voice_note_rate_hit
from samia_chat.metrics import MESSAGES_SENT, SEND_REPLAYS
from samia_chat.uploads import uploaded_path

router = Router(tags=["voice notes"])
ERRORS = {code: ErrorOut for code in (400, 401, 403, 404, 409, 413, 415, 429)}


@router.post(
    "/sessions/{session_id}/voice",
    response={200: MessageOut, 201: MessageOut, **ERRORS},
)
def voice_note_create(
    request: HttpRequest,
    session_id: int,
    form: Form[UploadIn],
    file: File[UploadedFile] = None,
):
    """Send a voice note: any recording a browser makes (Opus/WebM, AAC/MP4, Ogg, WAV, MP3),
    at most 5 minutes and 10 MB. It is decoded, measured and stored as AAC-LC in M4A.

    Idempotent on `client_msg_id` like a text send.
    """
    user = request.auth
    access = access_session(user, session_id, write=True)
    voice_note_rate_hit(user.pk)
    upload_rate_hit(user.pk)
    replay = upload_replay(
        session=access.session, sender=user, client_msg_id=form.client_msg_id, kinds=VOICE_KINDS
    )
    if replay is not None:
        SEND_REPLAYS.inc()
        return Status(200, message_dict(replay, user))
    source = uploaded_path(request, file)
    message, created = voice_note_send(
        session=access.session,
        sender=user,
        source=source,
        client_msg_id=form.client_msg_id,
        reply_to_id=form.reply_to,
    )
    (MESSAGES_SENT.labels(kind=message.kind) if created else SEND_REPLAYS).inc()
    return Status(201 if created else 200, message_dict(message, user))
