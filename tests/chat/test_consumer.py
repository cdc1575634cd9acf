"""The chat socket through the real ASGI application (origin check, auth, routing, consumer)."""

import jwt
import pytest

from chat import services
from samia_chat.tokens import access_token_issue
from tests.factories import new_client_msg_id, session_create

pytestmark = pytest.mark.django_db(transaction=True)

FOREIGN_ORIGIN = b"https://evil.example"


def _post_message(api, user, session, body: str) -> dict:
    payload = {"kind": "text", "body": body, "client_msg_id": new_client_msg_id()}
    response = api(user).post(f"/api/sessions/{session.pk}/messages", payload)
    assert response.status_code == 201, response.content
    return response.json()


async def _assert_usable(socket) -> None:
    await socket.send({"type": "ping"})
    assert await socket.receive_type("pong") == {"type": "pong"}


# --- handshake and authentication -----------------------------------------------------------


async def test_a_cookie_socket_from_our_origin_connects(sockets, client_user):
    socket = await sockets.open(client_user)

    assert socket.connected
    await _assert_usable(socket)


async def test_a_cookie_socket_without_origin_is_refused_at_the_handshake(sockets, client_user):
    socket = await sockets.open(client_user, origin=None)

    assert not socket.connected


async def test_a_cookie_socket_from_a_foreign_origin_is_refused_at_the_handshake(
    sockets, client_user
):
    socket = await sockets.open(client_user, origin=FOREIGN_ORIGIN)

    assert not socket.connected


async def test_a_bearer_socket_without_origin_connects(sockets, client_user):
    socket = await sockets.open(client_user, auth="bearer", origin=None)

    assert socket.connected
    await _assert_usable(socket)


async def test_a_bearer_socket_from_a_foreign_origin_is_refused(sockets, client_user):
    socket = await sockets.open(client_user, auth="bearer", origin=FOREIGN_ORIGIN)

    assert not socket.connected


async def test_a_forged_bearer_token_is_closed_with_4401(sockets, sync, client_user):
    token = await sync(access_token_issue, user=client_user)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "someone-elses-secret-key-of-enough-length", "HS256")

    socket = await sockets.open(auth="bearer", token=forged, origin=None)

    assert await socket.receive_close() == 4401


async def test_an_expired_bearer_token_is_closed_with_4401(sockets, sync, settings, client_user):
    settings.JWT_ACCESS_TTL_SECONDS = -1
    expired = await sync(access_token_issue, user=client_user)

    socket = await sockets.open(auth="bearer", token=expired, origin=None)

    assert await socket.receive_close() == 4401


async def test_an_anonymous_socket_is_closed_with_4401(sockets, db):
    socket = await sockets.open(None)

    assert await socket.receive_close() == 4401


# --- events of the user's sessions ------------------------------------------------------------


async def test_a_message_sent_over_http_arrives_on_every_member_socket(
    sockets, sync, api, reading, client_user, reader_user
):
    reader_socket = await sockets.open(reader_user)
    client_socket = await sockets.open(client_user, auth="bearer", origin=None)

    sent = await sync(_post_message, api, client_user, reading, "Is he the one?")

    for socket in (reader_socket, client_socket):
        event = await socket.receive_type("message.created")
        assert event["message"] == sent
        assert event["previous_id"] is None


async def test_one_socket_carries_the_events_of_all_the_users_sessions(
    sockets, sync, api, reading, client_user, reader_user, outsider_reader
):
    second = await sync(session_create, client=client_user, reader=outsider_reader)
    client_socket = await sockets.open(client_user)

    first_sent = await sync(_post_message, api, reader_user, reading, "from the first")
    second_sent = await sync(_post_message, api, outsider_reader, second, "from the second")

    received = [(await client_socket.receive_type("message.created"))["message"] for _ in range(2)]
    assert [(m["session_id"], m["id"]) for m in received] == [
        (reading.pk, first_sent["id"]),
        (second.pk, second_sent["id"]),
    ]


