"""Chat endpoints of the JSON API. Each one parses, authorises, calls one service or
selector, and returns the shapes in chat.schemas."""

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from chat import removal, selectors, services
from chat.attachments import FILE_KINDS, file_send, upload_replay
from chat.events import message_dict
from chat.permissions import (
    access_message,
    access_session,
    can_change_status,
    can_open_sessions,
    can_redact,
)
from chat.schemas import (
    MessageIn,
    MessageOut,
    MessagePageOut,
    ReadIn,
    ReadOut,
    RedactIn,
    SessionIn,
    SessionOut,
    StatusIn,
    UploadIn,
)
from chat.sending import text_message_post
from samia_chat.api import ErrorOut
from samia_chat.errors import Forbidden, Invalid
from samia_chat.limits import upload_rate_hit
from samia_chat.metrics import CATCH_UPS, MESSAGES_SENT, SEND_REPLAYS
from samia_chat.models import User
from samia_chat.uploads import uploaded_path

router = Router(tags=["chat"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 429: ErrorOut}
UPLOAD_ERRORS = {**ERRORS, 413: ErrorOut, 415: ErrorOut}


class PageParams(Schema):
    after: int | None = None
    before: int | None = None
    limit: int | None = None


@router.get("/sessions", response={200: list[SessionOut], **ERRORS})
def session_list(request: HttpRequest):
    return selectors.sessions_for_inbox(request.auth)


@router.post("/sessions", response={201: SessionOut, **ERRORS})
def session_create(request: HttpRequest, payload: SessionIn):
    user = request.auth
    if not can_open_sessions(user):
        raise Forbidden("Only admins open reading sessions.")
    people = User.objects.in_bulk([payload.client_id, payload.reader_id])
    client, reader = people.get(payload.client_id), people.get(payload.reader_id)
    if client is None or reader is None:
        raise Invalid("client_id and reader_id must name existing users.", code="INVALID_MEMBER")
    session = services.session_open(
        opened_by=user,
        client=client,
        reader=reader,
        booking_ref=payload.booking_ref,
        service_name=payload.service_name,
        scheduled_at=payload.scheduled_at,
    )
    return Status(201, selectors.session_detail(session, viewer=user))


@router.get("/sessions/{session_id}", response={200: SessionOut, **ERRORS})
def session_get(request: HttpRequest, session_id: int):
    access = access_session(request.auth, session_id, request=request)
    return selectors.session_detail(access.session, viewer=request.auth)


@router.get("/sessions/{session_id}/messages", response={200: MessagePageOut, **ERRORS})
def message_list(request: HttpRequest, session_id: int, page: Query[PageParams]):
    if page.limit is not None and not 1 <= page.limit <= 100:
        raise Invalid("limit must be between 1 and 100.", code="INVALID_LIMIT")
    access = access_session(request.auth, session_id, request=request)
    if page.after is not None:
        CATCH_UPS.inc()
    return selectors.messages_page(
        access.session,
        viewer=request.auth,
        after=page.after,
        before=page.before,
        limit=page.limit,
    )


@router.post(
    "/sessions/{session_id}/messages", response={200: MessageOut, 201: MessageOut, **ERRORS}
)
def message_create(request: HttpRequest, session_id: int, payload: MessageIn):
    user = request.auth
    message, created = text_message_post(
        user,
        session_id,
        body=payload.body,
        client_msg_id=payload.client_msg_id,
        reply_to_id=payload.reply_to,
    )
    return Status(201 if created else 200, message_dict(message, user))


@router.post(
    "/sessions/{session_id}/files",
    response={200: MessageOut, 201: MessageOut, **UPLOAD_ERRORS},
)
def file_create(
    request: HttpRequest,
    session_id: int,
    form: Form[UploadIn],
    file: File[UploadedFile] = None,
):
    """Send an image (JPEG, PNG, GIF, WebP; re-encoded), a PDF or a UTF-8 text file.

    The type is decided from the bytes. Idempotent on `client_msg_id` like a text send.
    """
    user = request.auth
    access = access_session(user, session_id, write=True)
    upload_rate_hit(user.pk)
    replay = upload_replay(
        session=access.session, sender=user, client_msg_id=form.client_msg_id, kinds=FILE_KINDS
    )
    if replay is not None:
        SEND_REPLAYS.inc()
        return Status(200, message_dict(replay, user))
    message, created = file_send(
        session=access.session,
        sender=user,
        source=uploaded_path(request, file),
        original_name=file.name or "",
        client_msg_id=form.client_msg_id,
        reply_to_id=form.reply_to,
    )
    (MESSAGES_SENT.labels(kind=message.kind) if created else SEND_REPLAYS).inc()
    return Status(201 if created else 200, message_dict(message, user))


@router.post("/sessions/{session_id}/read", response={200: ReadOut, **ERRORS})
def session_read(request: HttpRequest, session_id: int, payload: ReadIn):
    access = access_session(request.auth, session_id, write=True)
    up_to = services.session_mark_read(membership=access.membership, up_to=payload.up_to)
    return {"session_id": session_id, "last_read_id": up_to}


@router.post("/sessions/{session_id}/status", response={200: SessionOut, **ERRORS})
def session_status(request: HttpRequest, session_id: int, payload: StatusIn):
    user = request.auth
    access = access_session(user, session_id)
    if not can_change_status(user, access, payload.action):
        raise Forbidden("You may not do this to the session.", code="STATUS_FORBIDDEN")
    session = services.session_change_status(
        session=access.session, user=user, action=payload.action
    )
    return selectors.session_detail(session, viewer=user)


@router.delete("/messages/{message_id}", response={200: MessageOut, **ERRORS})
def message_delete(request: HttpRequest, message_id: int):
    message = access_message(request.auth, message_id, write=True)
    return message_dict(removal.message_delete(message=message, user=request.auth), request.auth)


@router.post("/messages/{message_id}/redact", response={200: MessageOut, **ERRORS})
def message_redact(request: HttpRequest, message_id: int, payload: RedactIn):
    user = request.auth
    message = access_message(user, message_id)
    if not can_redact(user):
        raise Forbidden("Only monitors and admins redact messages.")
    return message_dict(
        removal.message_redact(message=message, user=user, reason=payload.reason), user
    )
