"""Emergency readings: the request, the siren, the race-free accept, the durable ladder."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat import emergency
from chat.models import ChatSession, EmergencyEvent, EmergencyRequest, ReaderAvailability
from samia_chat.errors import Conflict, Forbidden, RateLimited
from samia_chat.models import Role
from samia_chat.realtime import ON_CALL_GROUP, STAFF_GROUP, SUPER_ADMIN_GROUP, user_group
from samia_chat.tokens import token_pair_issue
from tests.factories import user_create

T0 = timezone.now().replace(microsecond=0)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def on_call(reader_user):
    emergency.on_call_set(reader=reader_user, on_call=True)
    return reader_user


@pytest.fixture
def second_reader(db):
    reader = user_create(role=Role.READER, username="rami", display_name="Rami")
    emergency.on_call_set(reader=reader, on_call=True)
    return reader


def _request(client, seconds: float = 0, reason: str = "I am scared about tonight."):
    return emergency.emergency_request_open(client=client, reason=reason, now=at(seconds))


def _kinds(request) -> list[str]:
    return list(request.events.values_list("kind", flat=True))


def test_a_request_rings_every_on_call_reader_and_tells_the_client_and_staff(
    client_user, on_call, second_reader, listen, after_commit
):
    readers, client, staff = (
        listen(ON_CALL_GROUP),
        listen(user_group(client_user.pk)),
        listen(STAFF_GROUP),
    )

    with after_commit():
        request = _request(client_user)

    siren = readers.receive_event()
    assert siren["type"] == "emergency.requested"
    assert siren["request"]["id"] == request.pk
    assert siren["request"]["client"] == {"id": client_user.pk, "first_name": "Layla"}
    assert siren["request"]["reason"] == "I am scared about tonight."
    assert "timeline" not in siren["request"]
    update = client.receive_event()
    assert update["type"] == "emergency.updated"
    assert update["request"]["timeline"][0]["detail"] == {"rung": 2}
    assert staff.receive_event()["type"] == "emergency.updated"
    assert request.status == "pending" and request.next_step_at == at(30)


def test_the_ladder_alerts_staff_at_30_s_super_admins_at_60_s_and_expires(
    client_user, listen, after_commit
):
    request = _request(client_user)
    staff, supers = listen(STAFF_GROUP), listen(SUPER_ADMIN_GROUP)

    assert emergency.emergency_steps_apply(now=at(29)) == 0
    with after_commit():
        assert emergency.emergency_steps_apply(now=at(30)) == 1
    request.refresh_from_db()
    assert (request.status, request.step) == ("escalated", EmergencyRequest.Step.STAFF)
    escalated = [e for e in staff.drain() if e["type"] == "emergency.escalated"]
    assert escalated and escalated[0]["level"] == "staff"
    supers.assert_silent()

    assert emergency.emergency_steps_apply(now=at(59)) == 0
    with after_commit():
        assert emergency.emergency_steps_apply(now=at(60)) == 1
    assert supers.receive_event()["level"] == "super_admins"

    assert emergency.emergency_steps_apply(now=at(599)) == 0
    assert emergency.emergency_steps_apply(now=at(600)) == 1
    request.refresh_from_db()
    assert request.status == "expired"
    assert _kinds(request) == ["requested", "escalated_staff", "escalated_super", "expired"]
    assert emergency.emergency_steps_apply(now=at(10_000)) == 0


def test_a_late_worker_applies_each_missed_step_once_in_order(client_user):
    request = _request(client_user)
    # The worker was down for two minutes: one pass per step, never the same step twice.
    applied = sum(emergency.emergency_steps_apply(now=at(120)) for _ in range(5))
    request.refresh_from_db()
    assert applied == 2
    assert _kinds(request) == ["requested", "escalated_staff", "escalated_super"]


def test_cancelling_stops_the_ladder_and_closes_every_siren(
    client_user, on_call, listen, after_commit
):
    request = _request(client_user)
    readers = listen(ON_CALL_GROUP)

    with after_commit():
        emergency.emergency_cancel(client=client_user, request_id=request.pk, now=at(10))

    assert readers.receive_event() == {
        "type": "emergency.closed",
        "request_id": request.pk,
        "status": "cancelled",
    }
    assert emergency.emergency_steps_apply(now=at(100)) == 0
    request.refresh_from_db()
    assert request.status == "cancelled" and request.next_step_at is None


def test_accepting_opens_an_emergency_session_and_stops_the_ladder(
    client_user, on_call, listen, after_commit
):
    request = _request(client_user)
    readers, client = listen(ON_CALL_GROUP), listen(user_group(client_user.pk))

    with after_commit():
        emergency.emergency_accept(reader=on_call, request_id=request.pk, now=at(12.5))

    request.refresh_from_db()
    session = request.session
    assert session.kind == ChatSession.Kind.EMERGENCY
    assert set(session.members.all()) == {client_user, on_call}
    assert session.messages.first().body == "Emergency reading with Noor started."
    assert request.response_ms == 12_500
    assert readers.receive_event()["type"] == "emergency.taken"
    accepted = [e for e in client.drain() if e["type"] == "emergency.accepted"]
    assert accepted[0]["session_id"] == session.pk
    assert accepted[0]["reader"]["display_name"] == "Noor"
    assert emergency.emergency_steps_apply(now=at(100)) == 0
    # In an emergency reading, the reader takes no other call.
    assert not ReaderAvailability.objects.get(reader=on_call).on_call


def test_a_second_accept_is_already_taken(client_user, on_call, second_reader):
    request = _request(client_user)
    emergency.emergency_accept(reader=on_call, request_id=request.pk)

    with pytest.raises(Conflict) as refused:
        emergency.emergency_accept(reader=second_reader, request_id=request.pk)

    assert refused.value.code == "ALREADY_TAKEN"
    assert ChatSession.objects.filter(kind="emergency").count() == 1


def test_a_reader_not_on_call_cannot_accept(client_user, reader_user):
    request = _request(client_user)
    with pytest.raises(Forbidden) as refused:
        emergency.emergency_accept(reader=reader_user, request_id=request.pk)
    assert refused.value.code == "NOT_ON_CALL"


def test_one_open_request_per_client(client_user):
    _request(client_user)
    with pytest.raises(Conflict) as refused:
        _request(client_user, seconds=1)
    assert refused.value.code == "EMERGENCY_OPEN"


def test_five_requests_a_day_then_429_until_the_oldest_is_a_day_old(client_user):
    for n in range(5):
        request = _request(client_user, seconds=n * 60)
        emergency.emergency_cancel(client=client_user, request_id=request.pk)

    with pytest.raises(RateLimited) as refused:
        _request(client_user, seconds=3600)

    assert refused.value.retry_after_seconds == 24 * 3600 - 3600 + 1
    assert _request(client_user, seconds=24 * 3600 + 1).status == "pending"


def test_staff_assign_a_reader_or_take_the_chat_themselves(client_user, reader_user, monitor):
    first = _request(client_user)
    emergency.emergency_assign(staff=monitor, request_id=first.pk, reader=reader_user)
    first.refresh_from_db()
    assert first.accepted_by == reader_user
    assert _kinds(first)[-1] == EmergencyEvent.Kind.ASSIGNED

    other = user_create(role=Role.CLIENT, username="zaid")
    second = _request(other)
    emergency.emergency_assign(staff=monitor, request_id=second.pk, reader=monitor)
    second.refresh_from_db()
    assert set(second.session.members.all()) == {other, monitor}


def test_declining_is_on_the_timeline_and_the_request_keeps_ringing(client_user, on_call):
    request = _request(client_user)
    emergency.emergency_decline(reader=on_call, request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "pending"
    assert _kinds(request) == ["requested", "declined"]


def test_going_on_call_moves_the_readers_open_tabs_into_the_siren_group(
    reader_user, listen, after_commit
):
    tabs = listen(user_group(reader_user.pk))
    with after_commit():
        emergency.on_call_set(reader=reader_user, on_call=True)
    message = tabs.receive()
    assert message["type"] == "on_call.set" and message["on_call"] is True
    assert message["event"]["type"] == "on_call.updated"


def test_only_active_readers_go_on_call(client_user, reader_user):
    with pytest.raises(Forbidden):
        emergency.on_call_set(reader=client_user, on_call=True)
    reader_user.is_active = False
    reader_user.save()
    with pytest.raises(Forbidden) as refused:
        emergency.on_call_set(reader=reader_user, on_call=True)
    assert refused.value.code == "CANNOT_BE_ON_CALL"


def test_an_on_call_reader_offline_for_a_minute_is_taken_off_call(on_call):
    # No socket is open in this test: the reader is offline from the first sweep.
    assert emergency.on_call_offline_sweep(now=at(0)) == 0
    assert emergency.on_call_offline_sweep(now=at(59)) == 0
    assert emergency.on_call_offline_sweep(now=at(60)) == 1
    assert not ReaderAvailability.objects.get(reader=on_call).on_call


def test_signing_out_takes_a_reader_off_call(client, on_call):
    client.force_login(on_call)
    client.post("/logout/")
    assert not ReaderAvailability.objects.get(reader=on_call).on_call


def test_an_app_signing_out_takes_a_reader_off_call(api, on_call):
    pair = token_pair_issue(user=on_call)
    api().post("/api/auth/logout", {"refresh": pair["refresh"]})
    assert not ReaderAvailability.objects.get(reader=on_call).on_call


def test_the_winner_accepting_again_gets_the_same_session_not_a_conflict(client_user, on_call):
    # A double click, or a retry after the first answer was lost.
    request = _request(client_user)
    first = emergency.emergency_accept(reader=on_call, request_id=request.pk)

    again = emergency.emergency_accept(reader=on_call, request_id=request.pk)

    assert again.session_id == first.session_id
    assert ChatSession.objects.filter(kind="emergency").count() == 1
    assert _kinds(request).count("accepted") == 1
