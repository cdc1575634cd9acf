"""The staff console: a dashboard of the work waiting for staff, and the audit log."""

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.utils import timezone

from approvals.models import Decision, MessageReview, PrivilegedChange, ReaderApplication
from chat import emergency
from chat.models import ChatSession, EmergencyRequest, Message
from chat.services import session_change_status
from samia_chat.audit import audit_event
from samia_chat.models import AccessEvent, Role
from tests.factories import session_create, user_create

pytestmark = pytest.mark.django_db


def counter(page, key: str) -> int:
    """The number a dashboard card shows for `key` (the element staff-console.js updates)."""
    found = re.search(rf'data-live-count="{key}">(\d+)<', page.content.decode())
    assert found, f"no counter {key}"
    return int(found.group(1))


# --- dashboard --------------------------------------------------------------------------


@pytest.fixture
def waiting_work(reading, client_user, reader_user, admin):
    """One of each thing staff must see to: a held voice note, a reader application, a
    privileged change, an open emergency, an open safety alert; one paused session."""
    held = Message.objects.create(
        session=reading, sender=reader_user, kind=Message.Kind.TEXT, body="held",
        status=Message.Status.PENDING_REVIEW,
    )  # fmt: skip
    MessageReview.objects.create(message=held)
    applicant = user_create(role=Role.READER, username="nadia")
    ReaderApplication.objects.create(user=applicant, about="Twenty years of tarot.")
    PrivilegedChange.objects.create(
        kind=PrivilegedChange.Kind.ROLE_CHANGE, target=applicant, new_role=Role.MONITOR,
        requested_by=admin, justification="Night shift.",
    )  # fmt: skip
    other_client = user_create(role=Role.CLIENT, username="hala")
    emergency.emergency_request_open(client=other_client, reason="Now, please.")
    emergency.safety_alert_raise(session=reading, user=client_user, reason="Rude words.")
    session_create(client=other_client, reader=reader_user, status=ChatSession.Status.PAUSED)
    session_create(client=other_client, reader=reader_user, status=ChatSession.Status.ENDED)


def test_the_dashboard_shows_a_count_on_each_task_card(client, monitor, waiting_work):
    client.force_login(monitor)

    page = client.get("/admin/")

    assert page.status_code == 200
    assert counter(page, "approvals-pending") == 1
    assert counter(page, "reader-applications") == 1
    assert counter(page, "privileged-changes") == 1
    assert counter(page, "open-emergencies") == 1
    assert counter(page, "safety-alerts") == 1
    assert counter(page, "sessions-active") == 1
    assert counter(page, "sessions-paused") == 1
    assert b"data-approvals-pending" in page.content
    # The model list is still there for everything else.
    assert b"/admin/chat/message/" in page.content


def test_the_dashboard_counts_only_what_still_waits(client, monitor, reading, waiting_work):
    MessageReview.objects.update(status=Decision.APPROVED, decided_at=timezone.now())
    EmergencyRequest.objects.update(status=EmergencyRequest.Status.CANCELLED)
    reading.safety_alerts.update(status="resolved")
    client.force_login(monitor)

    page = client.get("/admin/")

    assert counter(page, "approvals-pending") == 0
    assert counter(page, "open-emergencies") == 0
    assert counter(page, "safety-alerts") == 0


def test_the_dashboard_shows_review_and_emergency_response_times(
    client, admin, reading, reader_user, client_user
):
    now = timezone.now()
    for seconds in (30, 40, 300):
        message = Message.objects.create(session=reading, sender=reader_user, body="x")
        MessageReview.objects.create(
            message=message, status=Decision.APPROVED,
            submitted_at=now - timedelta(seconds=seconds), decided_at=now,
        )  # fmt: skip
    emergency.on_call_set(reader=reader_user, on_call=True)
    request = emergency.emergency_request_open(client=client_user, reason="")
    emergency.emergency_accept(
        reader=reader_user, request_id=request.pk, now=request.created_at + timedelta(seconds=8)
    )
    client.force_login(admin)

    text = client.get("/admin/").content.decode()

    assert re.search(r'data-stat="review-median">40 s<', text)
    assert re.search(r'data-stat="review-p90">5 min<', text)
    assert re.search(r'data-stat="response-median">8.0 s<', text)


