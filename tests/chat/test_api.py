"""The chat JSON API contract (docs/api.md): shapes, status codes and error codes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat.models import ChatSession, Membership, Message
from samia_chat.models import Role
from tests.factories import message_create, new_client_msg_id, session_create, user_create

MESSAGE_KEYS = {
    "id",
    "session_id",
    "sender",
    "kind",
    "attachment",
    "body",
    "status",
    "client_msg_id",
    "reply_to",
    "reply_preview",
    "review",
    "created_at",
}


def _text(body="Is the Tower a bad sign?", client_msg_id="", **extra) -> dict:
    return {
        "kind": "text",
        "body": body,
        "client_msg_id": client_msg_id or new_client_msg_id(),
        **extra,
    }


# --- GET /api/sessions (the inbox) ------------------------------------------------------


def test_inbox_lists_the_callers_session_with_members_unread_count_and_last_message(
    api, reading, client_user, reader_user
):
    message_create(session=reading, sender=client_user, body="hello")
    message_create(session=reading, sender=reader_user, body="welcome")
    last = message_create(session=reading, sender=reader_user, body="shuffle the cards")

    response = api(client_user).get("/api/sessions")

    assert response.status_code == 200
    [session] = response.json()
    assert session["id"] == reading.pk
    assert (session["kind"], session["status"]) == ("reading", "active")
    assert session["booking_ref"] == reading.booking_ref
    assert [(m["id"], m["username"], m["role"]) for m in session["members"]] == [
        (client_user.pk, "layla", "client"),
        (reader_user.pk, "noor", "reader"),
    ]
    assert session["unread_count"] == 2
    assert session["last_message"]["id"] == last.pk
    assert set(session["last_message"]) == MESSAGE_KEYS


def test_inbox_leaves_out_sessions_the_caller_is_not_in(api, reading, outsider, reader_user):
    own = session_create(client=outsider, reader=reader_user)

    response = api(outsider).get("/api/sessions")

    assert [s["id"] for s in response.json()] == [own.pk]


def test_inbox_puts_the_most_recently_active_session_first(
    api, reading, client_user, outsider_reader
):
    older = session_create(client=client_user, reader=outsider_reader)
    message_create(session=older, sender=client_user)
    message_create(session=reading, sender=client_user)

    response = api(client_user).get("/api/sessions")

    assert [s["id"] for s in response.json()] == [reading.pk, older.pk]


def test_inbox_of_a_monitor_lists_recent_sessions_read_only(api, reading, monitor):
    response = api(monitor).get("/api/sessions")

    assert response.status_code == 200
    assert [(s["id"], s["unread_count"]) for s in response.json()] == [(reading.pk, 0)]


# --- POST /api/sessions ------------------------------------------------------------------


def test_admin_opens_a_reading_session(api, admin, client_user, reader_user):
    payload = {
        "kind": "reading",
        "client_id": client_user.pk,
        "reader_id": reader_user.pk,
        "booking_ref": "BK-2001",
        "service_name": "Love reading",
        "scheduled_at": "2026-03-01T18:00:00Z",
    }

    response = api(admin).post("/api/sessions", payload)

    assert response.status_code == 201
    body = response.json()
    session = ChatSession.objects.get(booking_ref="BK-2001")
    assert body["id"] == session.pk
    assert (body["kind"], body["status"], body["service_name"]) == (
        "reading",
        "active",
        "Love reading",
    )
    assert {m["id"] for m in body["members"]} == {client_user.pk, reader_user.pk}
    assert session.scheduled_at.isoformat() == "2026-03-01T18:00:00+00:00"
    assert session.created_by == admin


def test_opening_a_second_session_for_the_same_booking_is_a_conflict(
    api, code_of, super_admin, reading, client_user, reader_user
):
    payload = {
        "client_id": client_user.pk,
        "reader_id": reader_user.pk,
        "booking_ref": reading.booking_ref,
    }

    response = api(super_admin).post("/api/sessions", payload)

    assert response.status_code == 409
    assert code_of(response) == "BOOKING_EXISTS"
    assert ChatSession.objects.count() == 1


def test_opening_a_session_with_an_unknown_person_is_refused(api, code_of, admin, client_user):
    payload = {"client_id": client_user.pk, "reader_id": 999_999, "booking_ref": "BK-1"}

    response = api(admin).post("/api/sessions", payload)

    assert response.status_code == 400
    assert code_of(response) == "INVALID_MEMBER"
    assert not ChatSession.objects.exists()


def test_opening_a_session_is_refused_to_a_monitor(api, code_of, monitor, client_user, reader_user):
    payload = {"client_id": client_user.pk, "reader_id": reader_user.pk, "booking_ref": "BK-1"}

    response = api(monitor).post("/api/sessions", payload)

    assert response.status_code == 403
    assert code_of(response) == "FORBIDDEN"
    assert not ChatSession.objects.exists()


# --- GET /api/sessions/{id} ---------------------------------------------------------------


def test_session_detail_for_a_member(api, reading, reader_user, client_user):
    message_create(session=reading, sender=client_user)

    response = api(reader_user).get(f"/api/sessions/{reading.pk}")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["unread_count"]) == (reading.pk, 1)


def test_session_detail_for_an_outsider_is_the_same_404_as_a_missing_session(
    api, code_of, reading, outsider
):
    hidden = api(outsider).get(f"/api/sessions/{reading.pk}")
    missing = api(outsider).get("/api/sessions/999999")

    assert hidden.status_code == missing.status_code == 404
    assert code_of(hidden) == "NOT_FOUND"
    assert hidden.json() == missing.json()


# --- GET /api/sessions/{id}/messages -----------------------------------------------------


@pytest.fixture
def seven_messages(reading, client_user, reader_user):
    people = [client_user, reader_user]
    return [message_create(session=reading, sender=people[i % 2], body=f"m{i}") for i in range(7)]


def _ids(response) -> list[int]:
    return [m["id"] for m in response.json()["messages"]]


def test_message_page_is_the_newest_messages_in_ascending_order(
    api, reading, client_user, seven_messages
):
    response = api(client_user).get(f"/api/sessions/{reading.pk}/messages", limit=3)

    assert response.status_code == 200
    assert _ids(response) == [m.pk for m in seven_messages[-3:]]
    assert response.json()["has_more"] is True
    assert set(response.json()["messages"][0]) == MESSAGE_KEYS


def test_message_page_after_an_id_returns_the_next_ones_ascending(
    api, reading, client_user, seven_messages
):
    after = seven_messages[1].pk

    first = api(client_user).get(f"/api/sessions/{reading.pk}/messages", after=after, limit=3)
    rest = api(client_user).get(
        f"/api/sessions/{reading.pk}/messages", after=_ids(first)[-1], limit=3
    )

    assert _ids(first) == [m.pk for m in seven_messages[2:5]]
    assert first.json()["has_more"] is True
    assert _ids(rest) == [m.pk for m in seven_messages[5:]]
    assert rest.json()["has_more"] is False


def test_message_page_before_an_id_scrolls_back(api, reading, client_user, seven_messages):
    before = seven_messages[4].pk

    response = api(client_user).get(f"/api/sessions/{reading.pk}/messages", before=before, limit=3)

    assert _ids(response) == [m.pk for m in seven_messages[1:4]]
    assert response.json()["has_more"] is True


def test_message_page_defaults_to_50(api, reading, reader_user):
    for i in range(51):
        message_create(session=reading, sender=reader_user, body=f"line {i}")

    response = api(reader_user).get(f"/api/sessions/{reading.pk}/messages")

    assert len(response.json()["messages"]) == 50
    assert response.json()["has_more"] is True


@pytest.mark.parametrize("limit", [0, 101, 1000])
def test_message_page_refuses_a_limit_outside_1_to_100(api, code_of, reading, client_user, limit):
    response = api(client_user).get(f"/api/sessions/{reading.pk}/messages", limit=limit)

    assert response.status_code == 400
    assert code_of(response) == "INVALID_LIMIT"


def test_message_page_refuses_a_non_numeric_cursor(api, code_of, reading, client_user):
    response = api(client_user).get(f"/api/sessions/{reading.pk}/messages", after="abc")

    assert response.status_code == 400
    assert code_of(response) == "INVALID"


def test_message_page_shows_a_deleted_message_as_a_tombstone(api, reading, client_user):
    message = message_create(session=reading, sender=client_user, body="secret")
    api(client_user).delete(f"/api/messages/{message.pk}")

    response = api(client_user).get(f"/api/sessions/{reading.pk}/messages")

    [tombstone] = response.json()["messages"]
    assert (tombstone["id"], tombstone["status"], tombstone["body"]) == (
        message.pk,
        "deleted",
        "",
    )


# --- POST /api/sessions/{id}/messages ----------------------------------------------------


def test_sending_a_message_answers_201_with_the_message(api, reading, client_user):
    response = api(client_user).post(
        f"/api/sessions/{reading.pk}/messages", _text("Hello Noor", client_msg_id="web-1")
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == MESSAGE_KEYS
    message = Message.objects.get()
    assert body["id"] == message.pk
    assert body["session_id"] == reading.pk
    assert body["sender"] == {
        "id": client_user.pk,
        "username": "layla",
        "display_name": "Layla",
        "role": "client",
    }
    assert (body["kind"], body["body"], body["status"], body["client_msg_id"]) == (
        "text",
        "Hello Noor",
        "sent",
        "web-1",
    )
    assert body["reply_to"] is None
    assert body["created_at"]


def test_resending_the_same_client_msg_id_answers_200_with_the_same_message(
    api, reading, client_user
):
    payload = _text("Hello again", client_msg_id="web-2")
    first = api(client_user).post(f"/api/sessions/{reading.pk}/messages", payload)

    again = api(client_user).post(f"/api/sessions/{reading.pk}/messages", payload)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Message.objects.count() == 1


def test_a_reply_carries_a_preview_of_the_quoted_message(api, reading, client_user, reader_user):
    question = message_create(session=reading, sender=client_user, body="What about work?")

    response = api(reader_user).post(
        f"/api/sessions/{reading.pk}/messages", _text("A promotion.", reply_to=question.pk)
    )

    assert response.status_code == 201
    assert response.json()["reply_to"] == question.pk
    assert response.json()["reply_preview"] == {
        "id": question.pk,
        "sender": "layla",
        "kind": "text",
        "body": "What about work?",
        "status": "sent",
    }


@pytest.mark.parametrize("status", ["paused", "locked", "ended"])
def test_sending_to_an_inactive_session_is_a_409(api, code_of, client_user, reader_user, status):
    session = session_create(client=client_user, reader=reader_user, status=status)

    response = api(client_user).post(f"/api/sessions/{session.pk}/messages", _text())

    assert response.status_code == 409
    assert code_of(response) == "SESSION_INACTIVE"
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "BLANK_MESSAGE"), ("  \n ", "BLANK_MESSAGE"), ("x" * 5001, "MESSAGE_TOO_LONG")],
)
def test_sending_blank_or_oversized_text_is_a_400(api, code_of, reading, client_user, body, code):
    response = api(client_user).post(f"/api/sessions/{reading.pk}/messages", _text(body))

    assert response.status_code == 400
    assert code_of(response) == code
    assert not Message.objects.exists()


def test_sending_malformed_json_is_a_400_bad_json(api, code_of, reading, client_user):
    response = api(client_user).post_raw(
        f"/api/sessions/{reading.pk}/messages", '{"body": "unterminated'
    )

    assert response.status_code == 400
    assert code_of(response) == "BAD_JSON"
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "text", "body": "no id"},
        {"kind": "voice", "body": "hi", "client_msg_id": "k-1"},
        {"kind": "text", "body": ["not", "text"], "client_msg_id": "k-2"},
    ],
)
def test_sending_a_payload_outside_the_schema_is_a_400(api, code_of, reading, client_user, payload):
    response = api(client_user).post(f"/api/sessions/{reading.pk}/messages", payload)

    assert response.status_code == 400
    assert code_of(response) == "INVALID"
    assert not Message.objects.exists()


def test_sending_more_than_the_message_rate_is_a_429_with_retry_after(
    api, code_of, settings, fresh_rate_window, reading, client_user
):
    settings.CHAT = {**settings.CHAT, "RATE_MESSAGES": "3/h"}
    fresh_rate_window(group="messages", key=f"user:{client_user.pk}", rate="3/h")
    client_api = api(client_user)
    for _ in range(3):
        assert client_api.post(f"/api/sessions/{reading.pk}/messages", _text()).status_code == 201

    response = client_api.post(f"/api/sessions/{reading.pk}/messages", _text())

    assert response.status_code == 429
    assert code_of(response) == "RATE_LIMITED"
    assert 0 < int(response["Retry-After"]) <= 3600
    assert Message.objects.count() == 3


def test_the_message_rate_allows_100_a_minute(api, fresh_rate_window, reading, reader_user):
    fresh_rate_window(group="messages", key=f"user:{reader_user.pk}", rate="100/m")
    reader_api = api(reader_user)
    responses = [
        reader_api.post(f"/api/sessions/{reading.pk}/messages", _text(f"line {i}"))
        for i in range(101)
    ]

    assert [r.status_code for r in responses[:100]] == [201] * 100
    assert responses[100].status_code == 429
    assert int(responses[100]["Retry-After"]) > 0
    assert Message.objects.count() == 100


def test_the_message_rate_is_per_user(api, settings, reading, client_user, reader_user):
    settings.CHAT = {**settings.CHAT, "RATE_MESSAGES": "1/h"}
    api(client_user).post(f"/api/sessions/{reading.pk}/messages", _text())

    response = api(reader_user).post(f"/api/sessions/{reading.pk}/messages", _text())

    assert response.status_code == 201


# --- POST /api/sessions/{id}/read -------------------------------------------------------


def test_marking_read_moves_the_pointer_and_clears_the_unread_count(
    api, reading, client_user, reader_user
):
    message_create(session=reading, sender=reader_user)
    last = message_create(session=reading, sender=reader_user)

    response = api(client_user).post(f"/api/sessions/{reading.pk}/read", {"up_to": last.pk})

    assert response.status_code == 200
    assert response.json() == {"session_id": reading.pk, "last_read_id": last.pk}
    assert Membership.objects.get(user=client_user).last_read_message_id == last.pk
    [inbox_row] = api(client_user).get("/api/sessions").json()
    assert inbox_row["unread_count"] == 0


# --- DELETE /api/messages/{id} ------------------------------------------------------------


def test_deleting_an_own_recent_message_answers_with_the_tombstone(api, reading, client_user):
    message = message_create(session=reading, sender=client_user, body="wrong chat")

    response = api(client_user).delete(f"/api/messages/{message.pk}")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"], response.json()["body"]) == (
        message.pk,
        "deleted",
        "",
    )
    message.refresh_from_db()
    assert message.status == Message.Status.DELETED


def test_deleting_after_five_minutes_is_a_403_delete_window_passed(
    api, code_of, reading, client_user
):
    message = message_create(session=reading, sender=client_user, body="old")
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(minutes=5, seconds=1)
    )

    response = api(client_user).delete(f"/api/messages/{message.pk}")

    assert response.status_code == 403
    assert code_of(response) == "DELETE_WINDOW_PASSED"
    message.refresh_from_db()
    assert (message.status, message.body) == (Message.Status.SENT, "old")


def test_deleting_someone_elses_message_is_a_403(api, code_of, reading, client_user, reader_user):
    message = message_create(session=reading, sender=reader_user)

    response = api(client_user).delete(f"/api/messages/{message.pk}")

    assert response.status_code == 403
    assert code_of(response) == "NOT_YOUR_MESSAGE"


def test_deleting_a_missing_message_is_a_404(api, code_of, client_user):
    response = api(client_user).delete("/api/messages/424242")

    assert response.status_code == 404
    assert code_of(response) == "NOT_FOUND"


# --- POST /api/messages/{id}/redact -------------------------------------------------------


def test_a_monitor_redacts_a_message_with_a_reason(api, reading, client_user, monitor):
    message = message_create(session=reading, sender=client_user, body="call me at ...")

    response = api(monitor).post(f"/api/messages/{message.pk}/redact", {"reason": "contact"})

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["body"]) == ("redacted", "")
    message.refresh_from_db()
    assert (message.status, message.redaction_reason, message.redacted_by) == (
        Message.Status.REDACTED,
        "contact",
        monitor,
    )


def test_redacting_without_a_reason_is_a_400(api, code_of, reading, client_user, admin):
    message = message_create(session=reading, sender=client_user, body="keep")

    blank = api(admin).post(f"/api/messages/{message.pk}/redact", {"reason": " "})
    missing = api(admin).post(f"/api/messages/{message.pk}/redact", {})

    assert (blank.status_code, missing.status_code) == (400, 400)
    assert code_of(blank) == "REASON_REQUIRED"
    assert code_of(missing) == "INVALID"
    message.refresh_from_db()
    assert message.body == "keep"


# --- POST /api/sessions/{id}/status -------------------------------------------------------


def test_the_reader_locks_the_reading_and_it_becomes_read_only(
    api, code_of, reading, reader_user, client_user
):
    locked = api(reader_user).post(f"/api/sessions/{reading.pk}/status", {"action": "lock"})
    send = api(client_user).post(f"/api/sessions/{reading.pk}/messages", _text())

    assert locked.status_code == 200
    assert locked.json()["status"] == "locked"
    assert send.status_code == 409
    assert code_of(send) == "SESSION_INACTIVE"
    assert list(Message.objects.values_list("kind", flat=True)) == ["system"]


def test_a_reader_cannot_lock_a_reading_they_are_not_in(api, code_of, reading, client_user):
    other_reader = user_create(role=Role.READER)
    session_create(client=client_user, reader=other_reader)

    response = api(other_reader).post(f"/api/sessions/{reading.pk}/status", {"action": "lock"})

    assert response.status_code == 404
    assert code_of(response) == "NOT_FOUND"
    reading.refresh_from_db()
    assert reading.status == ChatSession.Status.ACTIVE


def test_a_status_change_the_status_does_not_allow_is_a_409(api, code_of, monitor, reading):
    response = api(monitor).post(f"/api/sessions/{reading.pk}/status", {"action": "resume"})

    assert response.status_code == 409
    assert code_of(response) == "INVALID_TRANSITION"


def test_an_unknown_status_action_is_a_400(api, code_of, monitor, reading):
    response = api(monitor).post(f"/api/sessions/{reading.pk}/status", {"action": "archive"})

    assert response.status_code == 400
    assert code_of(response) == "INVALID"
    reading.refresh_from_db()
    assert reading.status == ChatSession.Status.ACTIVE