async def test_a_message_does_not_reach_an_outsiders_socket(
    sockets, sync, api, reading, client_user, reader_user, outsider
):
    outsider_socket = await sockets.open(outsider)
    reader_socket = await sockets.open(reader_user)

    await sync(_post_message, api, client_user, reading, "private")

    await reader_socket.receive_type("message.created")
    assert await outsider_socket.receive_nothing()


async def test_typing_from_a_member_reaches_the_other_member(
    sockets, reading, client_user, reader_user, outsider
):
    reader_socket = await sockets.open(reader_user)
    outsider_socket = await sockets.open(outsider)
    client_socket = await sockets.open(client_user)

    await client_socket.send({"type": "typing", "session_id": reading.pk})

    event = await reader_socket.receive_type("typing")
    assert event["session_id"] == reading.pk
    assert event["user"]["id"] == client_user.pk
    assert await outsider_socket.receive_nothing()


async def test_typing_in_a_session_one_is_not_in_is_an_error_frame(
    sockets, reading, outsider, reader_user
):
    reader_socket = await sockets.open(reader_user)
    outsider_socket = await sockets.open(outsider)

    await outsider_socket.send({"type": "typing", "session_id": reading.pk})

    error = await outsider_socket.receive_type("error")
    assert error["error"]["code"] == "NOT_IN_SESSION"
    await _assert_usable(outsider_socket)
    assert not [e for e in await reader_socket.drain() if e["type"] == "typing"]


async def test_a_read_over_http_is_pushed_to_the_other_member(
    sockets, sync, api, reading, client_user, reader_user
):
    sent = await sync(_post_message, api, client_user, reading, "hello")
    client_socket = await sockets.open(client_user)

    response = await sync(
        lambda: api(reader_user).post(f"/api/sessions/{reading.pk}/read", {"up_to": sent["id"]})
    )

    assert response.status_code == 200
    event = await client_socket.receive_type("read")
    assert event == {
        "type": "read",
        "session_id": reading.pk,
        "user_id": reader_user.pk,
        "up_to": sent["id"],
    }


async def test_a_deleted_message_becomes_a_tombstone_on_the_other_socket(
    sockets, sync, api, reading, client_user, reader_user
):
    sent = await sync(_post_message, api, client_user, reading, "wrong chat")
    reader_socket = await sockets.open(reader_user)

    await sync(lambda: api(client_user).delete(f"/api/messages/{sent['id']}"))

    event = await reader_socket.receive_type("message.updated")
    assert (event["message"]["id"], event["message"]["status"], event["message"]["body"]) == (
        sent["id"],
        "deleted",
        "",
    )


async def test_locking_the_reading_is_pushed_to_the_client(
    sockets, sync, api, reading, client_user, reader_user
):
    client_socket = await sockets.open(client_user)

    await sync(
        lambda: api(reader_user).post(f"/api/sessions/{reading.pk}/status", {"action": "lock"})
    )

    event = await client_socket.receive_type("session.updated")
    assert (event["session"]["id"], event["session"]["status"]) == (reading.pk, "locked")


async def test_a_socket_follows_a_session_opened_after_it_connected(
    sockets, sync, api, admin, client_user, outsider_reader
):
    client_socket = await sockets.open(client_user)

    session = await sync(
        services.session_open,
        opened_by=admin,
        client=client_user,
        reader=outsider_reader,
        booking_ref="BK-LIVE",
    )
    updated = await client_socket.receive_type("session.updated")
    sent = await sync(_post_message, api, outsider_reader, session, "Welcome, Layla.")

    assert updated["session"]["id"] == session.pk
    assert updated["session"]["status"] == "active"
    created = await client_socket.receive_type("message.created")
    assert created["message"]["id"] == sent["id"]
    assert created["message"]["session_id"] == session.pk


