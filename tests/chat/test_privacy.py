"""My privacy: consents (terms and voice), "download my data" and "delete my account"."""

import io
import json
import zipfile

import pytest
from django.test import Client

from approvals import services as approvals
from approvals.models import PrivilegedChange
from chat.export import data_exports_build_pending
from chat.models import DataExport
from samia_chat.models import AccessEvent, Consent
from tests.factories import message_create, user_create
from tests.samples import audio as samples

pytestmark = pytest.mark.django_db


def _browser(user) -> Client:
    browser = Client(HTTP_USER_AGENT="Privacy-Test/1.0")
    browser.force_login(user)
    return browser


# --- consents -----------------------------------------------------------------------------


def test_a_client_without_the_current_terms_is_asked_before_the_chat(settings):
    client = user_create(username="new-client", consents=False)
    browser = _browser(client)

    first = browser.get("/")
    assert first.status_code == 302 and first["Location"] == "/privacy/terms/?next=/"
    accepted = browser.post("/privacy/terms/", {"accept": "yes", "next": "/"})

    assert accepted.status_code == 302 and accepted["Location"] == "/"
    consent = Consent.objects.get(user=client, kind="terms")
    assert (consent.version, consent.granted) == (settings.TERMS_VERSION, True)
    assert consent.ip_address == "127.0.0.1" and consent.user_agent == "Privacy-Test/1.0"
    assert browser.get("/").status_code == 200

    settings.TERMS_VERSION = "2027-01"
    assert browser.get("/").status_code == 302


