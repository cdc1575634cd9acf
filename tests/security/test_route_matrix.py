"""Every route the project serves, as each persona meets it, in one table.

MATRIX is written from the rules (docs/api.md: the role table and each endpoint's
statuses; chat/permissions.py; docs/operations.md for the admin), not from what the code
answers. The list of routes is read from the running configuration: Django's URL
resolver (included patterns walked; the Django admin counts as one group), the
django-ninja API's path operations (each HTTP method on its own) and the WebSocket routes.
A route without a row fails, and so does a row whose route is gone.

Reading a row: a route key is "METHOD /path", optionally "· variant" (a body or a state
the call is made in). Columns are the personas of conftest.py. A cell is
- an HTTP status, or for pages a redirect, "302 /where" ("?next=…": the sign-in kind);
- a pair (own, foreign) for routes that name an object: `own` is an object of the
  persona's own reading (S for client and reader, T for the other two), `foreign` one of
  the other reading. Personas in no reading get one object of S, a single value. For
  "download my data" every signed-in persona has an archive of their own;
- `known(expected, why)`: the rule says `expected` and the code answers otherwise: a
  strict expected failure, listed so it gets fixed, never a weakened rule;
- for sockets: 101 connected (and answering ping), or the close code.

Bodies are minimal and valid (BODIES), so a refusal is the access decision, not the body.
Each case runs in a fresh world: destructive calls never see each other.
"""

import json
import re
import uuid
from functools import cache
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import Resolver404

from samia_chat.api import api as ninja_api
from samia_chat.tokens import token_pair_issue
from tests.security.conftest import HOME, PASSWORD, PERSONAS

LOGIN = "302 /login/?next=…"  # login_required: off to the sign-in page, and back after
CONSOLE = "302 /admin/login/?next=…"  # off to the staff console's sign-in page
INBOX = "302 /"
PRIVACY = "302 /privacy/"
OUT = "302 /login/"  # signed out, on the sign-in page
SENT = "302 /password-reset/sent/"  # the same answer whether or not the address is known
OPEN = 101  # the socket stays open and answers a ping

M = (200, 404)  # their own reading's object: theirs to see; the other reading's: not there
W = (201, 404)  # made in their own reading; the other reading: not there for them
F = (403, 404)  # their own reading's object, not theirs to change; the other's: not there


class Known(NamedTuple):
    """A cell where the code disagrees with the rule."""

    expected: object
    reason: str


def known(expected, reason: str) -> Known:
    return Known(expected, reason)


def row(anonymous, client, other_client, reader, other_reader, applicant, monitor, admin, sup):
    return dict(
        zip(
            PERSONAS,
            (anonymous, client, other_client, reader, other_reader, applicant, monitor, admin, sup),
            strict=True,
        )
    )


# A frame sent the moment the socket opens reaches a consumer that refused the connection:
# it must be dropped, the close code unchanged.
RACE = 4401

