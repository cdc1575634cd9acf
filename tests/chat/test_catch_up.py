"""Nothing is lost: a client that was offline catches up over HTTP from its last seen id."""

import pytest

from tests.factories import new_client_msg_id

pytestmark = pytest.mark.django_db(transaction=True)


def _post_message(api, user, session, body: str) -> dict:
    payload = {"kind": "text", "body": body, "client_msg_id": new_client_msg_id()}
    response = api(user).post(f"/api/sessions/{session.pk}/messages", payload)
    assert response.status_code == 201, response.content
    return response.json()


async def test_messages_sent_while_offline_are_fetched_once_and_in_order(
    sockets, sync, api, reading, client_user, reader_user
):
    reader_socket = await sockets.open(reader_user)
    await sync(_post_message, api, client_user, reading, "Are you there?")
    last_seen = (await reader_socket.receive_type("message.created"))["message"]["id"]
    await reader_socket.close()  # the laptop lid closes

    missed = [
        await sync(_post_message, api, client_user, reading, body)
        for body in ("First card: the Moon.", "Second: the Sun.", "Third: the World.")
    ]

    page = await sync(
        lambda: api(reader_user).get(f"/api/sessions/{reading.pk}/messages", after=last_seen)
    )
    assert page.status_code == 200
    assert page.json()["messages"] == missed
    assert page.json()["has_more"] is False


async def test_a_reconnected_socket_receives_new_messages_again(
    sockets, sync, api, reading, client_user, reader_user
):
    first = await sockets.open(reader_user)
    await first.close()
    missed = await sync(_post_message, api, client_user, reading, "while you were away")

    again = await sockets.open(reader_user)
    sent = await sync(_post_message, api, client_user, reading, "welcome back")

    event = await again.receive_type("message.created")
    assert event["message"]["id"] == sent["id"]
    # previous_id names the message this socket never saw: the client knows to catch up.
    assert event["previous_id"] == missed["id"]
