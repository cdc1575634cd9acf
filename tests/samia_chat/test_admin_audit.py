"""What staff do in the admin is recorded, and the raw audit tables are for admins."""

import pytest
from django.test import Client

from samia_chat.models import AccessEvent
from tests.factories import message_create, user_create

pytestmark = pytest.mark.django_db


def test_signing_in_and_out_of_the_admin_is_recorded(db):
    admin = user_create(role="admin", username="adam", password="a-long-admin-password-1")
    browser = Client(REMOTE_ADDR="198.51.100.4")

    browser.post("/admin/login/", {"username": "adam", "password": "a-long-admin-password-1"})
    browser.post("/admin/logout/")

    events = list(AccessEvent.objects.filter(actor=admin).values_list("action", "ip_address"))
    assert events == [("logout", "198.51.100.4"), ("login", "198.51.100.4")]


def test_reading_messages_in_the_admin_is_a_recorded_staff_read(monitor, reading, client_user):
    message = message_create(session=reading, sender=client_user, body="Private words")
    browser = Client()
    browser.force_login(monitor)

    assert browser.get("/admin/chat/message/").status_code == 200
    assert browser.get(f"/admin/chat/message/{message.pk}/change/").status_code == 200

    reads = AccessEvent.objects.filter(actor=monitor, action="staff_read")
    assert reads.count() == 2
    assert reads.filter(target_type="chat.message", target_id=str(message.pk)).exists()


@pytest.mark.parametrize(
    "path", ["/admin/samia_chat/accessevent/", "/admin/chat/legacyauditentry/"]
)
def test_the_raw_audit_tables_are_for_admins_not_monitors(monitor, admin, path):
    as_monitor, as_admin = Client(), Client()
    as_monitor.force_login(monitor)
    as_admin.force_login(admin)

    assert as_monitor.get(path).status_code == 403
    assert as_admin.get(path).status_code == 200
