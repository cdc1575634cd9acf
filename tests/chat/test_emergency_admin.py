"""Staff work emergencies and safety alerts in the admin too."""

from datetime import timedelta

from django.utils import timezone

from chat import emergency
from chat.models import SafetyAlert


def test_the_request_list_shows_open_count_and_response_times(
    client, monitor, client_user, reader_user
):
    emergency.on_call_set(reader=reader_user, on_call=True)
    request = emergency.emergency_request_open(client=client_user, reason="Help.")
    emergency.emergency_accept(
        reader=reader_user, request_id=request.pk, now=request.created_at + timedelta(seconds=8)
    )
    client.force_login(monitor)

    page = client.get("/admin/chat/emergencyrequest/")

    assert page.status_code == 200
    assert b"0 open" in page.content
    assert b"median 8.0 s" in page.content and b"P90 8.0 s" in page.content
    detail = client.get(f"/admin/chat/emergencyrequest/{request.pk}/change/")
    assert b"Accepted" in detail.content and b"Requested" in detail.content


def test_a_monitor_acknowledges_then_resolves_an_alert_from_the_admin(
    client, monitor, reading, client_user
):
    alert = emergency.safety_alert_raise(session=reading, user=client_user, reason="Rude words.")
    client.force_login(monitor)
    assert b"1 not yet resolved" in client.get("/admin/chat/safetyalert/").content

    for action in ("acknowledge_alerts", "resolve_alerts"):
        client.post(
            "/admin/chat/safetyalert/",
            {"action": action, "_selected_action": [alert.pk]},
        )

    alert.refresh_from_db()
    assert alert.status == SafetyAlert.Status.RESOLVED
    assert alert.acknowledged_by == monitor and alert.resolved_by == monitor
    assert alert.resolved_at <= timezone.now()
