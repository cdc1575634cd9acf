"""Sending a text message over the socket (`message.send`): the same rules as the API's
POST, answered on the sender's socket, through the real ASGI application."""

import pytest

from chat import services
from chat.models import Message
from tests.factories import new_client_msg_id

pytestmark = pytest.mark.django_db(transaction=True)


def _frame(session, body="Will it rain on the wedding?", **extra) -> dict:
    return {
        "type": "message.send",
        "session_id": session.pk,
        "body": body,
        "client_msg_id": extra.pop("client_msg_id", new_client_msg_id()),
        **extra,
    }


def _rows(session) -> list[Message]:
    return list(Message.objects.filter(session=session).order_by("id"))


async def test_a_sent_frame_is_stored_acknowledged_and_pushed_to_the_other_member(
    sockets, sync, reading, client_user, reader_user
):
    reader_socket = await sockets.open(reader_user)
    client_socket = await sockets.open(client_user, auth="bearer", origin=None)
    frame = _frame(reading)

    await client_socket.send(frame)

    ack = await client_socket.receive_type("message.sent")
    rows = await sync(_rows, reading)
    assert [(m.pk, m.body, m.sender_id) for m in rows] == [
        (ack["message"]["id"], frame["body"], client_user.pk)
    ]
    assert ack["client_msg_id"] == frame["client_msg_id"]
    assert ack["created"] is True
    pushed = await reader_socket.receive_type("message.created")
    assert pushed["message"] == ack["message"]


async def test_the_same_client_msg_id_twice_makes_one_message(
    sockets, sync, reading, client_user, reader_user
):
    reader_socket = await sockets.open(reader_user)
    socket = await sockets.open(client_user)
    frame = _frame(reading)

    await socket.send(frame)
    first = await socket.receive_type("message.sent")
    await socket.send(frame)
    again = await socket.receive_type("message.sent")

    assert (first["created"], again["created"]) == (True, False)
    assert again["message"]["id"] == first["message"]["id"]
    assert len(await sync(_rows, reading)) == 1
    await reader_socket.receive_type("message.created")
    assert await reader_socket.receive_nothing()


async def test_one_message_sent_from_two_tabs_at_once_is_stored_once(
    sockets, sync, reading, client_user, reader_user
):
    # A double click that reaches the server through two tabs: both frames are in flight
    # together (sends run in a thread pool, so they really race for the session lock).
    reader_socket = await sockets.open(reader_user)
    tab_a = await sockets.open(client_user)
    tab_b = await sockets.open(client_user)
    frame = _frame(reading)

    await tab_a.send(frame)
    await tab_b.send(frame)
    answers = [await tab_a.receive_type("message.sent"), await tab_b.receive_type("message.sent")]

    assert sorted(a["created"] for a in answers) == [False, True]
    assert answers[0]["message"]["id"] == answers[1]["message"]["id"]
    assert len(await sync(_rows, reading)) == 1
    pushed = await reader_socket.receive_type("message.created")
    assert pushed["message"]["id"] == answers[0]["message"]["id"]
    assert await reader_socket.receive_nothing()


async def test_an_outsider_cannot_send_into_the_session(sockets, sync, reading, outsider):
    socket = await sockets.open(outsider)
    frame = _frame(reading)

    await socket.send(frame)

    error = await socket.receive_type("error")
    assert error["error"]["code"] == "NOT_FOUND"
    assert error["client_msg_id"] == frame["client_msg_id"]
    assert await sync(_rows, reading) == []


async def test_staff_watching_a_session_cannot_write_into_it(sockets, sync, reading, monitor):
    socket = await sockets.open(monitor)

    await socket.send(_frame(reading))

    error = await socket.receive_type("error")
    assert error["error"]["code"] == "READ_ONLY"
    assert await sync(_rows, reading) == []


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"body": "   "}, "BLANK_MESSAGE"),
        ({"body": "x" * 5001}, "MESSAGE_TOO_LONG"),
        ({"body": "a\x00b"}, "INVALID_CHARACTERS"),
        ({"body": 42}, "INVALID"),
        ({"client_msg_id": "has spaces"}, "INVALID_CLIENT_MSG_ID"),
        ({"client_msg_id": None}, "INVALID"),
        ({"session_id": "1"}, "INVALID"),
        ({"session_id": True}, "INVALID"),
        ({"reply_to": "3"}, "INVALID"),
        ({"reply_to": 999_999}, "INVALID_REPLY"),
        ({"kind": "voice"}, "INVALID"),
    ],
)
async def test_a_bad_frame_is_refused_with_its_code_and_stores_nothing(
    sockets, sync, reading, client_user, changes, code
):
    socket = await sockets.open(client_user)

    await socket.send({**_frame(reading), **changes})

    error = await socket.receive_type("error")
    assert error["error"]["code"] == code
    assert await sync(_rows, reading) == []
    await socket.send({"type": "ping"})
    await socket.receive_type("pong")


async def test_a_locked_session_refuses_the_frame(sockets, sync, reading, client_user, reader_user):
    await sync(services.session_change_status, session=reading, user=reader_user, action="lock")
    socket = await sockets.open(client_user)
    before = len(await sync(_rows, reading))

    await socket.send(_frame(reading))

    error = await socket.receive_type("error")
    assert error["error"]["code"] == "SESSION_INACTIVE"
    assert len(await sync(_rows, reading)) == before


async def test_the_message_rate_limit_counts_both_transports(
    sockets, sync, api, settings, reading, client_user
):
    settings.CHAT = {**settings.CHAT, "RATE_MESSAGES": "2/m"}

    def post_over_http(body: str) -> int:
        payload = {"kind": "text", "body": body, "client_msg_id": new_client_msg_id()}
        return api(client_user).post(f"/api/sessions/{reading.pk}/messages", payload).status_code

    assert [await sync(post_over_http, body) for body in ("one", "two")] == [201, 201]
    socket = await sockets.open(client_user)

    await socket.send(_frame(reading, body="three"))

    error = await socket.receive_type("error")
    assert error["error"]["code"] == "RATE_LIMITED"
    assert error["retry_after"] >= 1
    assert [m.body for m in await sync(_rows, reading)] == ["one", "two"]
