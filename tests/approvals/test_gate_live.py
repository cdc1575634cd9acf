"""The gate under real commits: what a client's socket receives, and two reviewers
deciding the same note at the same moment."""

import pytest

from approvals import services
from approvals.models import MessageReview
from chat import services as chat_services
from chat.models import Message
from samia_chat.realtime import session_group
from tests.processes import at_once

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hold_texts(settings):
    # Held texts exercise the same gate as voice notes without decoding audio.
    settings.CHAT = {**settings.CHAT, "HOLD_FOR_REVIEW": frozenset({("text", "reader")})}


def _send_held(reading, reader_user) -> Message:
    message, _ = chat_services.message_send(
        session=reading, sender=reader_user, body="The Moon: trust your dreams.", client_msg_id="h1"
    )
    assert message.status == Message.Status.PENDING_REVIEW
    return message


async def test_the_clients_socket_gets_a_placeholder_then_the_released_message(
    sockets, sync, hold_texts, reading, client_user, reader_user, monitor
):
    client_tab = await sockets.open(client_user)
    reader_tab = await sockets.open(reader_user)

    message = await sync(_send_held, reading, reader_user)

    created = await client_tab.receive_type("message.created")
    assert created["message"]["status"] == "pending_review"
    assert created["message"]["body"] == "" and created["message"]["attachment"] is None
    review = await sync(MessageReview.objects.get, message_id=message.pk)
    await sync(services.voice_note_approve, review_id=review.pk, reviewer=monitor)

    released = await client_tab.receive_type("message.updated")
    assert released["message"]["status"] == "sent"
    assert released["message"]["body"] == "The Moon: trust your dreams."
    decided = await reader_tab.receive_type("approval.decided")
    assert decided["status"] == "approved" and decided["message"]["id"] == message.pk
    assert "approval.decided" not in {e["type"] for e in await client_tab.drain()}


def test_approve_and_reject_at_the_same_moment_make_one_decision_and_one_event(
    hold_texts, reading, reader_user, monitor, admin, listen
):
    message = _send_held(reading, reader_user)
    review = MessageReview.objects.get(message=message)
    probe = listen(session_group(reading.pk))

    outcomes = at_once(
        lambda: services.voice_note_approve(review_id=review.pk, reviewer=monitor),
        lambda: services.voice_note_reject(review_id=review.pk, reviewer=admin, reason="No"),
    )

    codes = sorted(getattr(o, "code", "ok") for o in outcomes)
    assert codes == ["ALREADY_DECIDED", "ok"], outcomes
    review.refresh_from_db()
    message.refresh_from_db()
    assert message.status == ("sent" if review.status == "approved" else "rejected")
    assert [e["type"] for e in probe.drain(timeout=0.5)] == ["message.updated"]
