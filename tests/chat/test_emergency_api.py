"""The emergency endpoints as each role sees them, and the accept race under real
concurrency."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat import emergency
from chat.models import ChatSession, EmergencyRequest, SafetyAlert
from samia_chat.models import Role
from tests.factories import user_create
from tests.processes import at_once


def post(api, user, path: str, payload: dict | None = None):
    return api(user).post(path, payload or {})


@pytest.fixture
def ringing(client_user, reader_user):
    emergency.on_call_set(reader=reader_user, on_call=True)
    return emergency.emergency_request_open(client=client_user, reason="Help, please.")


def test_a_client_asks_and_gets_201_with_the_timeline(api, client_user, reader_user):
    emergency.on_call_set(reader=reader_user, on_call=True)

    response = post(api, client_user, "/api/emergencies", {"reason": "Bad news today."})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending" and body["step"] == "readers"
    assert body["client"] == {"id": client_user.pk, "first_name": "Layla"}
    assert body["timeline"][0]["kind"] == "requested"
    assert body["timeline"][0]["detail"] == {"rung": 1}


@pytest.mark.parametrize("persona", ["reader_user", "monitor", "admin"])
def test_only_clients_ask_for_emergencies(request, api, code_of, persona):
    response = post(api, request.getfixturevalue(persona), "/api/emergencies")
    assert response.status_code == 403 and code_of(response) == "NOT_A_CLIENT"


def test_a_reason_over_500_characters_is_a_400(api, code_of, client_user):
    response = post(api, client_user, "/api/emergencies", {"reason": "x" * 501})
    assert response.status_code == 400 and code_of(response) == "REASON_TOO_LONG"


def test_a_second_open_request_is_a_409(api, code_of, client_user, ringing):
    response = post(api, client_user, "/api/emergencies")
    assert response.status_code == 409 and code_of(response) == "EMERGENCY_OPEN"


def test_more_than_three_requests_an_hour_are_a_429(
    api, code_of, settings, fresh_rate_window, client_user
):
    fresh_rate_window(group="emergency", key=f"user:{client_user.pk}", rate="3/h")
    for _ in range(3):
        created = post(api, client_user, "/api/emergencies")
        post(api, client_user, f"/api/emergencies/{created.json()['id']}/cancel")

    response = post(api, client_user, "/api/emergencies")

    assert response.status_code == 429 and code_of(response) == "RATE_LIMITED"
    assert int(response["Retry-After"]) >= 1


def test_who_sees_a_request(
    api, ringing, client_user, reader_user, monitor, outsider, outsider_reader
):
    url = f"/api/emergencies/{ringing.pk}"
    assert api(client_user).get(url).status_code == 200
    assert api(monitor).get(url).status_code == 200
    on_call_view = api(reader_user).get(url)
    assert on_call_view.status_code == 200
    assert on_call_view.json()["timeline"] is None  # readers do not get the timeline
    # Another client, and a reader who is not on call, do not learn it exists.
    assert api(outsider).get(url).status_code == 404
    assert api(outsider_reader).get(url).status_code == 404


def test_the_list_shows_each_role_what_concerns_it(
    api, ringing, client_user, reader_user, outsider, outsider_reader, monitor
):
    def ids(user):
        return [r["id"] for r in api(user).get("/api/emergencies").json()]

    assert ids(client_user) == [ringing.pk]
    assert ids(reader_user) == [ringing.pk]
    assert ids(monitor) == [ringing.pk]
    assert ids(outsider) == []
    assert ids(outsider_reader) == []


def test_accept_answers_the_new_session_and_a_second_accept_is_409(
    api, code_of, ringing, reader_user
):
    other = user_create(role=Role.READER, username="rami")
    emergency.on_call_set(reader=other, on_call=True)

    first = post(api, reader_user, f"/api/emergencies/{ringing.pk}/accept")
    second = post(api, other, f"/api/emergencies/{ringing.pk}/accept")

    assert first.status_code == 200
    session = ChatSession.objects.get(pk=first.json()["session_id"])
    assert session.kind == "emergency"
    assert second.status_code == 409 and code_of(second) == "ALREADY_TAKEN"


def test_clients_and_staff_cannot_accept(api, code_of, ringing, client_user, monitor):
    assert code_of(post(api, client_user, f"/api/emergencies/{ringing.pk}/accept")) == (
        "NOT_A_READER"
    )
    assert post(api, monitor, f"/api/emergencies/{ringing.pk}/accept").status_code == 403


def test_only_the_requesting_client_cancels(api, ringing, client_user, outsider, reader_user):
    assert post(api, outsider, f"/api/emergencies/{ringing.pk}/cancel").status_code == 404
    assert post(api, reader_user, f"/api/emergencies/{ringing.pk}/cancel").status_code == 404
    response = post(api, client_user, f"/api/emergencies/{ringing.pk}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_cancelling_twice_is_a_409(api, code_of, ringing, client_user):
    post(api, client_user, f"/api/emergencies/{ringing.pk}/cancel")
    again = post(api, client_user, f"/api/emergencies/{ringing.pk}/cancel")
    assert again.status_code == 409 and code_of(again) == "EMERGENCY_CLOSED"


def test_staff_assign_and_others_cannot(api, code_of, ringing, reader_user, monitor, client_user):
    refused = post(api, client_user, f"/api/emergencies/{ringing.pk}/assign", {"reader_id": 1})
    assert refused.status_code == 403
    unknown = post(api, monitor, f"/api/emergencies/{ringing.pk}/assign", {"reader_id": 99999})
    assert code_of(unknown) == "INVALID_READER"

    response = post(
        api, monitor, f"/api/emergencies/{ringing.pk}/assign", {"reader_id": reader_user.pk}
    )

    assert response.status_code == 200
    ringing.refresh_from_db()
    assert ringing.accepted_by == reader_user and ringing.status == "accepted"


def test_staff_list_readers_on_call_first(api, reader_user, outsider_reader, monitor, client_user):
    emergency.on_call_set(reader=outsider_reader, on_call=True)
    listed = api(monitor).get("/api/readers").json()
    assert [(r["username"], r["on_call"]) for r in listed] == [("samir", True), ("noor", False)]
    assert api(client_user).get("/api/readers").status_code == 403


def test_on_call_switch(api, code_of, reader_user, client_user):
    response = post(api, reader_user, "/api/readers/me/on-call", {"on_call": True})
    assert response.status_code == 200 and response.json()["on_call"] is True
    refused = post(api, client_user, "/api/readers/me/on-call", {"on_call": True})
    assert refused.status_code == 403 and code_of(refused) == "NOT_A_READER"


def test_a_member_raises_a_safety_alert_and_staff_work_it(
    api, code_of, reading, client_user, monitor, outsider
):
    url = f"/api/sessions/{reading.pk}/safety-alerts"
    assert post(api, outsider, url, {"reason": "x"}).status_code == 404
    assert post(api, monitor, url, {"reason": "x"}).status_code == 403
    assert code_of(post(api, client_user, url, {"reason": "  "})) == "REASON_REQUIRED"

    raised = post(api, client_user, url, {"reason": "The reader asked for my bank details."})

    assert raised.status_code == 201
    alert_id = raised.json()["id"]
    assert [a["id"] for a in api(monitor).get("/api/safety-alerts").json()] == [alert_id]
    assert api(client_user).get("/api/safety-alerts").status_code == 403
    assert post(api, client_user, f"/api/safety-alerts/{alert_id}/acknowledge").status_code == 404
    acknowledged = post(api, monitor, f"/api/safety-alerts/{alert_id}/acknowledge")
    assert acknowledged.json()["status"] == "acknowledged"
    again = post(api, monitor, f"/api/safety-alerts/{alert_id}/acknowledge")
    assert again.status_code == 409 and code_of(again) == "ALREADY_DECIDED"
    assert post(api, monitor, f"/api/safety-alerts/{alert_id}/resolve").json()["status"] == (
        "resolved"
    )
    assert SafetyAlert.objects.get(pk=alert_id).resolved_by == monitor


# --- real concurrency ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_readers_accepting_at_the_same_moment_open_exactly_one_session(
    client_user, reader_user
):
    other = user_create(role=Role.READER, username="rami")
    for reader in (reader_user, other):
        emergency.on_call_set(reader=reader, on_call=True)
    request = emergency.emergency_request_open(client=client_user)

    outcomes = at_once(
        *(
            lambda r=reader: emergency.emergency_accept(reader=r, request_id=request.pk)
            for reader in (reader_user, other)
        )
    )

    codes = sorted(getattr(o, "code", "ok") for o in outcomes)
    assert codes == ["ALREADY_TAKEN", "ok"], outcomes
    assert ChatSession.objects.filter(kind="emergency").count() == 1
    request.refresh_from_db()
    assert request.events.filter(kind="accepted").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_apply_each_step_exactly_once(client_user):
    requests = [
        emergency.emergency_request_open(client=user_create(role=Role.CLIENT)) for _ in range(20)
    ]
    later = timezone.now() + timedelta(seconds=45)

    outcomes = at_once(
        lambda: emergency.emergency_steps_apply(now=later, batch_size=3),
        lambda: emergency.emergency_steps_apply(now=later, batch_size=3),
    )

    assert sum(outcomes) == 20, outcomes
    for request in EmergencyRequest.objects.filter(pk__in=[r.pk for r in requests]):
        assert request.status == "escalated"
        assert request.events.filter(kind="escalated_staff").count() == 1


def test_a_reader_reads_their_on_call_state(api, code_of, reader_user, client_user):
    assert api(reader_user).get("/api/readers/me/on-call").json()["on_call"] is False
    post(api, reader_user, "/api/readers/me/on-call", {"on_call": True})
    assert api(reader_user).get("/api/readers/me/on-call").json()["on_call"] is True
    refused = api(client_user).get("/api/readers/me/on-call")
    assert refused.status_code == 403 and code_of(refused) == "NOT_A_READER"


def test_a_declined_request_no_longer_rings_for_that_reader(api, ringing, reader_user):
    other = user_create(role=Role.READER, username="rami")
    emergency.on_call_set(reader=other, on_call=True)

    post(api, reader_user, f"/api/emergencies/{ringing.pk}/decline")

    assert api(reader_user).get("/api/emergencies").json() == []
    assert [r["id"] for r in api(other).get("/api/emergencies").json()] == [ringing.pk]
