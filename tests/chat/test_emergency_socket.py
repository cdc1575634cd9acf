"""Sirens and alerts reach the right sockets through the real ASGI application."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat import emergency

pytestmark = pytest.mark.django_db(transaction=True)


async def test_only_on_call_reader_tabs_get_the_siren(
    sockets, sync, client_user, reader_user, outsider_reader
):
    await sync(emergency.on_call_set, reader=reader_user, on_call=True)
    on_call = await sockets.open(reader_user)
    off_call = await sockets.open(outsider_reader)

    request = await sync(emergency.emergency_request_open, client=client_user, reason="Now.")

    siren = await on_call.receive_type("emergency.requested")
    assert siren["request"]["id"] == request.pk
    assert siren["request"]["reason"] == "Now."
    assert await off_call.receive_nothing()


async def test_going_on_call_in_one_tab_rings_every_tab_and_going_off_stops_it(
    sockets, sync, client_user, reader_user
):
    first, second = await sockets.open(reader_user), await sockets.open(reader_user)

    await sync(emergency.on_call_set, reader=reader_user, on_call=True)
    for tab in (first, second):
        assert (await tab.receive_type("on_call.updated"))["on_call"] is True
    request = await sync(emergency.emergency_request_open, client=client_user)
    for tab in (first, second):
        assert (await tab.receive_type("emergency.requested"))["request"]["id"] == request.pk

    await sync(emergency.emergency_cancel, client=client_user, request_id=request.pk)
    for tab in (first, second):
        closed = await tab.receive_type("emergency.closed")
        assert closed["status"] == "cancelled"
    await sync(emergency.on_call_set, reader=reader_user, on_call=False)
    await first.receive_type("on_call.updated", on_call=False)
    other = await sync(
        emergency.emergency_request_open,
        client=await sync(lambda: type(client_user).objects.create(username="zaid")),
    )
    assert other.pk and await first.receive_nothing()


async def test_staff_sockets_get_safety_alerts_and_clients_do_not(
    sockets, sync, reading, client_user, monitor, outsider
):
    staff, bystander = await sockets.open(monitor), await sockets.open(outsider)

    await sync(emergency.safety_alert_raise, session=reading, user=client_user, reason="Threats.")

    alert = await staff.receive_type("safety.alert")
    assert alert["alert"]["session_id"] == reading.pk
    assert alert["alert"]["reason"] == "Threats."
    assert await bystander.receive_nothing()


async def test_the_client_is_told_who_accepted_and_taken_into_the_session(
    sockets, sync, client_user, reader_user
):
    await sync(emergency.on_call_set, reader=reader_user, on_call=True)
    client_tab = await sockets.open(client_user)
    request = await sync(emergency.emergency_request_open, client=client_user)

    accepted = await sync(emergency.emergency_accept, reader=reader_user, request_id=request.pk)

    arrived = {event["type"]: event for event in await client_tab.drain(timeout=1.0)}
    told = arrived["emergency.accepted"]
    assert told["session_id"] == accepted.session_id
    assert told["reader"]["display_name"] == "Noor"
    # The new session is followed by the client's tab (and listed in the inbox).
    assert arrived["session.updated"]["session"]["id"] == accepted.session_id
    assert arrived["session.updated"]["session"]["kind"] == "emergency"


async def test_without_redis_the_server_itself_escalates_to_staff_sockets(
    sockets, sync, settings, client_user, monitor
):
    settings.EMERGENCY = {**settings.EMERGENCY, "IN_SERVER_WORKER": True}
    staff = await sockets.open(monitor)  # the first connection starts the ladder task
    overdue = timezone.now() - timedelta(seconds=31)

    request = await sync(emergency.emergency_request_open, client=client_user, now=overdue)

    escalated = await staff.receive_type("emergency.escalated", timeout=5)
    assert escalated["request"]["id"] == request.pk
    assert escalated["level"] == "staff"
