"""Staff watch live sessions in the admin and read a conversation read-only (audited)."""

import re

import pytest
from django.test import Client

from chat.models import Attachment, ChatSession, Message
from samia_chat.models import AccessEvent, Role
from tests.factories import message_create, session_create, user_create

pytestmark = pytest.mark.django_db


def conversation_url(session: ChatSession) -> str:
    return f"/admin/chat/chatsession/{session.pk}/conversation/"


def staff_reads(session: ChatSession):
    return AccessEvent.objects.filter(
        action=AccessEvent.Action.STAFF_READ,
        target_type="chat.chatsession",
        target_id=str(session.pk),
    )


def voice_note(session: ChatSession, sender) -> Message:
    attachment = Attachment.objects.create(
        session=session, uploaded_by=sender, kind=Attachment.Kind.VOICE,
        content_type="audio/ogg", name="note.ogg", size_bytes=2048,
        storage_key=f"test/{session.pk}/note", key_id="k1", wrapped_key=b"x" * 40,
        duration_ms=4200,
    )  # fmt: skip
    return Message.objects.create(
        session=session, sender=sender, kind=Message.Kind.VOICE, attachment=attachment
    )


# --- the list of sessions ---------------------------------------------------------------


def test_the_session_list_puts_live_sessions_first_with_members_and_counts(
    client, monitor, client_user, reader_user
):
    ended = session_create(client=client_user, reader=reader_user, status="ended")
    paused = session_create(client=client_user, reader=reader_user, status="paused")
    active = session_create(client=client_user, reader=reader_user)
    for _ in range(3):
        message_create(session=active, sender=client_user)
    # The ended session was active last, but it is not live.
    ChatSession.objects.filter(pk=ended.pk).update(last_activity_at=active.last_activity_at)
    client.force_login(monitor)

    page = client.get("/admin/chat/chatsession/")

    assert page.status_code == 200
    text = page.content.decode()
    order = [int(pk) for pk in re.findall(r"/admin/chat/chatsession/(\d+)/conversation/", text)]
    assert order == [active.pk, paused.pk, ended.pk]
    assert "Layla (Client), Noor (Reader)" in text
    assert re.search(r'<td class="field-message_count">3</td>', text)


def test_a_member_search_does_not_multiply_the_message_count(client, admin, reading, client_user):
    message_create(session=reading, sender=client_user)
    client.force_login(admin)

    text = client.get("/admin/chat/chatsession/", {"q": "layla"}).content.decode()

    assert re.search(r'<td class="field-message_count">1</td>', text)


def test_the_change_page_links_the_conversation(client, admin, reading):
    client.force_login(admin)
    page = client.get(f"/admin/chat/chatsession/{reading.pk}/change/")
    assert conversation_url(reading).encode() in page.content


# --- the conversation -------------------------------------------------------------------


def test_reading_a_conversation_shows_its_messages(
    client, monitor, reading, client_user, reader_user
):
    message_create(session=reading, sender=client_user, body="Will I find a new job?")
    message_create(session=reading, sender=reader_user, body="The Star says: soon.")
    voice_note(reading, reader_user)
    client.force_login(monitor)

    page = client.get(conversation_url(reading))

    assert page.status_code == 200
    text = page.content.decode()
    assert "Will I find a new job?" in text and "The Star says: soon." in text
    assert text.index("Will I find a new job?") < text.index("The Star says: soon.")
    assert "Layla" in text and "Noor" in text
    assert re.search(r'<audio controls preload="none" src="/files/[\w-]+">', text)
    assert "read-only, and recorded in the audit log" in text


def test_each_view_of_a_conversation_writes_one_staff_read(client, monitor, reading):
    client.force_login(monitor)

    client.get(conversation_url(reading))
    assert staff_reads(reading).count() == 1
    client.get(conversation_url(reading))

    assert staff_reads(reading).count() == 2
    assert set(staff_reads(reading).values_list("actor", flat=True)) == {monitor.pk}