# fmt: off
MATRIX = {
    # --- the JSON API: tokens and the caller
        #   anon     client   o_client reader   o_reader applic.  monitor  admin    super
    "POST /api/auth/token":
        row(200,     200,     200,     200,     200,     200,     200,     200,     200),
    "POST /api/auth/refresh":
        row(200,     200,     200,     200,     200,     200,     200,     200,     200),
    "POST /api/auth/logout":
        row(204,     204,     204,     204,     204,     204,     204,     204,     204),
    "POST /api/auth/logout-all":
        row(401,     204,     204,     204,     204,     204,     204,     204,     204),
    "GET /api/me":
        row(401,     200,     200,     200,     200,     200,     200,     200,     200),
    # --- sessions and messages
        #   anon     client   o_client reader   o_reader applic.  monitor  admin    super
    "GET /api/sessions":
        row(401,     200,     200,     200,     200,     200,     200,     200,     200),
    "POST /api/sessions":
        row(401,     403,     403,     403,     403,     403,     403,     201,     201),
    # An applicant cannot be put in a session: a deliberate 400 INVALID_MEMBER for openers.
    "POST /api/sessions · the applicant as reader":
        row(401,     403,     403,     403,     403,     403,     403,     400,     400),
    "GET /api/sessions/{session_id}":
        row(401,     M,       M,       M,       M,       404,     200,     200,     200),
    "GET /api/sessions/{session_id}/messages":
        row(401,     M,       M,       M,       M,       404,     200,     200,     200),
    "POST /api/sessions/{session_id}/messages":
        row(401,     W,       W,       W,       W,       404,     403,     403,     403),
    # A browser session must send the CSRF token on unsafe calls, whoever it belongs to.
    "POST /api/sessions/{session_id}/messages · cookie without CSRF token":
        row(401,     403,     403,     403,     403,     403,     403,     403,     403),
    "POST /api/sessions/{session_id}/files":
        row(401,     W,       W,       W,       W,       404,     403,     403,     403),
    "POST /api/sessions/{session_id}/voice":
        row(401,     W,       W,       W,       W,       404,     403,     403,     403),
    "POST /api/sessions/{session_id}/read":
        row(401,     M,       M,       M,       M,       404,     403,     403,     403),
    "POST /api/sessions/{session_id}/status · pause":
        row(401,     F,       F,       F,       F,       404,     200,     200,     200),
    "POST /api/sessions/{session_id}/status · lock":
        row(401,     F,       F,       M,       M,       404,     200,     200,     200),
    "POST /api/sessions/{session_id}/safety-alerts":
        row(401,     W,       W,       W,       W,       404,     403,     403,     403),
    # The message is one the reading's client sent: its reader sees it, may not delete it.
    "DELETE /api/messages/{message_id}":
        row(401,     M,       M,       F,       F,       404,     403,     403,     403),
    "POST /api/messages/{message_id}/redact":
        row(401,     F,       F,       F,       F,       404,     200,     200,     200),
    # --- emergencies, on call, safety alerts (readers are off call unless the key says so)
        #   anon     client   o_client reader   o_reader applic.  monitor  admin    super
    "GET /api/readers/me/on-call":
        row(401,     403,     403,     200,     200,     200,     403,     403,     403),
    "POST /api/readers/me/on-call":
        row(401,     403,     403,     200,     200,     403,     403,     403,     403),
    "GET /api/readers":
        row(401,     403,     403,     403,     403,     403,     200,     200,     200),
    "POST /api/emergencies":
        row(401,     201,     201,     403,     403,     403,     403,     403,     403),
    "GET /api/emergencies":
        row(401,     200,     200,     200,     200,     200,     200,     200,     200),
    "GET /api/emergencies/{request_id}":
        row(401,     M,       M,       404,     404,     404,     200,     200,     200),
    "GET /api/emergencies/{request_id} · readers on call":
        row(401,     M,       M,       200,     200,     404,     200,     200,     200),
    # Taken by the reader of the same reading: it stays theirs to see, on call or not.
    "GET /api/emergencies/{request_id} · answered":
        row(401,     M,       M,       M,       M,       404,     200,     200,     200),
    "POST /api/emergencies/{request_id}/cancel":
        row(401,     M,       M,       404,     404,     404,     404,     404,     404),
    "POST /api/emergencies/{request_id}/accept":
        row(401,     403,     403,     403,     403,     403,     403,     403,     403),
    "POST /api/emergencies/{request_id}/accept · readers on call":
        row(401,     403,     403,     200,     200,     403,     403,     403,     403),
    "POST /api/emergencies/{request_id}/decline":
        row(401,     403,     403,     403,     403,     403,     403,     403,     403),
    "POST /api/emergencies/{request_id}/decline · readers on call":
        row(401,     403,     403,     200,     200,     403,     403,     403,     403),
    "POST /api/emergencies/{request_id}/assign":
        row(401,     403,     403,     403,     403,     403,     200,     200,     200),
    # Nor can an applicant be given an emergency: a deliberate 400 INVALID_READER for staff.
    "POST /api/emergencies/{request_id}/assign · to the applicant":
        row(401,     403,     403,     403,     403,     403,     400,     400,     400),
    "GET /api/safety-alerts":
        row(401,     403,     403,     403,     403,     403,     200,     200,     200),
    "POST /api/safety-alerts/{alert_id}/{action} · acknowledge":
        row(401,     404,     404,     404,     404,     404,     200,     200,     200),
    "POST /api/safety-alerts/{alert_id}/{action} · resolve":
        row(401,     404,     404,     404,     404,     404,     200,     200,     200),
    # --- the review queue: reviewers are the staff roles
        #   anon     client   o_client reader   o_reader applic.  monitor  admin    super
    "GET /api/approvals/voice-notes":
        row(401,     403,     403,     403,     403,     403,     200,     200,     200),
    "POST /api/approvals/voice-notes/{review_id}/approve":
        row(401,     403,     403,     403,     403,     403,     200,     200,     200),
    "POST /api/approvals/voice-notes/{review_id}/reject":
        row(401,     403,     403,     403,     403,     403,     200,     200,     200),
    # --- the API's own pages: public schema and docs; the root is only django-ninja's anchor
        #   anon     client   o_client reader   o_reader applic.  monitor  admin    super
    "GET /api/openapi.json":
        row(200,     200,     200,     200,     200,     200,     200,     200,     200),
    "GET /api/docs":
        row(200,     200,     200,     200,     200,     200,     200,     200,     200),
    "GET /api/":
        row(404,     404,     404,     404,     404,     404,     404,     404,     404),
    # --- pages, as a browser session
        #   anon     client   o_client reader   o_reader applic.  monitor  admin    super
    "GET /":
        row(LOGIN,   200,     200,     200,     200,     200,     200,     200,     200),
    "GET /s/{session_id}/":
        row(LOGIN,   M,       M,       M,       M,       404,     200,     200,     200),
    # A file answers 404 to a caller without credentials too (api.md): one answer for all.
    "GET /files/{public_id}":
        row(404,     M,       M,       M,       M,       404,     200,     200,     200),
    "GET /files/{public_id} · bearer":
        row(404,     M,       M,       M,       M,       404,     200,     200,     200),
    # A reader's voice note awaiting review reaches only its sender and staff.
    "GET /files/{public_id} · held voice note":
        row(404,     404,     404,     M,       M,       404,     200,     200,     200),
    "GET /terms/":
        row(200,     200,     200,     200,     200,     200,     200,     200,     200),
    "GET /login/":
        row(200,     INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX),
    "POST /login/":
        row(INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX),
    "POST /logout/":
        row(OUT,     OUT,     OUT,     OUT,     OUT,     OUT,     OUT,     OUT,     OUT),
    "GET /signup/":
        row(200,     INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX),
    "POST /signup/":
        row(INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX),
    # --- setting a password by email: open to everyone, telling nothing about accounts
        #   anon     client   o_client reader   o_reader applic.  monitor  admin    super
    "GET /password-reset/":
        row(200,     200,     200,     200,     200,     200,     200,     200,     200),
    "POST /password-reset/":
        row(SENT,    SENT,    SENT,    SENT,    SENT,    SENT,    SENT,    SENT,    SENT),
    "GET /password-reset/sent/":
        row(200,     200,     200,     200,     200,     200,     200,     200,     200),
    "GET /password-reset/{uidb64}/{token}/ · a link that is not valid":
        row(200,     200,     200,     200,     200,     200,     200,     200,     200),
    "GET /password-reset/done/":
        row(200,     200,     200,     200,     200,     200,     200,     200,     200),
    # --- "my privacy": each person's own
        #   anon     client   o_client reader   o_reader applic.  monitor  admin    super
    "GET /privacy/":
        row(LOGIN,   200,     200,     200,     200,     200,     200,     200,     200),
    "GET /privacy/terms/":
        row(LOGIN,   200,     200,     200,     200,     200,     200,     200,     200),
    "POST /privacy/terms/":
        row(LOGIN,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX,   INBOX),
    "POST /privacy/voice-consent":
        row(LOGIN,   PRIVACY, PRIVACY, PRIVACY, PRIVACY, PRIVACY, PRIVACY, PRIVACY, PRIVACY),
    "POST /privacy/export":
        row(LOGIN,   PRIVACY, PRIVACY, PRIVACY, PRIVACY, PRIVACY, PRIVACY, PRIVACY, PRIVACY),
    "GET /privacy/exports/{export_id}":
        row(LOGIN,   M,       M,       M,       M,       M,       M,       M,       M),
    "POST /privacy/delete-account":
        row(LOGIN,   PRIVACY, PRIVACY, PRIVACY, PRIVACY, PRIVACY, PRIVACY, PRIVACY, PRIVACY),
    "POST /privacy/sign-out-everywhere":
        row(LOGIN,   OUT,     OUT,     OUT,     OUT,     OUT,     OUT,     OUT,     OUT),
    # --- operations: probes and metrics (/metrics is closed at the load balancer, deploy.md)
        #   anon     client   o_client reader   o_reader applic.  monitor  admin    super
    "GET /healthz":
        row(200,     200,     200,     200,     200,     200,     200,     200,     200),
    "GET /readyz":
        row(200,     200,     200,     200,     200,     200,     200,     200,     200),
    "GET /metrics":
        row(200,     200,     200,     200,     200,     200,     200,     200,     200),
    # --- the Django admin, one group: staff only; the change history (auditlog) and the audit
    # log are for admins (operations.md), the approvals queues for every reviewer
        #   anon     client   o_client reader   o_reader applic.  monitor  admin    super
    "GET /admin/":
        row(CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, 200,     200,     200),
    "GET /admin/chat/chatsession/":
        row(CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, 200,     200,     200),
    "GET /admin/samia_chat/user/":
        row(CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, 200,     200,     200),
    "GET /admin/approvals/messagereview/":
        row(CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, 200,     200,     200),
    "GET /admin/approvals/readerapplication/":
        row(CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, 200,     200,     200),
    "GET /admin/auditlog/logentry/":
        row(CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, 403,     200,     200),
    "GET /admin/audit/":
        row(CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, CONSOLE, 403,     200,     200),
    # --- the socket
        #   anon     client   o_client reader   o_reader applic.  monitor  admin    super
    "WS /ws/":
        row(4401,    OPEN,    OPEN,    OPEN,    OPEN,    OPEN,    OPEN,    OPEN,    OPEN),
    # The client sends a ping the moment the socket opens, before it could see a close.
    "WS /ws/ · a frame at once":
        row(RACE,    OPEN,    OPEN,    OPEN,    OPEN,    OPEN,    OPEN,    OPEN,    OPEN),
}
# fmt: on


