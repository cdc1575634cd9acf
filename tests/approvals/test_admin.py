"""The approval queues in the Django admin: held messages, reader applications, privileged
changes, and the user page that only asks for a role change, never makes one.

Decisions go through the same services as the API; the admin lists, asks for a reason and
reports refusals as warnings.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from approvals import services
from approvals.models import Decision, MessageReview, PrivilegedChange
from chat.attachments import AttachmentDraft, attachment_send
from chat.models import Attachment, Message
from samia_chat.models import Role, User
from tests.factories import new_client_msg_id, user_create
from tests.samples import audio as samples

QUEUE = "/admin/approvals/messagereview/"
APPLICATIONS = "/admin/approvals/readerapplication/"
CHANGES = "/admin/approvals/privilegedchange/"
REQUEST_CHANGE = "/admin/approvals/privilegedchange/add/"


def held_note(
    session, reader, folder: Path, *, duration_ms: int = 65_000, waited: timedelta | None = None
) -> MessageReview:
    """A reader's voice note held for review, sent through the real attachment path (the
    bytes are not audio: nothing here decodes them)."""
    path = folder / f"{new_client_msg_id()}.m4a"
    path.write_bytes(b"\0" * 256)
    draft = AttachmentDraft(
        path=path,
        kind=Attachment.Kind.VOICE,
        content_type="audio/mp4",
        name="voice-note.m4a",
        duration_ms=duration_ms,
    )
    message, _created = attachment_send(
        session=session, sender=reader, draft=draft, client_msg_id=new_client_msg_id()
    )
    review = MessageReview.objects.get(message=message)
    if waited is not None:
        review.submitted_at = timezone.now() - waited
        review.save(update_fields=["submitted_at"])
    return review


def act(client, url: str, action: str, ids: list[int], **fields):
    """Run an admin action from the changelist, as its Go button does, and follow back to
    the page that shows the outcome."""
    return client.post(
        url, {"action": action, ACTION_CHECKBOX_NAME: ids, "index": 0, **fields}, follow=True
    )


def reject(client, url: str, ids: list[int], reason: str):
    """Submit the reject action's reason page."""
    return client.post(
        url,
        {
            "action": "reject_selected",
            ACTION_CHECKBOX_NAME: ids,
            "apply": "Reject",
            "reason": reason,
        },
        follow=True,
    )


def notes(response, level: int | None = None) -> list[str]:
    """The admin's messages shown on the page the action ended on."""
    return [str(m) for m in response.context["messages"] if level is None or m.level == level]


def action_names(response) -> set[str]:
    form = response.context["action_form"]
    return {name for name, _label in form.fields["action"].choices if name}


# --- held messages ----------------------------------------------------------------------------


def test_the_queue_lists_pending_notes_oldest_first_with_a_player(
    client, api, monitor, reading, reader_user, tmp_path
):
    recording = samples.sine_file(tmp_path, container="webm", seconds=1.0)
    uploaded = api(reader_user).upload(
        f"/api/sessions/{reading.pk}/voice", recording, client_msg_id="queued"
    )
    newer = MessageReview.objects.get(message_id=uploaded.json()["id"])
    older = held_note(reading, reader_user, tmp_path, waited=timedelta(minutes=4))
    decided = held_note(reading, reader_user, tmp_path, waited=timedelta(seconds=90))
    services.voice_note_approve(review_id=decided.pk, reviewer=monitor)
    client.force_login(monitor)

    page = client.get(QUEUE)

    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [older, newer]
    html = page.content.decode()
    assert "<span data-approvals-pending>2</span>" in html
    assert "median 1 min, P90 1 min" in html and "(1 decided)" in html
    assert "4 min" in html and "1:05" in html and "0:01" in html
    assert "layla" in html and "noor" in html
    assert reverse("admin:chat_chatsession_change", args=[reading.pk]) in html
    src = reverse("chat:file", args=[newer.message.attachment.public_id])
    assert f'<audio controls preload="none" src="{src}">' in html
    # The player's address plays for a reviewer (the download view serves Range).
    played = client.get(src, headers={"Range": "bytes=0-99"})
    assert played.status_code == 206


