"""chat.services for messages: send (idempotent), delete, redact."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat import removal, services
from chat.models import ChatSession, Membership, Message
from samia_chat.errors import Conflict, Forbidden, Invalid
from samia_chat.models import AccessEvent
from samia_chat.realtime import session_group
from tests.factories import message_create, new_client_msg_id, session_create


def _send(session, sender, body="The Star, upright.", client_msg_id="", **kwargs):
    return services.message_send(
        session=session,
        sender=sender,
        body=body,
        client_msg_id=client_msg_id or new_client_msg_id(),
        **kwargs,
    )


# --- message_send -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_message_send_under_the_callers_lock_refuses_to_run_outside_a_transaction(
    reading, client_user
):
    # session_locked=True means "my transaction holds the row lock": without a transaction
    # there is no lock, and sends would no longer be ordered, so it must not run.
    with pytest.raises(RuntimeError):
        _send(reading, client_user, session_locked=True)

    assert not Message.objects.filter(session=reading).exists()


def test_message_send_stores_the_message_and_moves_the_session_pointers(reading, client_user):
    message, created = _send(reading, client_user, client_msg_id="c-1")

    assert created is True
    row = Message.objects.get()
    assert row == message
    assert (row.sender, row.kind, row.body, row.status, row.client_msg_id) == (
        client_user,
        Message.Kind.TEXT,
        "The Star, upright.",
        Message.Status.SENT,
        "c-1",
    )
    reading.refresh_from_db()
    assert reading.last_message_id == message.pk
    assert reading.client_text_chars_used == len("The Star, upright.")
    # Your own message counts as read.
    membership = Membership.objects.get(session=reading, user=client_user)
    assert membership.last_read_message_id == message.pk


def test_message_send_broadcasts_message_created_naming_the_previous_message(
    reading, client_user, reader_user, listen, after_commit
):
    first = message_create(session=reading, sender=client_user)
    probe = listen(session_group(reading.pk))

    with after_commit():
        second, _ = _send(reading, reader_user, body="I see change coming.")

    event = probe.receive_event()
    assert event["type"] == "message.created"
    assert event["previous_id"] == first.pk
    assert event["message"]["id"] == second.pk
    assert event["message"]["body"] == "I see change coming."
    assert event["message"]["sender"]["username"] == "noor"
    assert event["message"]["session_id"] == reading.pk
    probe.assert_silent()


def test_message_ids_increase_strictly_within_a_session(reading, client_user, reader_user):
    ids = [message_create(session=reading, sender=who).pk for who in [client_user, reader_user] * 3]

    assert ids == sorted(set(ids))


def test_message_send_replay_returns_the_same_message_without_a_second_row(reading, client_user):
    original, _ = _send(reading, client_user, client_msg_id="retry-1")

    replay, created = _send(reading, client_user, client_msg_id="retry-1")

    assert created is False
    assert replay.pk == original.pk
    assert Message.objects.count() == 1
    reading.refresh_from_db()
    assert reading.client_text_chars_used == len(original.body)


def test_message_send_replay_broadcasts_nothing(reading, client_user, listen, after_commit):
    probe = listen(session_group(reading.pk))
    with after_commit():
        _send(reading, client_user, client_msg_id="retry-2")
    assert probe.receive_event()["type"] == "message.created"

    with after_commit():
        _send(reading, client_user, client_msg_id="retry-2")

    probe.assert_silent()


def test_message_send_replay_is_answered_even_after_the_session_closed(reading, client_user):
    original, _ = _send(reading, client_user, client_msg_id="retry-3")
    ChatSession.objects.filter(pk=reading.pk).update(status=ChatSession.Status.LOCKED)

    replay, created = _send(reading, client_user, client_msg_id="retry-3")

    assert (replay.pk, created) == (original.pk, False)


def test_message_send_refuses_a_reused_client_msg_id_with_a_different_body(reading, client_user):
    _send(reading, client_user, body="first words", client_msg_id="dup")

    with pytest.raises(Conflict) as refused:
        _send(reading, client_user, body="other words", client_msg_id="dup")

    assert refused.value.code == "CLIENT_MSG_ID_REUSED"
    assert list(Message.objects.values_list("body", flat=True)) == ["first words"]


def test_message_send_idempotency_key_belongs_to_the_sender(reading, client_user, reader_user):
    mine, _ = _send(reading, client_user, client_msg_id="same")

    theirs, created = _send(reading, reader_user, client_msg_id="same")

    assert created is True
    assert theirs.pk != mine.pk


@pytest.mark.parametrize("client_msg_id", ["has space", "x" * 65, "semi;colon"])
def test_message_send_refuses_a_malformed_client_msg_id(reading, client_user, client_msg_id):
    with pytest.raises(Invalid) as refused:
        _send(reading, client_user, client_msg_id=client_msg_id)

    assert refused.value.code == "INVALID_CLIENT_MSG_ID"
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", ["", "   ", "\n\t "])
def test_message_send_refuses_a_blank_message(reading, client_user, body):
    with pytest.raises(Invalid) as refused:
        _send(reading, client_user, body=body)

    assert refused.value.code == "BLANK_MESSAGE"
    assert not Message.objects.exists()


def test_message_send_accepts_exactly_5000_characters(reading, reader_user):
    message, created = _send(reading, reader_user, body="a" * 5000)

    assert created
    assert len(message.body) == 5000


def test_message_send_refuses_more_than_5000_characters(reading, reader_user):
    with pytest.raises(Invalid) as refused:
        _send(reading, reader_user, body="a" * 5001)

    assert refused.value.code == "MESSAGE_TOO_LONG"
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "status", [ChatSession.Status.PAUSED, ChatSession.Status.LOCKED, ChatSession.Status.ENDED]
)
def test_message_send_refuses_a_session_that_is_not_active(
    client_user, reader_user, status, listen, after_commit
):
    session = session_create(client=client_user, reader=reader_user, status=status)
    probe = listen(session_group(session.pk))

    with after_commit(), pytest.raises(Conflict) as refused:
        _send(session, client_user)

    assert refused.value.status == 409
    assert refused.value.code == "SESSION_INACTIVE"
    assert not Message.objects.exists()
    probe.assert_silent()


def test_message_send_keeps_a_reply_to_a_message_of_the_same_session(
    reading, client_user, reader_user
):
    question = message_create(session=reading, sender=client_user, body="Will I move abroad?")

    answer, _ = _send(reading, reader_user, body="The cards say yes.", reply_to_id=question.pk)

    assert answer.reply_to_id == question.pk


def test_message_send_refuses_a_reply_to_a_message_of_another_session(
    reading, client_user, outsider, reader_user
):
    other = session_create(client=outsider, reader=reader_user)
    elsewhere = message_create(session=other, sender=outsider)

    with pytest.raises(Invalid) as refused:
        _send(reading, client_user, reply_to_id=elsewhere.pk)

    assert refused.value.code == "INVALID_REPLY"
    assert not Message.objects.filter(session=reading).exists()


def test_message_send_refuses_a_client_over_the_session_text_quota(client_user, reader_user):
    session = session_create(client=client_user, reader=reader_user, client_text_quota_chars=10)
    _send(session, client_user, body="123456")

    with pytest.raises(Conflict) as refused:
        _send(session, client_user, body="12345")

    assert refused.value.code == "QUOTA_EXCEEDED"
    session.refresh_from_db()
    assert session.client_text_chars_used == 6
    assert Message.objects.count() == 1


def test_message_send_does_not_count_the_reader_against_the_client_quota(client_user, reader_user):
    session = session_create(client=client_user, reader=reader_user, client_text_quota_chars=10)

    _send(session, reader_user, body="a long answer from the reader")

    session.refresh_from_db()
    assert session.client_text_chars_used == 0


# --- message_delete ---------------------------------------------------------------------


def test_message_delete_turns_the_own_message_into_a_tombstone(
    reading, client_user, listen, after_commit
):
    message = message_create(session=reading, sender=client_user, body="oops")
    probe = listen(session_group(reading.pk))

    with after_commit():
        removal.message_delete(message=message, user=client_user)

    message.refresh_from_db()
    assert message.status == Message.Status.DELETED
    assert message.body == ""
    assert message.deleted_at is not None
    event = probe.receive_event()
    assert event["type"] == "message.updated"
    assert event["message"]["id"] == message.pk
    assert event["message"]["status"] == "deleted"
    assert event["message"]["body"] == ""


def test_message_delete_refuses_someone_elses_message(reading, client_user, reader_user):
    message = message_create(session=reading, sender=reader_user, body="keep me")

    with pytest.raises(Forbidden) as refused:
        removal.message_delete(message=message, user=client_user)

    assert refused.value.code == "NOT_YOUR_MESSAGE"
    message.refresh_from_db()
    assert (message.status, message.body) == (Message.Status.SENT, "keep me")


def test_message_delete_refuses_once_the_window_has_passed(reading, client_user):
    message = message_create(session=reading, sender=client_user, body="too late")
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=301))

    with pytest.raises(Forbidden) as refused:
        removal.message_delete(message=message, user=client_user)

    assert refused.value.code == "DELETE_WINDOW_PASSED"
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_message_delete_follows_the_configured_window(reading, client_user, settings):
    settings.CHAT = {**settings.CHAT, "DELETE_WINDOW_SECONDS": 3600}
    message = message_create(session=reading, sender=client_user)
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=30))

    removal.message_delete(message=message, user=client_user)

    message.refresh_from_db()
    assert message.status == Message.Status.DELETED


def test_message_delete_refuses_a_message_already_deleted(reading, client_user):
    message = message_create(session=reading, sender=client_user)
    removal.message_delete(message=message, user=client_user)

    with pytest.raises(Conflict) as refused:
        removal.message_delete(message=message, user=client_user)

    assert refused.value.code == "ALREADY_DELETED"


def test_message_delete_refuses_in_a_locked_session(reading, client_user):
    message = message_create(session=reading, sender=client_user)
    ChatSession.objects.filter(pk=reading.pk).update(status=ChatSession.Status.LOCKED)

    with pytest.raises(Conflict) as refused:
        removal.message_delete(message=message, user=client_user)

    assert refused.value.code == "SESSION_INACTIVE"
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


# --- message_redact ---------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_message_redact_requires_a_reason(reading, client_user, monitor, reason):
    message = message_create(session=reading, sender=client_user, body="my phone is ...")

    with pytest.raises(Invalid) as refused:
        removal.message_redact(message=message, user=monitor, reason=reason)

    assert refused.value.code == "REASON_REQUIRED"
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.body == "my phone is ..."


def test_message_redact_removes_the_content_audits_and_broadcasts(
    reading, client_user, monitor, listen, after_commit
):
    message = message_create(session=reading, sender=client_user, body="my phone is ...")
    probe = listen(session_group(reading.pk))

    with after_commit():
        removal.message_redact(message=message, user=monitor, reason="contact details")

    message.refresh_from_db()
    assert message.status == Message.Status.REDACTED
    assert message.body == ""
    assert message.redacted_by == monitor
    assert message.redaction_reason == "contact details"
    audit = AccessEvent.objects.get(action=AccessEvent.Action.REDACTION)
    assert (audit.actor, audit.target_id, audit.detail) == (
        monitor,
        str(message.pk),
        {"reason": "contact details"},
    )
    event = probe.receive_event()
    assert event["type"] == "message.updated"
    assert event["message"]["status"] == "redacted"
    assert event["message"]["body"] == ""


def test_message_redact_refuses_a_message_already_redacted(reading, client_user, admin):
    message = message_create(session=reading, sender=client_user)
    removal.message_redact(message=message, user=admin, reason="abuse")

    with pytest.raises(Conflict) as refused:
        removal.message_redact(message=message, user=admin, reason="again")

    assert refused.value.code == "ALREADY_REDACTED"
    message.refresh_from_db()
    assert message.redaction_reason == "abuse"