# --- bodies: minimal and valid -------------------------------------------------------------


class Upload(NamedTuple):
    sample: str  # a key of the `samples` fixture


def _signer(persona: str) -> str:
    """Whose credentials a sign-in carries: an anonymous caller signs in as the client."""
    return "client" if persona == "anonymous" else persona


def _refresh(w, persona, _side):
    return {"refresh": token_pair_issue(user=w.user(_signer(persona)))["refresh"]}


def _text(*_):
    return {"body": "The Tower, reversed.", "client_msg_id": uuid.uuid4().hex}


BODIES = {
    "POST /api/auth/token": lambda w, persona, _s: {
        "username": w.user(_signer(persona)).username,
        "password": PASSWORD,
    },
    "POST /api/auth/refresh": _refresh,
    "POST /api/auth/logout": _refresh,
    "POST /api/sessions": lambda w, *_: {
        "client_id": w.user("client").pk,
        "reader_id": w.user("reader").pk,
        "booking_ref": f"BK-{uuid.uuid4().hex[:12]}",
    },
    "POST /api/sessions · the applicant as reader": lambda w, *_: {
        "client_id": w.user("client").pk,
        "reader_id": w.user("applicant").pk,
        "booking_ref": f"BK-{uuid.uuid4().hex[:12]}",
    },
    "POST /api/sessions/{session_id}/messages": _text,
    "POST /api/sessions/{session_id}/messages · cookie without CSRF token": _text,
    "POST /api/sessions/{session_id}/files": lambda *_: Upload("text"),
    "POST /api/sessions/{session_id}/voice": lambda *_: Upload("voice"),
    "POST /api/sessions/{session_id}/read": lambda w, _p, side: {"up_to": w.message(side).pk},
    "POST /api/sessions/{session_id}/status · pause": lambda *_: {"action": "pause"},
    "POST /api/sessions/{session_id}/status · lock": lambda *_: {"action": "lock"},
    "POST /api/sessions/{session_id}/safety-alerts": lambda *_: {"reason": "Asked for my card."},
    "POST /api/messages/{message_id}/redact": lambda *_: {"reason": "Shared a phone number."},
    "POST /api/readers/me/on-call": lambda *_: {"on_call": True},
    "POST /api/emergencies": lambda *_: {"reason": "A frightening dream about my sister."},
    "POST /api/emergencies/{request_id}/assign": lambda w, *_: {"reader_id": w.user("reader").pk},
    "POST /api/emergencies/{request_id}/assign · to the applicant": lambda w, *_: {
        "reader_id": w.user("applicant").pk
    },
    "POST /api/approvals/voice-notes/{review_id}/reject": lambda *_: {"reason": "No promises."},
    "POST /login/": lambda w, persona, _s: {
        "username": w.user(_signer(persona)).username,
        "password": PASSWORD,
    },
    "POST /password-reset/": lambda *_: {"email": "nobody@example.com"},
    "POST /signup/": lambda *_: {
        "username": f"seeker{uuid.uuid4().hex[:8]}",
        "display_name": "Seeker",
        "email": "seeker@example.com",
        "password1": "Moon-over-water-2026",
        "password2": "Moon-over-water-2026",
        "role": "client",
        "accept_terms": "on",
    },
    "POST /privacy/terms/": lambda *_: {"accept": "yes", "next": "/"},
    "POST /privacy/voice-consent": lambda *_: {"granted": "yes"},
    "POST /privacy/delete-account": lambda *_: {"confirm": "DELETE"},
}


