"""chat.services for sessions: opening one, read pointers, status changes."""

import pytest

from chat import services
from chat.models import ChatSession, Membership, Message
from samia_chat.errors import Conflict, Invalid
from samia_chat.models import AccessEvent, Role
from samia_chat.realtime import JOIN_SESSION, session_group, user_group
from tests.factories import message_create, session_create, user_create

Status = ChatSession.Status


def _open(admin, client, reader, booking_ref="BK-100"):
    return services.session_open(
        opened_by=admin,
        client=client,
        reader=reader,
        booking_ref=booking_ref,
        service_name="Celtic Cross",
    )


# --- session_open -----------------------------------------------------------------------


def test_session_open_creates_a_reading_with_both_members_and_a_system_message(
    admin, client_user, reader_user
):
    session = _open(admin, client_user, reader_user)

    assert session.status == Status.ACTIVE
    assert session.booking_ref == "BK-100"
    assert set(session.members.all()) == {client_user, reader_user}
    notice = Message.objects.get(session=session)
    assert notice.kind == Message.Kind.SYSTEM
    assert "Noor" in notice.body
    assert session.last_message_id == notice.pk
    assert AccessEvent.objects.filter(
        action=AccessEvent.Action.SESSION_OPENED, actor=admin, target_id=str(session.pk)
    ).exists()


def test_session_open_makes_both_members_sockets_join_the_session(
    admin, client_user, reader_user, listen, after_commit
):
    client_probe = listen(user_group(client_user.pk))
    reader_probe = listen(user_group(reader_user.pk))

    with after_commit():
        session = _open(admin, client_user, reader_user)

    for probe in (client_probe, reader_probe):
        message = probe.receive()
        assert message["type"] == JOIN_SESSION
        assert message["session_id"] == session.pk
        assert message["event"]["type"] == "session.updated"
        assert message["event"]["session"]["id"] == session.pk
        assert {m["username"] for m in message["event"]["session"]["members"]} == {
            "layla",
            "noor",
        }


@pytest.mark.parametrize("role", [Role.READER, Role.MONITOR, Role.ADMIN])
def test_session_open_refuses_a_client_who_is_not_a_client(admin, reader_user, role):
    not_a_client = user_create(role=role)

    with pytest.raises(Invalid) as refused:
        _open(admin, not_a_client, reader_user)

    assert refused.value.code == "INVALID_MEMBER"
    assert not ChatSession.objects.exists()


@pytest.mark.parametrize("role", [Role.CLIENT, Role.MONITOR, Role.SUPER_ADMIN])
def test_session_open_refuses_a_reader_who_is_not_a_reader(admin, client_user, role):
    not_a_reader = user_create(role=role)

    with pytest.raises(Invalid) as refused:
        _open(admin, client_user, not_a_reader)

    assert refused.value.code == "INVALID_MEMBER"
    assert not ChatSession.objects.exists()


def test_session_open_refuses_an_inactive_reader(admin, client_user):
    retired = user_create(role=Role.READER, is_active=False)

    with pytest.raises(Invalid):
        _open(admin, client_user, retired)

    assert not ChatSession.objects.exists()


def test_session_open_refuses_a_reading_without_booking_ref(admin, client_user, reader_user):
    with pytest.raises(Invalid) as refused:
        _open(admin, client_user, reader_user, booking_ref="  ")

    assert refused.value.code == "BOOKING_REF_REQUIRED"


def test_session_open_refuses_a_second_session_for_the_same_booking(
    admin, client_user, reader_user, outsider, outsider_reader
):
    first = _open(admin, client_user, reader_user, booking_ref="BK-7")

    with pytest.raises(Conflict) as refused:
        _open(admin, outsider, outsider_reader, booking_ref="BK-7")

    assert refused.value.status == 409
    assert refused.value.code == "BOOKING_EXISTS"
    assert list(ChatSession.objects.all()) == [first]


# --- session_mark_read ------------------------------------------------------------------


def _membership(session, user) -> Membership:
    return Membership.objects.get(session=session, user=user)


def test_session_mark_read_moves_the_pointer_and_broadcasts_read(
    reading, client_user, reader_user, listen, after_commit
):
    message = message_create(session=reading, sender=client_user)
    probe = listen(session_group(reading.pk))

    with after_commit():
        up_to = services.session_mark_read(
            membership=_membership(reading, reader_user), up_to=message.pk
        )

    assert up_to == message.pk
    assert _membership(reading, reader_user).last_read_message_id == message.pk
    assert probe.receive_event() == {
        "type": "read",
        "session_id": reading.pk,
        "user_id": reader_user.pk,
        "up_to": message.pk,
    }


