"""Reader applications (sign-up, the gate on sessions and calls) and privileged changes
(a different super admin approves; erasure anonymises and removes files)."""

import pytest
from django.test import Client

from approvals import services
from approvals.models import PrivilegedChange, ReaderApplication
from chat import emergency
from chat.models import Attachment, Message
from chat.selectors import readers_for_assignment
from chat.services import session_open
from samia_chat.errors import ServiceError
from samia_chat.models import AccessEvent, Role, User
from samia_chat.realtime import user_group
from tests.factories import message_create, user_create

PASSWORD = "a-long-signup-password-42"


def _signup(**fields):
    form = {
        "username": "nadia",
        "display_name": "Nadia",
        "email": "nadia@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "role": "client",
        "about": "",
        "accept_terms": "on",
        "voice_consent": "on",
        **fields,
    }
    browser = Client()
    return browser, browser.post("/signup/", form)


def _code(call) -> str:
    with pytest.raises(ServiceError) as refused:
        call()
    return refused.value.code


@pytest.mark.django_db
def test_a_client_signs_up_and_lands_in_the_app_signed_in():
    browser, response = _signup()

    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(username="nadia")
    assert user.role == Role.CLIENT and not ReaderApplication.objects.exists()
    assert browser.get("/").status_code == 200


@pytest.mark.django_db
def test_a_reader_who_signs_up_is_an_applicant():
    _, response = _signup(role="reader", about="Twenty years of Marseille tarot.")

    assert response.status_code == 302
    application = ReaderApplication.objects.get(user__username="nadia")
    assert application.status == "pending"
    assert application.about == "Twenty years of Marseille tarot."


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"role": "admin"},
        {"role": "super_admin"},
        {"role": "reader", "about": ""},
        {"password2": "something-else-entirely"},
    ],
    ids=["staff-role", "super-admin", "reader-without-about", "passwords-differ"],
)
def test_a_bad_sign_up_is_refused_and_creates_nothing(fields):
    _, response = _signup(**fields)

    assert response.status_code == 200
    assert b"form-error" in response.content
    assert not User.objects.filter(username="nadia").exists()


@pytest.mark.django_db
def test_an_applicant_cannot_be_put_in_a_session_go_on_call_or_be_assigned(admin, client_user):
    applicant = user_create(role=Role.READER, username="amal")
    application = services.reader_application_submit(user=applicant, about="Lenormand")

    assert (
        _code(
            lambda: session_open(
                opened_by=admin, client=client_user, reader=applicant, booking_ref="B1"
            )
        )
        == "INVALID_MEMBER"
    )
    assert _code(lambda: emergency.on_call_set(reader=applicant, on_call=True)) == (
        "READER_NOT_APPROVED"
    )
    assert applicant.pk not in {r["id"] for r in readers_for_assignment()}

    services.reader_application_approve(application_id=application.pk, admin=admin)
    applicant.refresh_from_db()

    session_open(opened_by=admin, client=client_user, reader=applicant, booking_ref="B1")
    assert emergency.on_call_set(reader=applicant, on_call=True).on_call is True
    assert applicant.pk in {r["id"] for r in readers_for_assignment()}


@pytest.mark.django_db
def test_a_rejected_applicant_stays_out_and_is_told_why(admin, monitor, listen, after_commit):
    applicant = user_create(role=Role.READER, username="amal")
    application = services.reader_application_submit(user=applicant)
    probe = listen(user_group(applicant.pk))

    assert (
        _code(
            lambda: services.reader_application_approve(
                application_id=application.pk, admin=monitor
            )
        )
        == "NOT_AN_ADMIN"
    )
    with after_commit():
        services.reader_application_reject(
            application_id=application.pk, admin=admin, reason="No references given."
        )

    event = probe.receive_event()
    assert (event["subject"], event["status"], event["reason"]) == (
        "reader_application",
        "rejected",
        "No references given.",
    )
    assert _code(lambda: emergency.on_call_set(reader=applicant, on_call=True)) == (
        "READER_NOT_APPROVED"
    )
    assert (
        _code(
            lambda: services.reader_application_approve(application_id=application.pk, admin=admin)
        )
        == "ALREADY_DECIDED"
    )