# --- what the project serves ----------------------------------------------------------------

KEY = re.compile(r"^(?P<method>[A-Z]+) (?P<path>\S+)(?: · (?P<variant>.+))?$")
PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
NINJA_PARAM = re.compile(r"\{(?:\w+:)?(\w+)\}")


def _parse(key: str) -> tuple[str, str, str | None]:
    match = KEY.match(key)
    assert match, f"bad route key {key!r}"
    return match["method"], match["path"], match["variant"]


def _walk(patterns, prefix: str = ""):
    """The path of every URL pattern, included ones walked, parameters as {name}."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            assert isinstance(pattern, URLPattern)
            yield "/" + PARAM.sub(r"{\1}", prefix + str(pattern.pattern))


@cache
def api_operations() -> frozenset[tuple[str, str]]:
    """(method, path) of every django-ninja path operation, each method on its own."""
    root = reverse(f"{ninja_api.urls_namespace}:api-root")
    found = set()
    for prefix, router in ninja_api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                full = NINJA_PARAM.sub(r"{\1}", re.sub(r"/+", "/", f"{root}/{prefix}/{path}"))
                found.update((method, full) for method in operation.methods)
    return frozenset(found)


@cache
def page_paths() -> frozenset[str]:
    """Every other path of the URL configuration (the admin's excepted: one group)."""
    api_paths = {path for _method, path in api_operations()}
    return frozenset(
        path
        for path in _walk(get_resolver().url_patterns)
        if path not in api_paths and not path.startswith("/admin/")
    )


def admin_in_urlconf() -> bool:
    return any(path.startswith("/admin/") for path in _walk(get_resolver().url_patterns))


@cache
def socket_paths() -> frozenset[str]:
    from chat.routing import websocket_urlpatterns

    return frozenset(_walk(websocket_urlpatterns))


def _row_keys() -> list[tuple[str, str]]:
    return [_parse(key)[:2] for key in MATRIX]


def test_every_route_the_project_serves_has_a_row():
    rows = _row_keys()
    missing = [f"{m} {p}" for m, p in sorted(api_operations()) if (m, p) not in rows]
    paths = {path for method, path in rows if method != "WS"}
    missing += [f"{path} (page)" for path in sorted(page_paths()) if path not in paths]
    if admin_in_urlconf() and not any(path.startswith("/admin/") for path in paths):
        missing.append("/admin/ (the admin group)")
    sockets = {path for method, path in rows if method == "WS"}
    missing += [f"WS {path}" for path in sorted(socket_paths()) if path not in sockets]
    assert not missing, "new route without a row: " + "; ".join(missing)


def _admin_route_exists(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    # The admin's last pattern catches every address and answers 404 (or the sign-in page).
    return match.url_name is not None


def test_every_row_names_a_route_that_exists():
    stale = []
    for key in MATRIX:
        method, path, _variant = _parse(key)
        if method == "WS":
            exists = path in socket_paths()
        elif path.startswith("/admin/"):
            exists = _admin_route_exists(path)
        else:
            exists = (method, path) in api_operations() or path in page_paths()
        if not exists:
            stale.append(key)
    assert not stale, "row for a route that no longer exists: " + "; ".join(stale)


def test_every_row_has_a_cell_for_every_persona():
    for key, cells in MATRIX.items():
        assert tuple(cells) == PERSONAS, key
        for persona, cell in cells.items():
            if isinstance(cell, tuple) and not isinstance(cell, Known):
                assert _has_own(key, persona), f"{key}: {persona} has no object of their own"


# --- the cases ----------------------------------------------------------------------------------


def _has_own(key: str, persona: str) -> bool:
    if "{export_id}" in key:
        return persona != "anonymous"
    return persona in HOME


def _names_object(key: str) -> bool:
    return bool(re.search(r"\{(?!action\})\w+\}", key))


def _param(key: str, persona: str, side: str | None, expected):
    case_id = f"{key} | {persona}" + (f" | {side}" if side else "")
    if isinstance(expected, Known):
        mark = pytest.mark.xfail(strict=True, reason=expected.reason)
        return pytest.param(key, persona, side, expected.expected, id=case_id, marks=mark)
    return pytest.param(key, persona, side, expected, id=case_id)


def _cases(sockets: bool) -> list:
    cases = []
    for key, cells in MATRIX.items():
        if key.startswith("WS ") != sockets:
            continue
        for persona, cell in cells.items():
            if isinstance(cell, tuple) and not isinstance(cell, Known):
                cases.append(_param(key, persona, "own", cell[0]))
                cases.append(_param(key, persona, "foreign", cell[1]))
            elif _names_object(key):
                side = "own" if _has_own(key, persona) else "foreign"
                cases.append(_param(key, persona, side, cell))
            else:
                cases.append(_param(key, persona, None, cell))
    return cases


# --- the drivers ----------------------------------------------------------------------------


def _reading(persona: str, side: str | None) -> str:
    """S or T: the reading whose objects this case names."""
    if side == "own" and persona in HOME:
        return HOME[persona]
    return "T" if HOME.get(persona) == "S" else "S"


def _url(w, key: str, persona: str, side: str | None) -> str:
    _method, path, variant = _parse(key)
    reading = _reading(persona, side)
    objects = {
        "session_id": lambda: w.session(reading).pk,
        "message_id": lambda: w.message(reading).pk,
        "request_id": lambda: (
            (w.emergency_answered(reading) if variant == "answered" else w.emergency(reading)).pk
        ),
        "alert_id": lambda: w.alert(reading).pk,
        "review_id": lambda: w.review(reading).pk,
        "public_id": lambda: (
            (
                w.review(reading).message.attachment
                if variant == "held voice note"
                else w.attachment(reading)
            ).public_id
        ),
        "export_id": lambda: w.export(_export_owner(persona, side)).pk,
        "action": lambda: variant,
        # A link that names no account: the page says the link is not valid.
        "uidb64": lambda: "MTIzNDU2Nzg",
        "token": lambda: "not-a-token",
    }

    def value(match: re.Match) -> str:
        name = match.group(1)
        assert name in objects, f"{key}: teach the matrix which object {{{name}}} names"
        return str(objects[name]())

    return re.sub(r"\{(\w+)\}", value, path)


def _export_owner(persona: str, side: str | None) -> str:
    if side == "own":
        return persona
    return "other_client" if persona == "client" else "client"


def _outcome(response):
    """The status, or for a redirect "302 /where" ("?next=…" when it carries one)."""
    if response.streaming:
        if response.is_async:

            async def drain():
                return [chunk async for chunk in response.streaming_content]

            async_to_sync(drain)()
        else:
            list(response.streaming_content)
    if 300 <= response.status_code < 400:
        location = urlsplit(response["Location"])
        suffix = "?next=…" if "next" in parse_qs(location.query) else ""
        return f"{response.status_code} {location.path}{suffix}"
    return response.status_code


def _api_call(api, user, method: str, url: str, body, samples):
    caller = api(user)
    if isinstance(body, Upload):
        return caller.upload(url, samples[body.sample], client_msg_id=uuid.uuid4().hex)
    if method == "GET":
        return caller.get(url)
    if method == "DELETE":
        return caller.delete(url)
    return caller.post(url, body)


def _browser_api_call(user, url: str, body: dict):
    """A JSON POST from a signed-in browser that forgot the X-CSRFToken header."""
    browser = Client(enforce_csrf_checks=True)
    if user is not None:
        browser.force_login(user)
    return browser.post(url, json.dumps(body), content_type="application/json")


def _page_call(user, method: str, url: str, body):
    browser = Client()
    if user is not None:
        browser.force_login(user)
    return getattr(browser, method.lower())(url, body or {})


@pytest.mark.parametrize(("key", "persona", "side", "expected"), _cases(sockets=False))
def test_route(world, api, key, persona, side, expected):
    method, path, variant = _parse(key)
    if variant == "readers on call":
        world.readers_on_call()
    url = _url(world, key, persona, side)
    body = BODIES[key](world, persona, _reading(persona, side)) if key in BODIES else None
    user = world.user(persona)
    if variant == "cookie without CSRF token":
        response = _browser_api_call(user, url, body)
    elif (method, path) in api_operations():
        response = _api_call(api, user, method, url, body, world.samples)
    elif variant == "bearer":  # an app: `Authorization: Bearer`, no browser session
        response = api(user).http.get(url)
    else:
        response = _page_call(user, method, url, body)
    outcome = _outcome(response)
    detail = "" if response.streaming else response.content[:300].decode(errors="replace")
    assert outcome == expected, f"{method} {url} as {persona}: {outcome}, not {expected}. {detail}"


# --- the socket -------------------------------------------------------------------------------

PING = json.dumps({"type": "ping"})


async def _socket_outcome(socket, *, frame_first: bool):
    """101 if the socket stays open and answers a ping, else the code it closed with."""
    if not socket.connected:
        return 403  # the handshake itself was refused
    communicator = socket.communicator
    if frame_first:
        # A browser sends as soon as the socket opens, before any close can arrive.
        await communicator.send_to(text_data=PING)
    else:
        # Read what the server says first: an unauthenticated socket is closed at once.
        while not await communicator.receive_nothing(0.2):
            output = await communicator.receive_output(3)
            if output["type"] == "websocket.close":
                return output.get("code", 1000)
        await communicator.send_to(text_data=PING)
    while True:
        output = await communicator.receive_output(3)
        if output["type"] == "websocket.close":
            return output.get("code", 1000)
        if json.loads(output.get("text", "{}")).get("type") == "pong":
            return OPEN


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("key", "persona", "side", "expected"), _cases(sockets=True))
async def test_socket(world, sockets, sync, key, persona, side, expected):
    _method, path, variant = _parse(key)
    assert path == "/ws/", f"{key}: the sockets fixture opens /ws/ only; teach it this path"
    user = await sync(world.user, persona)
    socket = await sockets.open(user)  # the browser's way: session cookie and Origin
    try:
        outcome = await _socket_outcome(socket, frame_first=variant == "a frame at once")
    except Exception as exc:  # the consumer crashed: the communicator re-raises its error
        outcome = f"the consumer raised {type(exc).__name__}: {exc}"
    # Closed here rather than by the fixture, so a consumer that crashed fails this case.
    sockets.opened.remove(socket)
    try:
        await socket.close()
    except Exception as exc:
        outcome = f"{outcome}, then the consumer raised {type(exc).__name__}: {exc}"
    assert outcome == expected