async def test_presence_tells_the_other_member_when_one_comes_and_goes(
    sockets, reading, client_user, reader_user
):
    client_socket = await sockets.open(client_user)

    reader_socket = await sockets.open(reader_user)
    online = await client_socket.receive_type("presence", user_id=reader_user.pk)
    await reader_socket.close()
    offline = await client_socket.receive_type("presence", user_id=reader_user.pk)

    assert online == {"type": "presence", "user_id": reader_user.pk, "online": True}
    assert offline == {"type": "presence", "user_id": reader_user.pk, "online": False}


async def test_presence_stays_online_while_another_tab_is_open(
    sockets, reading, client_user, reader_user
):
    client_socket = await sockets.open(client_user)
    first_tab = await sockets.open(reader_user)
    second_tab = await sockets.open(reader_user)
    await client_socket.receive_type("presence", user_id=reader_user.pk, online=True)
    await client_socket.drain()

    await first_tab.close()

    assert await client_socket.receive_nothing()
    await _assert_usable(second_tab)


async def test_presence_is_not_sent_to_sockets_outside_the_users_sessions(
    sockets, reading, client_user, outsider
):
    outsider_socket = await sockets.open(outsider)

    await sockets.open(client_user)

    assert await outsider_socket.receive_nothing()


# --- bad frames -------------------------------------------------------------------------------


async def test_ping_answers_pong(sockets, client_user):
    socket = await sockets.open(client_user)

    await socket.send({"type": "ping"})

    assert await socket.receive() == {"type": "pong"}


async def test_a_frame_that_is_not_json_is_an_error_frame(sockets, client_user):
    socket = await sockets.open(client_user)

    await socket.send("{not json")

    error = await socket.receive_type("error")
    assert error["error"]["code"] == "BAD_JSON"
    await _assert_usable(socket)


@pytest.mark.parametrize("frame", [{"type": "shout"}, {"no": "type"}, ["ping"]])
async def test_a_frame_of_unknown_type_is_an_error_frame(sockets, client_user, frame):
    socket = await sockets.open(client_user)

    await socket.send(frame)

    error = await socket.receive_type("error")
    assert error["error"]["code"] == "UNKNOWN_TYPE"
    await _assert_usable(socket)


async def test_a_frame_over_the_size_limit_closes_with_4409(
    sockets, settings, client_user, reading, reader_user
):
    reader_socket = await sockets.open(reader_user)
    socket = await sockets.open(client_user)
    limit = settings.CHAT["WS_MAX_FRAME_BYTES"]

    await socket.send({"type": "typing", "session_id": reading.pk, "pad": "x" * limit})

    assert await socket.receive_close() == 4409
    await _assert_usable(reader_socket)


async def test_too_many_frames_close_with_4408(sockets, settings, client_user):
    settings.CHAT = {**settings.CHAT, "RATE_SOCKET_FRAMES": "3/10s"}
    socket = await sockets.open(client_user)

    for _ in range(4):
        await socket.send({"type": "ping"})

    assert await socket.receive_close() == 4408


async def test_another_users_bad_frames_leave_my_socket_alone(
    sockets, sync, api, reading, client_user, reader_user, outsider
):
    reader_socket = await sockets.open(reader_user)
    rude = await sockets.open(outsider)
    await rude.send("x" * 100_000)
    assert await rude.receive_close() == 4409

    sent = await sync(_post_message, api, client_user, reading, "still here?")

    event = await reader_socket.receive_type("message.created")
    assert event["message"]["id"] == sent["id"]


async def test_an_ended_session_is_not_followed(sockets, sync, client_user, reader_user):
    ended = await sync(session_create, client=client_user, reader=reader_user, status="ended")
    client_socket = await sockets.open(client_user)

    await client_socket.send({"type": "typing", "session_id": ended.pk})

    error = await client_socket.receive_type("error")
    assert error["error"]["code"] == "NOT_IN_SESSION"


# --- staff watching a session they read ---------------------------------------------------------