# --- privileged changes -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_role_grant_takes_effect_only_when_a_different_super_admin_approves(
    admin, super_admin, client_user
):
    change = services.privileged_change_request(
        requester=admin,
        target=client_user,
        kind=PrivilegedChange.Kind.ROLE_CHANGE,
        new_role=Role.MONITOR,
        justification="Joins the moderation team.",
    )
    client_user.refresh_from_db()
    assert client_user.role == Role.CLIENT

    services.privileged_change_approve(change_id=change.pk, approver=super_admin)

    client_user.refresh_from_db()
    assert client_user.role == Role.MONITOR and client_user.is_staff
    assert AccessEvent.objects.filter(action="role_changed", actor=super_admin).exists()


@pytest.mark.django_db
def test_the_requester_cannot_approve_their_own_change(super_admin, client_user):
    change = services.privileged_change_request(
        requester=super_admin,
        target=client_user,
        kind=PrivilegedChange.Kind.ROLE_CHANGE,
        new_role=Role.ADMIN,
        justification="Promotion.",
    )

    assert (
        _code(lambda: services.privileged_change_approve(change_id=change.pk, approver=super_admin))
        == "SAME_PERSON"
    )
    client_user.refresh_from_db()
    assert client_user.role == Role.CLIENT


@pytest.mark.django_db
def test_who_may_ask_and_who_may_decide(monitor, admin, super_admin, client_user):
    def ask(requester):
        return services.privileged_change_request(
            requester=requester,
            target=client_user,
            kind=PrivilegedChange.Kind.ROLE_CHANGE,
            new_role=Role.ADMIN,
            justification="Needed.",
        )

    assert _code(lambda: ask(monitor)) == "NOT_AN_ADMIN"
    change = ask(admin)
    assert _code(lambda: ask(admin)) == "ALREADY_REQUESTED"
    other_admin = user_create(role=Role.ADMIN, username="second-admin")
    assert (
        _code(lambda: services.privileged_change_approve(change_id=change.pk, approver=other_admin))
        == "NOT_A_SUPER_ADMIN"
    )
    services.privileged_change_reject(change_id=change.pk, approver=super_admin, reason="No.")
    assert (
        _code(lambda: services.privileged_change_approve(change_id=change.pk, approver=super_admin))
        == "ALREADY_DECIDED"
    )


@pytest.mark.django_db
def test_an_approved_erasure_anonymises_the_account_and_tombstones_its_messages(
    api, reading, client_user, reader_user, admin, super_admin, tmp_path, file_store, after_commit
):
    from tests.samples import audio as samples

    note = samples.sine_file(tmp_path, container="webm", seconds=1.0)
    voice = api(client_user).upload(f"/api/sessions/{reading.pk}/voice", note, client_msg_id="e1")
    assert voice.status_code == 201
    text = message_create(session=reading, sender=client_user, body="My birth date is ...")
    kept = message_create(session=reading, sender=reader_user, body="Thank you.")
    change = services.privileged_change_request(
        requester=admin,
        target=client_user,
        kind=PrivilegedChange.Kind.ERASURE,
        justification="The client asked to be forgotten.",
    )

    with after_commit():
        services.privileged_change_approve(change_id=change.pk, approver=super_admin)

    client_user.refresh_from_db()
    assert client_user.username == f"deleted-{client_user.pk}"
    assert client_user.display_name == "Deleted user"
    assert (client_user.email, client_user.is_active) == ("", False)
    assert not client_user.has_usable_password()
    assert set(Message.objects.filter(sender=client_user).values_list("status", flat=True)) == {
        "deleted"
    }
    assert Message.objects.get(pk=text.pk).body == ""
    assert Message.objects.get(pk=kept.pk).body == "Thank you."
    assert not Attachment.objects.filter(uploaded_by=client_user).exists()
    assert [p for p in file_store.rglob("*") if p.is_file()] == []
    assert AccessEvent.objects.filter(action="erasure", actor=super_admin).exists()