def test_the_counters_are_served_as_json_for_the_live_page(client, monitor, waiting_work):
    client.force_login(monitor)

    counts = client.get("/admin/console/counts/").json()

    assert counts == {
        "approvals-pending": 1,
        "reader-applications": 1,
        "privileged-changes": 1,
        "open-emergencies": 1,
        "safety-alerts": 1,
        "sessions-active": 1,
        "sessions-paused": 1,
    }


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("client_user", 302),
        ("reader_user", 302),
        ("monitor", 200),
        ("admin", 200),
        ("super_admin", 200),
    ],
)
def test_only_staff_reach_the_dashboard(request, client, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/admin/").status_code == status
    assert client.get("/admin/console/counts/").status_code == status


def test_the_page_loads_the_live_script_and_links_the_audit_log_for_admins(client, admin, monitor):
    client.force_login(admin)
    page = client.get("/admin/").content.decode()
    assert "js/staff-console.js" in page and "css/staff-console.css" in page
    assert "<script>" not in page  # the CSP allows no inline script
    assert "SAMIA Chat staff console" in page
    assert 'href="/admin/audit/"' in page

    client.force_login(monitor)
    assert 'href="/admin/audit/"' not in client.get("/admin/").content.decode()


# --- audit log --------------------------------------------------------------------------


def _at(days_ago: int) -> datetime:
    return timezone.now().replace(hour=12, minute=0) - timedelta(days=days_ago)


@pytest.fixture
def history(reading, admin, monitor, client_user):
    """Access events and change history of two sessions, by two staff members, over days."""
    other = session_create(client=client_user, reader=user_create(role=Role.READER))
    # Start from a clean change history: making the personas and sessions logged them.
    LogEntry.objects.all().delete()
    read = AccessEvent.Action.STAFF_READ
    events = {
        "read_old": audit_event(actor=monitor, action=read, target=reading),
        "read_other": audit_event(actor=admin, action=read, target=other),
        "login": audit_event(actor=admin, action=AccessEvent.Action.LOGIN),
        "failed": audit_event(
            actor=None, action=AccessEvent.Action.LOGIN_FAILED, detail={"username": "adam"}
        ),
    }  # fmt: skip
    AccessEvent.objects.filter(pk=events["read_old"].pk).update(created_at=_at(10))
    with set_actor(admin):
        session_change_status(session=reading, user=admin, action="pause")
    change = LogEntry.objects.get_for_object(reading).get()
    events["pause"] = AccessEvent.objects.get(action=AccessEvent.Action.SESSION_STATUS)
    events["change"] = change
    return events


def rows_of(page) -> list[tuple[str, str]]:
    """(source, action) of each row of the audit table."""
    return re.findall(r'<tr data-source="(\w+)" data-action="(\w+)">', page.content.decode())


def test_the_audit_log_merges_access_events_and_changes_newest_first(client, admin, history):
    client.force_login(admin)

    page = client.get("/admin/audit/")

    assert page.status_code == 200
    rows = rows_of(page)
    assert ("change", "update") in rows and ("access", "session_status") in rows
    assert rows[-1] == ("access", "staff_read")  # ten days old
    assert len(rows) == 7  # the history above, and this admin's own sign-in


def test_the_audit_log_filters_by_user(client, admin, history):
    client.force_login(admin)

    rows = rows_of(client.get("/admin/audit/", {"user": "ADAM"}))

    # Adam's own events (his sign-in for this very page too), his change, and a failed
    # sign-in typed as "adam".
    assert sorted(rows) == sorted(
        [
            ("access", "staff_read"),
            ("access", "login"),
            ("access", "login"),
            ("access", "login_failed"),
            ("access", "session_status"),
            ("change", "update"),
        ]
    )
    assert rows_of(client.get("/admin/audit/", {"user": "mona"})) == [("access", "staff_read")]


def test_the_audit_log_filters_by_action(client, admin, history):
    client.force_login(admin)

    assert rows_of(client.get("/admin/audit/", {"action": "staff_read"})) == [
        ("access", "staff_read"),
        ("access", "staff_read"),
    ]
    assert rows_of(client.get("/admin/audit/", {"action": "update"})) == [("change", "update")]


def test_the_audit_log_filters_by_session(client, admin, reading, reader_user, history):
    message = Message.objects.create(session=reading, sender=reader_user, body="Rude.")
    audit_event(actor=admin, action=AccessEvent.Action.REDACTION, target=message)
    audit_event(actor=admin, action=AccessEvent.Action.DOWNLOAD, detail={"session": reading.pk})
    client.force_login(admin)

    rows = rows_of(client.get("/admin/audit/", {"session": reading.pk}))

    assert sorted(rows) == sorted(
        [
            ("access", "staff_read"),  # the old read of this session, not the other one
            ("access", "session_status"),
            ("change", "update"),
            ("access", "redaction"),
            ("access", "download"),
        ]
    )


def test_the_audit_log_filters_by_dates(client, admin, history):
    client.force_login(admin)
    old_day = _at(10).date()

    only_then = rows_of(client.get("/admin/audit/", {"date_from": old_day, "date_to": old_day}))
    since_yesterday = rows_of(
        client.get("/admin/audit/", {"date_from": old_day + timedelta(days=9)})
    )

    assert only_then == [("access", "staff_read")]
    # The five of the history since yesterday, and this page's sign-in.
    assert len(since_yesterday) == 6 and ("access", "staff_read") in since_yesterday


def test_an_invalid_filter_is_reported_and_the_others_still_apply(client, admin, history):
    client.force_login(admin)

    page = client.get("/admin/audit/", {"session": "abc", "action": "login"})

    assert page.status_code == 200
    assert b"Enter a whole number" in page.content
    assert rows_of(page) == [("access", "login"), ("access", "login")]  # with this sign-in


def test_the_audit_log_pages_through_both_sources(client, admin, history):
    for _ in range(50):
        audit_event(actor=admin, action=AccessEvent.Action.LOGIN)
    client.force_login(admin)

    first = rows_of(client.get("/admin/audit/"))
    second = client.get("/admin/audit/", {"page": 2})

    assert len(first) == 50
    assert len(rows_of(second)) == 7  # 56 of the history, and this sign-in
    assert b"Page 2 of 2" in second.content


def read_csv(response) -> list[list[str]]:
    assert response.streaming
    body = async_to_sync(_collect)(response)
    return list(csv.reader(io.StringIO(body.decode())))


async def _collect(response) -> bytes:
    return b"".join([chunk async for chunk in response.streaming_content])


def test_the_csv_export_has_a_header_and_exactly_the_filtered_rows(client, admin, reading, history):
    client.force_login(admin)

    response = client.get("/admin/audit/export.csv", {"session": reading.pk, "user": "adam"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = read_csv(response)
    assert header == [
        "time", "source", "action", "actor", "target_type", "target_id", "ip", "detail"
    ]  # fmt: skip
    assert sorted((r[1], r[2], r[3], r[4], r[5]) for r in rows) == sorted(
        [
            ("access", "session_status", "adam", "chat.chatsession", str(reading.pk)),
            ("change", "update", "adam", "chat.chatsession", str(reading.pk)),
        ]
    )
    status_row = next(r for r in rows if r[2] == "session_status")
    assert '"to": "paused"' in status_row[7]


def test_the_csv_export_defuses_spreadsheet_formulas(client, admin):
    audit_event(actor=None, action=AccessEvent.Action.LOGIN_FAILED, detail={"username": "x"})
    AccessEvent.objects.update(target_type="=HYPERLINK(1)")
    client.force_login(admin)

    _header, row = read_csv(client.get("/admin/audit/export.csv", {"action": "login_failed"}))

    assert row[4] == "'=HYPERLINK(1)"


@pytest.mark.parametrize(("persona", "status"), [("monitor", 403), ("super_admin", 200)])
def test_the_audit_log_is_for_admins_and_super_admins(request, client, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/admin/audit/").status_code == status
    assert client.get("/admin/audit/export.csv").status_code == status


def test_outsiders_are_sent_to_sign_in(client, reader_user):
    client.force_login(reader_user)
    assert client.get("/admin/audit/").status_code == 302
    assert client.get("/admin/audit/export.csv").status_code == 302
