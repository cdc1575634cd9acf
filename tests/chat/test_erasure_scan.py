"""After an erasure, no table holds the person's personal details: every text, JSON and
address column of every model is scanned for them."""

import pytest
from django.apps import apps
from django.db import models
from django.test import Client

from approvals import services as approvals
from chat import emergency
from chat.models import Attachment
from samia_chat.consent import consent_record
from samia_chat.models import Consent, Role
from tests.factories import message_create, session_create, user_create
from tests.samples import audio as samples

pytestmark = pytest.mark.django_db

IP = "203.0.113.77"
AGENT = "Mozilla/5.0 (Zarqa-Phone-7731)"
TRACES = {
    "username": "zainab-qx7",
    "email": "zainab.qx7@example.org",
    "display name": "Zainab Qx7",
    "address": IP,
    "browser": AGENT,
    "message": "My mother Fatima Qx7 is ill",
    "emergency reason": "Please call, Qx7 urgent",
    "safety reason": "Qx7 feels unsafe",
}
SCANNED = (
    models.CharField,
    models.TextField,
    models.JSONField,
    models.GenericIPAddressField,
    models.EmailField,
)


def _hits() -> list[str]:
    """Every (table, column) holding one of the traces."""
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, SCANNED)]
        if not fields:
            continue
        for row in model.objects.values_list(*[f.attname for f in fields]):
            for field, value in zip(fields, row, strict=True):
                text = str(value or "")
                for label, trace in TRACES.items():
                    if trace.lower() in text.lower():
                        found.append(f"{model._meta.db_table}.{field.attname}: {label}")
    return found


def test_an_erased_person_leaves_no_personal_detail_in_any_table(
    api, reader_user, admin, super_admin, tmp_path, after_commit, file_store
):
    person = user_create(
        role=Role.CLIENT,
        username=TRACES["username"],
        email=TRACES["email"],
        display_name=TRACES["display name"],
        password="a-long-password-for-qx7",
        consents=False,
    )
    browser = Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=AGENT)
    assert (
        browser.post(
            "/login/", {"username": TRACES["username"], "password": "a-long-password-for-qx7"}
        ).status_code
        == 302
    )
    Client(REMOTE_ADDR=IP).post("/login/", {"username": TRACES["username"], "password": "no"})
    for kind in (Consent.Kind.TERMS, Consent.Kind.VOICE):
        consent_record(user=person, kind=kind, granted=True, request=browser.get("/").wsgi_request)
    reading = session_create(client=person, reader=reader_user)
    message_create(session=reading, sender=person, body=TRACES["message"])
    note = samples.sine_file(tmp_path, container="webm", seconds=1.0)
    assert (
        api(person).upload(f"/api/sessions/{reading.pk}/voice", note, client_msg_id="z").status_code
        == 201
    )
    emergency.emergency_request_open(client=person, reason=TRACES["emergency reason"])
    emergency.safety_alert_raise(session=reading, user=person, reason=TRACES["safety reason"])
    browser.post("/privacy/export")
    assert _hits(), "the scan must see the traces before the erasure"
    change = approvals.erasure_request_by_user(user=person, note="")

    with after_commit():
        approvals.privileged_change_approve(change_id=change.pk, approver=super_admin)

    assert _hits() == []
    assert not Attachment.objects.filter(uploaded_by=person).exists()
    assert [p for p in file_store.rglob("*") if p.is_file()] == []
