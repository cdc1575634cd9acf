"""The chat pages. The server renders the shell and embeds the first data as JSON; the
one realtime client (static/js) renders bubbles and keeps them live."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from chat.events import user_dict
from chat.permissions import access_session, can_change_status
from chat.selectors import messages_page, session_detail, sessions_for_inbox
from chat.services import TRANSITIONS
from samia_chat.errors import Forbidden, NotFound


def _boot(request: HttpRequest, current: dict | None = None) -> dict:
    return {
        "me": user_dict(request.user),
        "sessions": sessions_for_inbox(request.user),
        "current": current,
    }


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/app.html", {"boot": _boot(request), "has_thread": False})


@login_required
def thread(request: HttpRequest, session_id: int) -> HttpResponse:
    try:
        access = access_session(request.user, session_id, request=request)
    except NotFound:
        raise Http404 from None
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    current = {
        "session": session_detail(access.session, viewer=request.user),
        "page": messages_page(access.session),
        "read_only": not access.is_member,
        "status_actions": [a for a in TRANSITIONS if can_change_status(request.user, access, a)],
    }
    return render(request, "chat/app.html", {"boot": _boot(request, current), "has_thread": True})