async def test_a_monitor_watching_a_session_gets_its_events_and_the_read_is_audited(
    sockets, sync, api, reading, client_user, monitor
):
    from samia_chat.models import AccessEvent

    monitor_socket = await sockets.open(monitor)
    await monitor_socket.send({"type": "watch", "session_id": reading.pk})
    assert (await monitor_socket.receive_type("watching"))["session_id"] == reading.pk

    sent = await sync(_post_message, api, client_user, reading, "watched")

    assert (await monitor_socket.receive_type("message.created"))["message"] == sent
    audited = await sync(
        lambda: AccessEvent.objects.filter(
            action=AccessEvent.Action.STAFF_READ, actor=monitor, target_id=str(reading.pk)
        ).exists()
    )
    assert audited


async def test_a_client_cannot_watch_another_session(sockets, sync, api, reading, outsider):
    outsider_socket = await sockets.open(outsider)
    await outsider_socket.send({"type": "watch", "session_id": reading.pk})
    assert (await outsider_socket.receive_type("error"))["error"]["code"] == "FORBIDDEN"


async def test_watching_an_unknown_session_is_an_error(sockets, monitor):
    monitor_socket = await sockets.open(monitor)
    await monitor_socket.send({"type": "watch", "session_id": 999_999})
    assert (await monitor_socket.receive_type("error"))["error"]["code"] == "NOT_FOUND"


async def test_a_user_holds_at_most_the_allowed_sockets_and_others_are_unaffected(
    sockets, settings, client_user, reader_user
):
    settings.CHAT = {**settings.CHAT, "MAX_SOCKETS_PER_USER": 3}
    tabs = [await sockets.open(client_user) for _ in range(3)]

    extra = await sockets.open(client_user)

    assert await extra.receive_close() == 4429
    for tab in tabs:
        await _assert_usable(tab)
    other = await sockets.open(reader_user)
    await _assert_usable(other)
    await tabs[0].close()
    replacement = await sockets.open(client_user)  # a closed tab frees its place
    await _assert_usable(replacement)


async def test_watching_sessions_is_limited_per_user(
    sockets, sync, settings, monitor, reading, outsider, outsider_reader
):
    settings.CHAT = {**settings.CHAT, "RATE_SOCKET_WATCH": "2/m"}
    other = await sync(session_create, client=outsider, reader=outsider_reader)
    third = await sync(session_create, client=outsider, reader=outsider_reader)
    socket = await sockets.open(monitor)

    for session in (reading, other, third):
        await socket.send({"type": "watch", "session_id": session.pk})

    watched = [await socket.receive_type("watching") for _ in range(2)]
    refused = await socket.receive_type("error")
    assert [w["session_id"] for w in watched] == [reading.pk, other.pk]
    assert refused["error"]["code"] == "RATE_LIMITED"


async def test_typing_signals_are_thinned_to_one_per_interval(
    sockets, reading, client_user, reader_user
):
    reader_socket = await sockets.open(reader_user)
    client_socket = await sockets.open(client_user)

    for _ in range(5):
        await client_socket.send({"type": "typing", "session_id": reading.pk})

    await reader_socket.receive_type("typing")
    assert not [e for e in await reader_socket.drain() if e["type"] == "typing"]


async def test_signing_out_everywhere_closes_the_users_open_sockets(
    sockets, sync, client_user, reader_user
):
    from samia_chat.tokens import sign_out_everywhere

    tabs = [await sockets.open(client_user) for _ in range(2)]
    other = await sockets.open(reader_user)

    await sync(sign_out_everywhere, user=client_user)

    assert [await tab.receive_close() for tab in tabs] == [4401, 4401]
    await _assert_usable(other)


async def test_a_role_change_makes_open_sockets_reconnect_with_the_new_role(
    sockets, sync, client_user, admin, super_admin
):
    from approvals import services as approvals
    from approvals.models import PrivilegedChange

    tab = await sockets.open(client_user)
    change = await sync(
        approvals.privileged_change_request,
        requester=admin,
        target=client_user,
        kind=PrivilegedChange.Kind.ROLE_CHANGE,
        new_role="monitor",
        justification="Joins the moderators.",
    )

    await sync(approvals.privileged_change_approve, change_id=change.pk, approver=super_admin)

    assert await tab.receive_close() == 4012