def test_session_mark_read_never_moves_the_pointer_back(
    reading, client_user, reader_user, listen, after_commit
):
    first = message_create(session=reading, sender=client_user)
    second = message_create(session=reading, sender=client_user)
    services.session_mark_read(membership=_membership(reading, reader_user), up_to=second.pk)
    probe = listen(session_group(reading.pk))

    with after_commit():
        up_to = services.session_mark_read(
            membership=_membership(reading, reader_user), up_to=first.pk
        )

    assert up_to == second.pk
    assert _membership(reading, reader_user).last_read_message_id == second.pk
    probe.assert_silent()


def test_session_mark_read_is_clamped_to_the_last_message(reading, client_user, reader_user):
    last = message_create(session=reading, sender=client_user)

    up_to = services.session_mark_read(
        membership=_membership(reading, reader_user), up_to=last.pk + 1000
    )

    assert up_to == last.pk
    assert _membership(reading, reader_user).last_read_message_id == last.pk


# --- session_change_status --------------------------------------------------------------

# (status before, action) -> status after, or None when the transition is refused.
TRANSITIONS = {
    (Status.ACTIVE, "pause"): Status.PAUSED,
    (Status.ACTIVE, "resume"): None,
    (Status.ACTIVE, "lock"): Status.LOCKED,
    (Status.ACTIVE, "end"): Status.ENDED,
    (Status.PAUSED, "pause"): None,
    (Status.PAUSED, "resume"): Status.ACTIVE,
    (Status.PAUSED, "lock"): Status.LOCKED,
    (Status.PAUSED, "end"): Status.ENDED,
    (Status.LOCKED, "pause"): None,
    (Status.LOCKED, "resume"): None,
    (Status.LOCKED, "lock"): None,
    (Status.LOCKED, "end"): Status.ENDED,
    (Status.ENDED, "pause"): None,
    (Status.ENDED, "resume"): None,
    (Status.ENDED, "lock"): None,
    (Status.ENDED, "end"): None,
}
ALLOWED = [(before, action, after) for (before, action), after in TRANSITIONS.items() if after]
REFUSED = [(before, action) for (before, action), after in TRANSITIONS.items() if not after]


@pytest.mark.parametrize(("before", "action", "after"), ALLOWED)
def test_session_change_status_moves_the_session_and_writes_a_system_message(
    client_user, reader_user, monitor, before, action, after
):
    session = session_create(client=client_user, reader=reader_user, status=before)

    services.session_change_status(session=session, user=monitor, action=action)

    session.refresh_from_db()
    assert session.status == after
    notice = Message.objects.get(session=session)
    assert notice.kind == Message.Kind.SYSTEM
    assert notice.body.startswith("mona ")
    assert session.last_message_id == notice.pk
    assert AccessEvent.objects.get(action=AccessEvent.Action.SESSION_STATUS).detail == {
        "from": before,
        "to": after,
    }


@pytest.mark.parametrize(("before", "action"), REFUSED)
def test_session_change_status_refuses_a_transition_the_status_does_not_allow(
    client_user, reader_user, monitor, before, action
):
    session = session_create(client=client_user, reader=reader_user, status=before)

    with pytest.raises(Conflict) as refused:
        services.session_change_status(session=session, user=monitor, action=action)

    assert refused.value.code == "INVALID_TRANSITION"
    session.refresh_from_db()
    assert session.status == before
    assert not Message.objects.exists()


def test_session_change_status_refuses_an_unknown_action(reading, monitor):
    with pytest.raises(Invalid) as refused:
        services.session_change_status(session=reading, user=monitor, action="archive")

    assert refused.value.code == "INVALID_ACTION"
    reading.refresh_from_db()
    assert reading.status == Status.ACTIVE


def test_session_change_status_broadcasts_the_notice_and_session_updated(
    reading, reader_user, listen, after_commit
):
    probe = listen(session_group(reading.pk))

    with after_commit():
        services.session_change_status(session=reading, user=reader_user, action="lock")

    notice = probe.receive_event()
    assert notice["type"] == "message.created"
    assert notice["message"]["kind"] == "system"
    assert "locked" in notice["message"]["body"]
    updated = probe.receive_event()
    assert updated["type"] == "session.updated"
    assert updated["session"]["id"] == reading.pk
    assert updated["session"]["status"] == "locked"
    assert updated["session"]["last_message"]["id"] == notice["message"]["id"]