def test_terms_acceptance_never_redirects_off_site(client_user):
    response = _browser(client_user).post(
        "/privacy/terms/", {"accept": "yes", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_staff_are_not_asked_for_the_client_terms(monitor):
    assert _browser(monitor).get("/").status_code == 200


def test_withdrawing_voice_consent_turns_voice_notes_off_until_given_again(
    api, reading, client_user, tmp_path, file_store
):
    browser = _browser(client_user)
    note = samples.sine_file(tmp_path, container="webm", seconds=1.0)

    browser.post("/privacy/voice-consent", {"granted": "no"})
    refused = api(client_user).upload(f"/api/sessions/{reading.pk}/voice", note, client_msg_id="v")
    page = browser.get(f"/s/{reading.pk}/").content.decode()

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "VOICE_CONSENT_REQUIRED"
    assert [p for p in file_store.rglob("*") if p.is_file()] == []
    assert '"voice_consent": false' in page
    assert "Withdrawn on" in browser.get("/privacy/").content.decode()

    browser.post("/privacy/voice-consent", {"granted": "yes"})
    sent = api(client_user).upload(f"/api/sessions/{reading.pk}/voice", note, client_msg_id="v")
    assert sent.status_code == 201
    history = list(
        Consent.objects.filter(user=client_user, kind="voice").values_list("granted", flat=True)
    )
    assert history == [True, False, True]
    assert AccessEvent.objects.filter(action="consent", actor=client_user).count() == 2


# --- export -------------------------------------------------------------------------------


def _archive(browser, export: DataExport) -> zipfile.ZipFile:
    response = browser.get(f"/privacy/exports/{export.pk}")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_the_export_holds_exactly_the_persons_data_and_own_files(
    api, reading, client_user, reader_user, tmp_path, settings
):
    settings.CHAT = {**settings.CHAT, "HOLD_FOR_REVIEW": frozenset({("text", "reader")})}
    note = samples.sine_file(tmp_path, container="webm", seconds=1.0)
    mine = api(client_user).upload(f"/api/sessions/{reading.pk}/voice", note, client_msg_id="m")
    theirs = api(reader_user).upload(f"/api/sessions/{reading.pk}/voice", note, client_msg_id="t")
    message_create(session=reading, sender=client_user, body="What does the Tower mean?")
    held = message_create(session=reading, sender=reader_user, body="Not yet reviewed")
    elsewhere = user_create(username="stranger")
    message_create(
        session=user_and_session(elsewhere, reader_user), sender=elsewhere, body="Not yours"
    )
    browser = _browser(client_user)

    browser.post("/privacy/export")

    export = DataExport.objects.get(user=client_user)
    assert export.status == "ready"
    archive = _archive(browser, export)
    data = json.loads(archive.read("data.json"))
    assert data["profile"]["username"] == "layla"
    assert {c["kind"] for c in data["consents"]} == {"terms", "voice"}
    assert [s["id"] for s in data["sessions"]] == [reading.pk]
    assert {m["name"] for m in data["sessions"][0]["members"]} == {"Layla", "Noor"}
    bodies = {m["body"] for m in data["messages"]}
    assert "What does the Tower mean?" in bodies and "Not yours" not in bodies
    assert "Not yet reviewed" not in bodies
    withheld = next(m for m in data["messages"] if m["id"] == held.pk)
    assert withheld["status"] == "pending_review" and withheld["sender"] == "Noor"
    files = [n for n in archive.namelist() if n.startswith("files/")]
    assert files == [f"files/{mine.json()['id']}-{mine.json()['attachment']['name']}"]
    original = b"".join(api(client_user).download(mine.json()["attachment"]["url"])[1:])
    assert archive.read(files[0]) == original
    their_entry = next(m for m in data["messages"] if m["id"] == theirs.json()["id"])
    assert "path_in_archive" not in (their_entry["file"] or {})
    assert AccessEvent.objects.filter(action="export", actor=client_user).count() == 1


def user_and_session(client, reader):
    from tests.factories import session_create

    return session_create(client=client, reader=reader)


def test_nobody_else_can_download_an_export(client_user, outsider, monitor):
    _browser(client_user).post("/privacy/export")
    export = DataExport.objects.get(user=client_user)

    for other in (outsider, monitor):
        assert _browser(other).get(f"/privacy/exports/{export.pk}").status_code == 404


def test_a_large_export_is_built_by_the_worker_and_offered_when_ready(client_user, settings):
    settings.PRIVACY = {**settings.PRIVACY, "EXPORT_INLINE_BYTES": -1}
    browser = _browser(client_user)

    browser.post("/privacy/export")
    export = DataExport.objects.get(user=client_user)
    assert export.status == "pending"
    assert "Being prepared" in browser.get("/privacy/").content.decode()
    again = browser.post("/privacy/export", follow=True)
    assert "already being prepared" in again.content.decode()

    # The worker's export step (chat/worker.py ExportPass runs it every second).
    assert data_exports_build_pending() == 1

    export.refresh_from_db()
    assert export.status == "ready" and export.expires_at is not None
    assert f"/privacy/exports/{export.pk}" in browser.get("/privacy/").content.decode()


# --- erasure ------------------------------------------------------------------------------


def test_a_person_asks_for_erasure_and_a_super_admin_approves_it(reading, client_user, super_admin):
    browser = _browser(client_user)

    unconfirmed = browser.post("/privacy/delete-account", {"confirm": "yes"}, follow=True)
    assert "Type DELETE" in unconfirmed.content.decode()
    browser.post("/privacy/delete-account", {"confirm": "DELETE", "note": "Moving on."})

    change = PrivilegedChange.objects.get(target=client_user, kind="erasure")
    assert change.requested_by == client_user and change.status == "pending"
    assert "You asked on" in browser.get("/privacy/").content.decode()
    assert AccessEvent.objects.filter(action="erasure_requested", actor=client_user).exists()

    approvals.privileged_change_approve(change_id=change.pk, approver=super_admin)

    client_user.refresh_from_db()
    assert not client_user.is_active and client_user.display_name == "Deleted user"
    assert browser.get("/privacy/").status_code == 302  # signed out everywhere


def test_operators_export_a_persons_data_to_a_file(client_user, reading, tmp_path):
    from django.core.management import call_command

    message_create(session=reading, sender=client_user, body="For the record")
    target = tmp_path / "layla.zip"

    call_command("export_user_data", "layla", "--out", str(target), stdout=io.StringIO())

    data = json.loads(zipfile.ZipFile(target).read("data.json"))
    assert data["profile"]["username"] == "layla"
    assert "For the record" in {m["body"] for m in data["messages"]}
    assert AccessEvent.objects.filter(action="export", target_id=str(client_user.pk)).exists()


def test_an_export_that_fails_to_build_says_so_and_may_be_asked_again(client_user, monkeypatch):
    from chat import export

    def broken(user, target):
        raise OSError("disk full")

    monkeypatch.setattr(export, "_archive_write", broken)
    browser = _browser(client_user)

    page = browser.post("/privacy/export", follow=True).content.decode()

    assert "could not be prepared" in page
    assert DataExport.objects.get(user=client_user).status == "failed"
    monkeypatch.undo()
    browser.post("/privacy/export")
    assert DataExport.objects.filter(user=client_user, status="ready").exists()
