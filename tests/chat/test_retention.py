"""Retention: what `apply_retention` removes, what it keeps, and that files go too."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from approvals import services as approvals
from approvals.models import PrivilegedChange
from chat.models import Attachment, LegalHold, Message
from samia_chat.errors import Conflict
from samia_chat.models import AccessEvent
from tests.factories import message_create
from tests.samples import audio as samples

pytestmark = pytest.mark.django_db


def _age(message: Message, days: int, *, deleted: bool = False) -> None:
    then = timezone.now() - timedelta(days=days)
    fields = {"created_at": then}
    if deleted:
        fields.update(status=Message.Status.DELETED, body="", deleted_at=then)
    Message.objects.filter(pk=message.pk).update(**fields)


def _run(*args) -> str:
    out = StringIO()
    call_command("apply_retention", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def old_voice_note(api, reading, client_user, tmp_path):
    note = samples.sine_file(tmp_path, container="webm", seconds=1.0)
    sent = api(client_user).upload(f"/api/sessions/{reading.pk}/voice", note, client_msg_id="o1")
    assert sent.status_code == 201
    message = Message.objects.get(pk=sent.json()["id"])
    _age(message, 400)
    return message


def test_each_kind_goes_after_its_own_period_with_its_file(
    reading, client_user, reader_user, old_voice_note, file_store, after_commit
):
    old_text = message_create(session=reading, sender=client_user, body="Two years ago")
    young_text = message_create(session=reading, sender=reader_user, body="Last year")
    old_tombstone = message_create(session=reading, sender=client_user, body="gone")
    young_tombstone = message_create(session=reading, sender=client_user, body="gone too")
    _age(old_text, 731)
    _age(young_text, 400)
    _age(old_tombstone, 31, deleted=True)
    _age(young_tombstone, 10, deleted=True)
    assert len([p for p in file_store.rglob("*") if p.is_file()]) == 1

    with after_commit():
        output = _run()

    left = set(Message.objects.values_list("pk", flat=True))
    assert old_text.pk not in left and old_tombstone.pk not in left
    assert old_voice_note.pk not in left
    assert {young_text.pk, young_tombstone.pk} <= left
    assert not Attachment.objects.exists()
    assert [p for p in file_store.rglob("*") if p.is_file()] == []
    assert "Removed 3 messages" in output and "1 files" in output
    run = AccessEvent.objects.get(action="retention_run")
    assert run.detail == {"files": 1, "text": 1, "tombstone": 1, "voice": 1}


def test_a_dry_run_lists_exactly_what_would_go_and_removes_nothing(
    reading, client_user, old_voice_note, file_store
):
    old_text = message_create(session=reading, sender=client_user, body="Old")
    _age(old_text, 800)
    before = Message.objects.count()

    output = _run("--dry-run")

    assert f"would remove message {old_text.pk} " in output
    assert f"would remove message {old_voice_note.pk} " in output
    assert output.count("would remove message") == 2
    assert "and file " in output
    assert Message.objects.count() == before
    assert len([p for p in file_store.rglob("*") if p.is_file()]) == 1
    assert not AccessEvent.objects.filter(action="retention_run").exists()


@pytest.mark.parametrize("on", ["session", "person"])
def test_a_legal_hold_keeps_everything_until_it_is_lifted(
    reading, client_user, admin, old_voice_note, on
):
    old_text = message_create(session=reading, sender=client_user, body="Evidence")
    _age(old_text, 800)
    subject = {"session": reading} if on == "session" else {"user": client_user}
    hold = LegalHold.objects.create(reason="Court order 12/2026", placed_by=admin, **subject)

    assert "Removed 0 messages" in _run()
    assert Message.objects.filter(pk__in=[old_text.pk, old_voice_note.pk]).count() == 2

    hold.lifted_at = timezone.now()
    hold.save()
    _run()

    assert not Message.objects.filter(pk__in=[old_text.pk, old_voice_note.pk]).exists()


def test_a_legal_hold_blocks_erasure(reading, client_user, admin, super_admin):
    LegalHold.objects.create(user=client_user, reason="Dispute", placed_by=admin)

    with pytest.raises(Conflict) as refused:
        approvals.privileged_change_request(
            requester=admin,
            target=client_user,
            kind=PrivilegedChange.Kind.ERASURE,
            justification="Asked to be forgotten.",
        )

    assert refused.value.code == "LEGAL_HOLD"


def test_a_hold_placed_after_the_request_still_stops_the_erasure(
    reading, client_user, admin, super_admin
):
    change = approvals.privileged_change_request(
        requester=admin,
        target=client_user,
        kind=PrivilegedChange.Kind.ERASURE,
        justification="Asked to be forgotten.",
    )
    LegalHold.objects.create(session=reading, reason="Complaint under review", placed_by=admin)

    with pytest.raises(Conflict):
        approvals.privileged_change_approve(change_id=change.pk, approver=super_admin)

    client_user.refresh_from_db()
    change.refresh_from_db()
    assert client_user.is_active and change.status == "pending"


def test_a_stored_file_shared_by_imported_attachments_outlives_the_first_removal(
    api, reading, client_user, tmp_path, file_store, after_commit
):
    # The import stores identical files once: two attachments name one stored object.
    note = samples.sine_file(tmp_path, container="webm", seconds=1.0)
    sent = api(client_user).upload(f"/api/sessions/{reading.pk}/voice", note, client_msg_id="s1")
    first = Message.objects.get(pk=sent.json()["id"])
    shared = first.attachment
    twin = Attachment.objects.create(
        session=reading,
        uploaded_by=client_user,
        kind=shared.kind,
        content_type=shared.content_type,
        name=shared.name,
        size_bytes=shared.size_bytes,
        storage_key=shared.storage_key,
        key_id=shared.key_id,
        wrapped_key=shared.wrapped_key,
    )
    second = message_create(session=reading, sender=client_user, body="placeholder")
    Message.objects.filter(pk=second.pk).update(kind="voice", body="", attachment=twin)
    _age(first, 400)

    with after_commit():
        _run()

    assert not Message.objects.filter(pk=first.pk).exists()
    assert [p for p in file_store.rglob("*") if p.is_file()], "the twin still needs the file"
    downloaded = api(client_user).download(f"/files/{twin.public_id}")[0]
    assert downloaded.status_code == 200

    _age(Message.objects.get(pk=second.pk), 400)
    with after_commit():
        _run()

    assert [p for p in file_store.rglob("*") if p.is_file()] == []