def test_decided_notes_are_listed_under_their_status(
    client, monitor, reading, reader_user, tmp_path
):
    review = held_note(reading, reader_user, tmp_path)
    services.voice_note_reject(review_id=review.pk, reviewer=monitor, reason="Off topic.")
    client.force_login(monitor)

    assert list(client.get(QUEUE).context["cl"].result_list) == []
    rejected = client.get(QUEUE, {"status": "rejected"})
    assert list(rejected.context["cl"].result_list) == [review]


def test_the_detail_page_is_read_only_with_the_player_and_the_decision(
    client, monitor, reading, reader_user, tmp_path
):
    review = held_note(reading, reader_user, tmp_path)
    services.voice_note_reject(review_id=review.pk, reviewer=monitor, reason="Off topic.")
    client.force_login(monitor)

    page = client.get(f"{QUEUE}{review.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert '<audio controls preload="none"' in html
    assert "Off topic." in html and "mona" in html
    assert 'name="_save"' not in html
    assert client.get(f"{QUEUE}add/").status_code == 403
    assert client.post(f"{QUEUE}{review.pk}/delete/").status_code == 403


def test_approve_selected_releases_the_notes(client, monitor, reading, reader_user, tmp_path):
    first = held_note(reading, reader_user, tmp_path)
    second = held_note(reading, reader_user, tmp_path)
    client.force_login(monitor)

    response = act(client, QUEUE, "approve_selected", [first.pk, second.pk])

    assert response.redirect_chain == [(QUEUE, 302)]
    for review in (first, second):
        review.refresh_from_db()
        assert review.status == Decision.APPROVED and review.decided_by == monitor
        assert Message.objects.get(pk=review.message_id).status == Message.Status.SENT
    assert notes(response, messages.SUCCESS) == ["Approved 2 held messages."]


def test_reject_selected_asks_for_a_reason_before_rejecting(
    client, monitor, reading, reader_user, tmp_path
):
    review = held_note(reading, reader_user, tmp_path)
    client.force_login(monitor)

    asked = act(client, QUEUE, "reject_selected", [review.pk])
    blank = reject(client, QUEUE, [review.pk], reason="   ")

    assert asked.redirect_chain == [] and 'name="reason"' in asked.content.decode()
    assert f"Held message #{review.message_id}" in asked.content.decode()
    assert blank.redirect_chain == [] and b"This field is required" in blank.content
    review.refresh_from_db()
    assert review.status == Decision.PENDING

    done = reject(client, QUEUE, [review.pk], reason="Please record it again, it cuts off.")

    assert done.redirect_chain == [(QUEUE, 302)]
    review.refresh_from_db()
    assert review.status == Decision.REJECTED
    assert review.reason == "Please record it again, it cuts off."
    assert Message.objects.get(pk=review.message_id).status == Message.Status.REJECTED


def test_a_note_someone_else_decided_is_a_warning_and_the_rest_proceed(
    client, monitor, admin, reading, reader_user, tmp_path
):
    # The monitor's page still shows both; the admin approves one in the meantime.
    taken = held_note(reading, reader_user, tmp_path)
    left = held_note(reading, reader_user, tmp_path)
    services.voice_note_approve(review_id=taken.pk, reviewer=admin)
    client.force_login(monitor)

    response = reject(client, QUEUE, [taken.pk, left.pk], reason="Not for this reading.")

    taken.refresh_from_db()
    left.refresh_from_db()
    assert (taken.status, taken.decided_by, taken.reason) == (Decision.APPROVED, admin, "")
    assert Message.objects.get(pk=taken.message_id).status == Message.Status.SENT
    assert left.status == Decision.REJECTED
    assert notes(response, messages.WARNING) == [
        f"Held message #{taken.message_id} from noor: This was already approved by adam."
    ]

    again = act(client, QUEUE, "approve_selected", [taken.pk])

    assert notes(again, messages.WARNING) == [
        f"Held message #{taken.message_id} from noor: This was already approved by adam."
    ]
    assert notes(again, messages.SUCCESS) == []
    taken.refresh_from_db()
    assert taken.decided_by == admin


# --- who may do what --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["client_user", "reader_user"])
def test_clients_and_readers_are_sent_to_the_login_page(request, client, persona):
    client.force_login(request.getfixturevalue(persona))

    for url in (QUEUE, APPLICATIONS, CHANGES, REQUEST_CHANGE):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_a_monitor_decides_notes_but_not_applications_or_changes(
    client, monitor, admin, reading, reader_user, tmp_path
):
    review = held_note(reading, reader_user, tmp_path)
    applicant = user_create(role=Role.READER, username="hala")
    application = services.reader_application_submit(user=applicant, about="Tarot, 10 years.")
    change = services.privileged_change_request(
        requester=admin,
        target=reader_user,
        kind=PrivilegedChange.Kind.ROLE_CHANGE,
        new_role=Role.MONITOR,
        justification="Moves to the review team.",
    )
    client.force_login(monitor)

    assert action_names(client.get(QUEUE)) == {"approve_selected", "reject_selected"}
    assert client.get(APPLICATIONS).context["action_form"] is None
    assert client.get(CHANGES).context["action_form"] is None
    assert client.get(REQUEST_CHANGE).status_code == 403
    act(client, APPLICATIONS, "approve_selected", [application.pk])
    act(client, CHANGES, "approve_selected", [change.pk])
    act(client, QUEUE, "approve_selected", [review.pk])

    application.refresh_from_db()
    change.refresh_from_db()
    review.refresh_from_db()
    assert application.status == Decision.PENDING
    assert change.status == Decision.PENDING
    assert review.status == Decision.APPROVED


def test_an_admin_decides_applications_pending_first(client, admin, super_admin):
    earlier = services.reader_application_submit(user=user_create(role=Role.READER), about="A")
    services.reader_application_approve(application_id=earlier.pk, admin=super_admin)
    waiting = services.reader_application_submit(user=user_create(role=Role.READER), about="B")
    doubtful = services.reader_application_submit(user=user_create(role=Role.READER), about="C")
    client.force_login(admin)

    page = client.get(APPLICATIONS)
    act(client, APPLICATIONS, "approve_selected", [waiting.pk])
    reject(client, APPLICATIONS, [doubtful.pk], reason="No experience given.")

    assert list(page.context["cl"].result_list) == [waiting, doubtful, earlier]
    assert action_names(page) == {"approve_selected", "reject_selected"}
    waiting.refresh_from_db()
    doubtful.refresh_from_db()
    assert (waiting.status, waiting.decided_by) == (Decision.APPROVED, admin)
    assert (doubtful.status, doubtful.reason) == (Decision.REJECTED, "No experience given.")


def request_change(client, target: User, **fields):
    return client.post(
        REQUEST_CHANGE,
        {
            "kind": PrivilegedChange.Kind.ROLE_CHANGE,
            "target": target.pk,
            "new_role": Role.MONITOR,
            "justification": "Joins the review team.",
            **fields,
        },
    )


def test_an_admin_requests_a_role_change_but_cannot_approve_it(client, admin, reader_user):
    client.force_login(admin)

    response = request_change(client, reader_user)

    assert response.status_code == 302
    change = PrivilegedChange.objects.get()
    assert (change.requested_by, change.target, change.new_role) == (
        admin,
        reader_user,
        Role.MONITOR,
    )
    assert change.status == Decision.PENDING
    assert client.get(CHANGES).context["action_form"] is None
    act(client, CHANGES, "approve_selected", [change.pk])
    change.refresh_from_db()
    reader_user.refresh_from_db()
    assert change.status == Decision.PENDING and reader_user.role == Role.READER


def test_the_request_form_shows_what_the_service_refuses(client, admin, reader_user):
    client.force_login(admin)

    same_role = request_change(client, reader_user, new_role=Role.READER)
    request_change(client, reader_user)
    twice = request_change(client, reader_user)
    no_reason = request_change(
        client, reader_user, kind=PrivilegedChange.Kind.ERASURE, justification=""
    )

    assert same_role.status_code == 200
    assert "already has this role" in same_role.content.decode()
    assert twice.status_code == 200
    assert "already waiting" in twice.content.decode()
    assert no_reason.status_code == 200 and b"This field is required" in no_reason.content
    assert PrivilegedChange.objects.count() == 1


def test_the_super_admin_who_asked_cannot_approve_and_another_one_can(
    client, super_admin, reader_user
):
    client.force_login(super_admin)
    request_change(client, reader_user)
    change = PrivilegedChange.objects.get()

    refused = act(client, CHANGES, "approve_selected", [change.pk])

    assert notes(refused, messages.WARNING) == [
        f"Request #{change.pk} (change a role of noor): "
        "A different super admin must decide a change you asked for."
    ]
    change.refresh_from_db()
    assert change.status == Decision.PENDING

    other = user_create(role=Role.SUPER_ADMIN, username="zaid")
    client.force_login(other)
    approved = act(client, CHANGES, "approve_selected", [change.pk])

    assert notes(approved, messages.SUCCESS) == ["Approved 1 privileged change."]
    change.refresh_from_db()
    reader_user.refresh_from_db()
    assert (change.status, change.decided_by) == (Decision.APPROVED, other)
    assert reader_user.role == Role.MONITOR and reader_user.is_staff


def test_a_super_admin_rejects_a_change_with_a_reason(client, admin, super_admin, reader_user):
    change = services.privileged_change_request(
        requester=admin,
        target=reader_user,
        kind=PrivilegedChange.Kind.ERASURE,
        justification="Asked to be forgotten.",
    )
    client.force_login(super_admin)

    reject(client, CHANGES, [change.pk], reason="Still has an open dispute.")

    change.refresh_from_db()
    assert (change.status, change.reason) == (Decision.REJECTED, "Still has an open dispute.")
    assert User.objects.filter(pk=reader_user.pk, is_active=True).exists()


# --- the user page ----------------------------------------------------------------------------


def test_the_role_is_read_only_and_the_user_page_links_to_a_change_request(
    client, super_admin, reader_user
):
    client.force_login(super_admin)
    url = f"/admin/samia_chat/user/{reader_user.pk}/change/"

    page = client.get(url)
    html = page.content.decode()
    saved = client.post(
        url,
        {
            "username": reader_user.username,
            "display_name": "Noor",
            "date_joined_0": "2025-01-01",
            "date_joined_1": "10:00:00",
            "is_active": "on",
            "role": Role.SUPER_ADMIN,
            "is_staff": "on",
            "is_superuser": "on",
        },
    )

    assert 'name="role"' not in html and 'name="is_superuser"' not in html
    assert f"{REQUEST_CHANGE}?target={reader_user.pk}" in html
    assert saved.status_code == 302
    reader_user.refresh_from_db()
    assert reader_user.role == Role.READER
    assert not reader_user.is_superuser and not reader_user.is_staff
    prefilled = client.get(REQUEST_CHANGE, {"target": reader_user.pk})
    assert prefilled.context["adminform"].form["target"].value() == str(reader_user.pk)


def test_a_new_account_can_only_be_a_client_or_a_reader(client, super_admin):
    client.force_login(super_admin)
    account = {"username": "newbie", "usable_password": "false"}

    staff = client.post("/admin/samia_chat/user/add/", {**account, "role": Role.ADMIN})
    reader = client.post("/admin/samia_chat/user/add/", {**account, "role": Role.READER})

    assert staff.status_code == 200 and b"Select a valid choice" in staff.content
    assert reader.status_code == 302
    assert User.objects.get(username="newbie").role == Role.READER