def test_staff_see_held_and_redacted_messages_for_what_they_are(
    client, admin, reading, reader_user
):
    Message.objects.create(
        session=reading, sender=reader_user, body="Held words", status="pending_review"
    )
    Message.objects.create(
        session=reading, sender=reader_user, body="Gone words", status="redacted"
    )
    client.force_login(admin)

    text = client.get(conversation_url(reading)).content.decode()

    assert "Held words" in text and "pending_review" in text
    assert "Gone words" not in text and "Message redacted." in text


def test_older_messages_are_a_page_away(client, admin, reading, client_user, settings):
    settings.CHAT = {**settings.CHAT, "PAGE_MAX": 2}
    first = message_create(session=reading, sender=client_user, body="first words")
    for body in ("second words", "third words"):
        message_create(session=reading, sender=client_user, body=body)
    client.force_login(admin)

    newest = client.get(conversation_url(reading)).content.decode()
    older = client.get(conversation_url(reading), {"before": first.pk + 1}).content.decode()

    assert "first words" not in newest and "third words" in newest
    assert "Older messages" in newest
    assert "first words" in older


def test_an_unknown_session_is_not_found(client, admin):
    client.force_login(admin)
    assert client.get("/admin/chat/chatsession/999999/conversation/").status_code == 404


def test_participants_cannot_reach_the_console(client, client_user, reading):
    client.force_login(client_user)
    assert client.get(conversation_url(reading)).status_code == 302
    assert not staff_reads(reading).exists()


# --- status buttons ---------------------------------------------------------------------


def test_the_page_offers_the_status_changes_the_session_allows(client, admin, reading):
    client.force_login(admin)

    text = client.get(conversation_url(reading)).content.decode()

    buttons = re.findall(r'name="action" value="(\w+)"', text)
    assert buttons == ["pause", "lock", "end"]
    assert "csrfmiddlewaretoken" in text


@pytest.mark.parametrize(
    ("action", "start", "end"),
    [
        ("pause", "active", "paused"),
        ("resume", "paused", "active"),
        ("lock", "active", "locked"),
        ("end", "paused", "ended"),
    ],
)
def test_a_status_button_changes_the_session(
    client, monitor, client_user, reader_user, action, start, end
):
    session = session_create(client=client_user, reader=reader_user, status=start)
    client.force_login(monitor)

    response = client.post(f"{conversation_url(session)}status/", {"action": action})

    assert response.status_code == 302
    assert response["Location"] == conversation_url(session)
    session.refresh_from_db()
    assert session.status == end
    event = AccessEvent.objects.get(action=AccessEvent.Action.SESSION_STATUS)
    assert event.actor == monitor and event.detail == {"from": start, "to": end}
    assert session.messages.filter(kind=Message.Kind.SYSTEM).exists()


def test_a_status_change_the_session_does_not_allow_is_refused(client, admin, client_user):
    session = session_create(
        client=client_user, reader=user_create(role=Role.READER), status="ended"
    )
    client.force_login(admin)

    response = client.post(f"{conversation_url(session)}status/", {"action": "resume"}, follow=True)

    session.refresh_from_db()
    assert session.status == "ended"
    assert b"session cannot be" in response.content


def test_status_changes_need_a_post_with_the_csrf_token(client, admin, reading):
    client.force_login(admin)
    assert client.get(f"{conversation_url(reading)}status/").status_code == 405

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin)
    assert (
        strict.post(f"{conversation_url(reading)}status/", {"action": "pause"}).status_code == 403
    )
    reading.refresh_from_db()
    assert reading.status == "active"


def test_the_list_actions_still_change_status(client, admin, reading):
    client.force_login(admin)

    client.post(
        "/admin/chat/chatsession/", {"action": "lock_sessions", "_selected_action": [reading.pk]}
    )

    reading.refresh_from_db()
    assert reading.status == "locked"
