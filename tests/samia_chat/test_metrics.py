"""Prometheus metrics: what operators graph and alert on."""

import re

import pytest
from django.test import Client

from tests.factories import new_client_msg_id

pytestmark = pytest.mark.django_db


def _value(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _metrics() -> str:
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_a_stored_message_and_a_replay_are_counted_apart(api, reading, client_user):
    before = _metrics()
    payload = {"kind": "text", "body": "hello", "client_msg_id": new_client_msg_id()}
    assert api(client_user).post(f"/api/sessions/{reading.pk}/messages", payload).status_code == 201
    assert api(client_user).post(f"/api/sessions/{reading.pk}/messages", payload).status_code == 200
    after = _metrics()
    sent = 'samia_messages_sent_total{kind="text"}'
    assert _value(after, sent) == _value(before, sent) + 1
    replays = "samia_message_replays_total"
    assert _value(after, replays) == _value(before, replays) + 1


def test_catch_up_requests_are_counted(api, reading, client_user):
    before = _value(_metrics(), "samia_catch_up_requests_total")
    assert api(client_user).get(f"/api/sessions/{reading.pk}/messages?after=0").status_code == 200
    assert api(client_user).get(f"/api/sessions/{reading.pk}/messages").status_code == 200
    assert _value(_metrics(), "samia_catch_up_requests_total") == before + 1


def test_rate_limit_refusals_are_counted(api, reading, client_user, settings):
    settings.CHAT = {**settings.CHAT, "RATE_MESSAGES": "1/m"}
    before = _value(_metrics(), 'samia_rate_limited_total{group="messages"}')
    for _ in range(2):
        api(client_user).post(
            f"/api/sessions/{reading.pk}/messages",
            {"kind": "text", "body": "hi", "client_msg_id": new_client_msg_id()},
        )
    assert _value(_metrics(), 'samia_rate_limited_total{group="messages"}') == before + 1


def test_the_approval_queue_length_is_read_at_scrape_time(reading, reader_user, settings):
    from chat.services import message_send

    settings.CHAT = {**settings.CHAT, "HOLD_FOR_REVIEW": frozenset({("text", "reader")})}
    assert _value(_metrics(), "samia_approval_queue") == 0

    message_send(session=reading, sender=reader_user, body="Held", client_msg_id="q1")

    assert _value(_metrics(), "samia_approval_queue") == 1


def test_open_emergencies_and_escalations_are_read_from_the_database(client_user, outsider):
    from datetime import timedelta

    from django.utils import timezone

    from chat import emergency

    start = timezone.now()
    emergency.emergency_request_open(client=client_user, reason="Please, now.", now=start)
    emergency.emergency_request_open(client=outsider, reason="Tonight.", now=start)
    before = _metrics()
    assert _value(before, 'samia_emergencies_open{step="readers"}') == 2
    assert _value(before, 'samia_emergency_escalations_total{to="staff"}') == 0

    assert emergency.emergency_steps_apply(now=start + timedelta(seconds=30)) == 2
    assert emergency.emergency_steps_apply(now=start + timedelta(seconds=60)) == 2

    after = _metrics()
    assert _value(after, 'samia_emergencies_open{step="readers"}') == 0
    assert _value(after, 'samia_emergencies_open{step="super_admins"}') == 2
    assert _value(after, 'samia_emergency_escalations_total{to="staff"}') == 2
    assert _value(after, 'samia_emergency_escalations_total{to="super_admins"}') == 2
