"""The access rules (chat.permissions) as one role x action table, through the API.

Outsiders never learn a session exists (404). Staff read any session read-only: their
reads succeed and are audited, their attempts to take part are refused (403), and they
may moderate (redact, change status). Refused calls change nothing.
"""

import pytest

from chat.models import ChatSession, Membership, Message
from samia_chat.models import AccessEvent, Role
from tests.factories import message_create, new_client_msg_id, user_create

ACTIONS = (
    "view",
    "list_messages",
    "send",
    "mark_read",
    "delete_own",
    "redact",
    "pause",
    "resume",
    "lock",
    "end",
    "open_session",
)

# fmt: off
MATRIX = {
    #                  view list send read delete redact pause resume lock end  open
    "client_member":   (200, 200, 201, 200, 200,   403,   403,  403,   403, 403, 403),
    "reader_member":   (200, 200, 201, 200, 200,   403,   403,  403,   200, 403, 403),
    "outsider_client": (404, 404, 404, 404, 404,   404,   404,  404,   404, 404, 403),
    "outsider_reader": (404, 404, 404, 404, 404,   404,   404,  404,   404, 404, 403),
    "monitor":         (200, 200, 403, 403, 403,   200,   200,  200,   200, 200, 403),
    "admin":           (200, 200, 403, 403, 403,   200,   200,  200,   200, 200, 201),
    "super_admin":     (200, 200, 403, 403, 403,   200,   200,  200,   200, 200, 201),
    "anonymous":       (401, 401, 401, 401, 401,   401,   401,  401,   401, 401, 401),
}
# fmt: on

CASES = [
    pytest.param(role, action, expected, id=f"{role}-{action}")
    for role, row in MATRIX.items()
    for action, expected in zip(ACTIONS, row, strict=True)
]
STAFF = {"monitor", "admin", "super_admin"}
READS = {"view", "list_messages"}
WRITES = {"send", "delete_own", "redact", "pause", "resume", "lock", "end", "open_session"}

ROLE_OF = {
    "outsider_client": Role.CLIENT,
    "outsider_reader": Role.READER,
    "monitor": Role.MONITOR,
    "admin": Role.ADMIN,
    "super_admin": Role.SUPER_ADMIN,
}


def _snapshot(session: ChatSession) -> tuple:
    """Everything a refused call must leave untouched."""
    session.refresh_from_db()
    return (
        session.status,
        list(Message.objects.order_by("id").values_list("id", "status", "body")),
        list(Membership.objects.order_by("id").values_list("user_id", "last_read_message_id")),
        ChatSession.objects.count(),
    )


def _call(api, action: str, session: ChatSession, own_message: Message, people: dict):
    sid = session.pk
    if action == "view":
        return api.get(f"/api/sessions/{sid}")
    if action == "list_messages":
        return api.get(f"/api/sessions/{sid}/messages")
    if action == "send":
        body = {"kind": "text", "body": "hello", "client_msg_id": new_client_msg_id()}
        return api.post(f"/api/sessions/{sid}/messages", body)
    if action == "mark_read":
        return api.post(f"/api/sessions/{sid}/read", {"up_to": session.last_message_id})
    if action == "delete_own":
        return api.delete(f"/api/messages/{own_message.pk}")
    if action == "redact":
        return api.post(f"/api/messages/{own_message.pk}/redact", {"reason": "abuse"})
    if action in ("pause", "resume", "lock", "end"):
        return api.post(f"/api/sessions/{sid}/status", {"action": action})
    if action == "open_session":
        payload = {
            "kind": "reading",
            "client_id": people["client"].pk,
            "reader_id": people["reader"].pk,
            "booking_ref": "BK-NEW",
        }
        return api.post("/api/sessions", payload)
    raise AssertionError(action)


@pytest.mark.parametrize(("role", "action", "expected"), CASES)
def test_access_matrix(api, code_of, reading, client_user, reader_user, role, action, expected):
    if role == "client_member":
        actor = client_user
    elif role == "reader_member":
        actor = reader_user
    elif role == "anonymous":
        actor = None
    else:
        actor = user_create(role=ROLE_OF[role])
    from_client = message_create(session=reading, sender=client_user, body="from the client")
    from_reader = message_create(session=reading, sender=reader_user, body="from the reader")
    # Members delete their own message; everyone else has none here and tries the client's.
    own_message = from_reader if actor == reader_user else from_client
    people = {"client": client_user, "reader": reader_user}
    if action == "resume":
        ChatSession.objects.filter(pk=reading.pk).update(status=ChatSession.Status.PAUSED)
    before = _snapshot(reading)

    response = _call(api(actor), action, reading, own_message, people)

    assert response.status_code == expected, response.content
    if expected >= 400:
        code_of(response)
        assert _snapshot(reading) == before
    elif action in READS:
        assert _snapshot(reading) == before
    elif action in WRITES:
        assert _snapshot(reading) != before
    staff_reads = AccessEvent.objects.filter(
        action=AccessEvent.Action.STAFF_READ, target_id=str(reading.pk)
    )
    if role in STAFF and action in READS:
        assert staff_reads.filter(actor=actor).count() == 1
    elif role not in STAFF:
        assert not staff_reads.exists()
