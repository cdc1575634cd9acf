"""The chat pages. The server renders the shell and embeds the first data as JSON; the
one realtime client (static/js) renders bubbles and keeps them live."""

import logging
import re
from collections.abc import Iterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from chat.events import user_dict
from chat.permissions import access_attachment, access_session, can_change_status
from chat.selectors import (
    emergencies_for,
    is_on_call,
    messages_page,
    safety_alerts_open,
    session_detail,
    sessions_for_inbox,
)
from chat.services import TRANSITIONS
from samia_chat.audit import audit_event
from samia_chat.consent import has_voice_consent, terms_required
from samia_chat.errors import Forbidden, NotFound, ServiceError
from samia_chat.filecrypt import FileCorrupt, file_read
from samia_chat.models import AccessEvent, Role, User
from samia_chat.tokens import user_from_access_token

logger = logging.getLogger(__name__)


def _boot(request: HttpRequest, current: dict | None = None) -> dict:
    user = request.user
    return {
        "me": user_dict(user),
        "sessions": sessions_for_inbox(user),
        "current": current,
        # Emergencies: the client's own open request, the sirens ringing for an on-call
        # reader, every open request and unresolved safety alert for staff.
        "on_call": is_on_call(user) if user.role == Role.READER else None,
        "emergencies": emergencies_for(user),
        "safety_alerts": safety_alerts_open(user),
        # Without voice consent the recorder is off (and the server refuses voice notes).
        "voice_consent": has_voice_consent(user),
        # A reader who applied and is not approved yet takes no sessions and no calls.
        "reader_approved": user.reader_approved if user.role == Role.READER else None,
        "emergency_settings": {
            "escalate_staff_seconds": settings.EMERGENCY["ESCALATE_STAFF_SECONDS"],
        },
    }


@login_required
@terms_required
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/app.html", {"boot": _boot(request), "has_thread": False})


@login_required
@terms_required
def thread(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        access = access_session(request.user, session_id, request=request)
    except NotFound:
        raise Http404 from None
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    current = {
        "session": session_detail(access.session, viewer=request.user),
        "page": messages_page(access.session, viewer=request.user),
        "read_only": not access.is_member,
        "status_actions": [a for a in TRANSITIONS if can_change_status(request.user, access, a)],
    }
    return render(request, "chat/app.html", {"boot": _boot(request, current), "has_thread": True})


# --- File downloads -----------------------------------------------------------------------

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
INLINE_TYPES = ("image/", "audio/")


def _requester(request: HttpRequest) -> User | None:
    """The user a Bearer token names (apps; it wins, as in the API), else the browser's
    session user."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return user_from_access_token(token.strip())
    return request.user if request.user.is_authenticated else None


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive for a single `bytes=` range; None to send the whole file.

    Raises ValueError when the range cannot be satisfied. A malformed range, or several
    at once, is ignored and the whole file sent, as HTTP allows.
    """
    match = RANGE_RE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first:
        start = int(first)
        if last and int(last) < start:
            return None
        end = min(int(last), size - 1) if last else size - 1
    elif last:
        start, end = max(size - int(last), 0), size - 1
    else:
        return None
    if start >= size:
        raise ValueError("unsatisfiable range")
    return start, end


async def _stream(chunks: Iterator[bytes]):
    # An async iterator, so Daphne streams the file; decryption runs in worker threads.
    next_chunk = sync_to_async(next, thread_sensitive=False)
    while (chunk := await next_chunk(chunks, None)) is not None:
        yield chunk


def _error(status: int, code: str, message: str) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def file_download(request: HttpRequest, public_id: str) -> HttpResponse:
    """Stream a decrypted attachment to someone allowed to see it, with Range support."""
    try:
        user = _requester(request)
        if user is None:
            raise NotFound("No such file.")
        attachment, access = access_attachment(user, public_id)
    except ServiceError as exc:
        return _error(exc.status, exc.code, exc.message)
    size = attachment.size_bytes
    try:
        byte_range = _byte_range(request.headers.get("Range", ""), size)
    except ValueError:
        response = _error(416, "RANGE_NOT_SATISFIABLE", "The requested range is outside the file.")
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = byte_range or (0, size - 1)
    chunks = file_read(
        storage_key=attachment.storage_key,
        key_id=attachment.key_id,
        wrapped_key=bytes(attachment.wrapped_key),
        start=start,
        end=end,
    )
    try:
        # The first chunk is read here, so a missing or damaged file is a clean error
        # response instead of a connection cut halfway through.
        first = next(chunks, b"")
    except (FileCorrupt, FileNotFoundError):
        logger.exception("attachment %s cannot be read", attachment.public_id)
        return _error(500, "FILE_UNREADABLE", "This file cannot be read. Staff have been told.")
    if not access.is_member:
        audit_event(
            actor=user,
            action=AccessEvent.Action.DOWNLOAD,
            target=attachment,
            request=request,
            detail={"session": attachment.session_id, "range": [start, end]},
        )

    async def body():
        yield first
        async for chunk in _stream(chunks):
            yield chunk

    response = StreamingHttpResponse(
        body(), status=206 if byte_range else 200, content_type=attachment.content_type
    )
    response["Content-Length"] = str(end - start + 1)
    if byte_range:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition_header(
        not attachment.content_type.startswith(INLINE_TYPES), attachment.name
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    # Opened directly, the file can run nothing and load nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response
