"""Downloading attachments: only the people in the conversation (and staff, audited) get
the bytes, decrypted, with ranges for seeking and headers that keep browsers safe."""

import pytest

from chat import removal
from chat.models import Message
from samia_chat.models import AccessEvent
from samia_chat.tokens import token_pair_issue
from tests.samples import files as samples

TEXT = "".join(f"line {n:04d}: the Wheel of Fortune turns.\n" for n in range(2000))


@pytest.fixture
def sent_text(api, reading, reader_user, tmp_path):
    """A text file of about 80 KB (two encryption chunks) sent by the reader."""
    path = samples.text_file(tmp_path, TEXT, name="reading notes.txt")
    response = api(reader_user).upload(
        f"/api/sessions/{reading.pk}/files", path, client_msg_id="notes-1"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_a_member_downloads_the_exact_bytes_with_safe_headers(api, client_user, sent_text):
    response, body = api(client_user).download(sent_text["attachment"]["url"])

    assert response.status_code == 200
    assert body == TEXT.encode()
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Length"] == str(len(TEXT))
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Disposition"] == 'attachment; filename="reading notes.txt"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=10-19", 10, 19),
        ("bytes=65530-65545", 65530, 65545),
        ("bytes=70000-", 70000, len(TEXT) - 1),
        ("bytes=-25", len(TEXT) - 25, len(TEXT) - 1),
        ("bytes=100-999999999", 100, len(TEXT) - 1),
    ],
)
def test_a_range_request_returns_exactly_the_bytes_asked_for(
    api, client_user, sent_text, header, start, end
):
    response, body = api(client_user).download(sent_text["attachment"]["url"], Range=header)

    assert response.status_code == 206
    assert body == TEXT.encode()[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(TEXT)}"
    assert response["Content-Length"] == str(end - start + 1)


def test_a_range_past_the_end_is_a_416(api, code_of, client_user, sent_text):
    response, _ = api(client_user).download(
        sent_text["attachment"]["url"], Range=f"bytes={len(TEXT)}-"
    )
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(TEXT)}"
    assert code_of(response) == "RANGE_NOT_SATISFIABLE"


def test_several_ranges_at_once_get_the_whole_file(api, client_user, sent_text):
    response, body = api(client_user).download(
        sent_text["attachment"]["url"], Range="bytes=0-1,5-6"
    )
    assert response.status_code == 200 and body == TEXT.encode()


def test_images_are_shown_inline(api, reading, client_user, reader_user, tmp_path):
    png = samples.image_file(tmp_path, "PNG", (40, 30))
    sent = api(client_user).upload(f"/api/sessions/{reading.pk}/files", png, client_msg_id="i")
    response, body = api(reader_user).download(sent.json()["attachment"]["url"])
    assert response["Content-Disposition"] == 'inline; filename="image.png"'
    assert body.startswith(b"\x89PNG")


def test_an_app_downloads_with_a_bearer_token(api, client_user, sent_text):
    token = token_pair_issue(user=client_user)["access"]
    response, body = api().download(sent_text["attachment"]["url"], Authorization=f"Bearer {token}")
    assert response.status_code == 200 and body == TEXT.encode()


def test_a_bad_bearer_token_is_a_401(api, code_of, sent_text):
    response, _ = api().download(sent_text["attachment"]["url"], Authorization="Bearer nope")
    assert response.status_code == 401 and code_of(response) == "TOKEN_INVALID"


def test_outsiders_and_anonymous_visitors_get_404(
    api, code_of, sent_text, outsider, outsider_reader
):
    url = sent_text["attachment"]["url"]
    for caller in (api(outsider), api(outsider_reader), api()):
        response, body = caller.download(url)
        assert response.status_code == 404
        assert code_of(response) == "NOT_FOUND"
        assert TEXT.encode()[:20] not in body


def test_an_unknown_file_id_is_the_same_404(api, code_of, client_user):
    response, _ = api(client_user).download("/files/doesnotexist")
    assert response.status_code == 404 and code_of(response) == "NOT_FOUND"


def test_a_staff_download_is_audited_and_a_members_is_not(api, monitor, client_user, sent_text):
    api(client_user).download(sent_text["attachment"]["url"])
    assert not AccessEvent.objects.filter(action=AccessEvent.Action.DOWNLOAD).exists()

    response, body = api(monitor).download(sent_text["attachment"]["url"], Range="bytes=0-9")

    assert response.status_code == 206 and body == TEXT.encode()[:10]
    event = AccessEvent.objects.get(action=AccessEvent.Action.DOWNLOAD)
    assert event.actor == monitor
    assert event.detail == {"session": sent_text["session_id"], "range": [0, 9]}


def test_a_held_voice_note_reaches_only_its_sender_and_staff(
    api, reading, reader_user, client_user, monitor, sent_text
):
    # The review gate (approvals) holds a reader's note by this status.
    Message.objects.filter(pk=sent_text["id"]).update(status=Message.Status.PENDING_REVIEW)
    url = sent_text["attachment"]["url"]

    assert api(client_user).download(url)[0].status_code == 404
    assert api(reader_user).download(url)[0].status_code == 200
    assert api(monitor).download(url)[0].status_code == 200


def test_deleting_the_message_removes_the_file(
    api, reader_user, client_user, sent_text, file_store, after_commit
):
    message = Message.objects.get(pk=sent_text["id"])
    [stored] = [p for p in file_store.rglob("*") if p.is_file()]

    with after_commit():
        deleted = api(reader_user).delete(f"/api/messages/{message.pk}")

    assert deleted.status_code == 200
    assert deleted.json()["attachment"] is None
    assert not stored.exists()
    assert api(client_user).download(sent_text["attachment"]["url"])[0].status_code == 404


def test_redacting_the_message_removes_the_file(monitor, sent_text, file_store, after_commit):
    message = Message.objects.get(pk=sent_text["id"])
    [stored] = [p for p in file_store.rglob("*") if p.is_file()]

    with after_commit():
        removal.message_redact(message=message, user=monitor, reason="Personal data")

    assert not stored.exists()
    message.refresh_from_db()
    assert message.attachment_id is None and message.status == Message.Status.REDACTED


def test_staff_reach_an_attachment_from_the_admin_message_page(client, monitor, sent_text):
    client.force_login(monitor)
    page = client.get(f"/admin/chat/message/{sent_text['id']}/change/")

    assert page.status_code == 200
    assert sent_text["attachment"]["url"].encode() in page.content
    assert b"reading notes.txt" in page.content


def test_a_malformed_range_is_ignored_and_the_whole_file_sent(api, client_user, sent_text):
    response, body = api(client_user).download(sent_text["attachment"]["url"], Range="bytes=5-3")
    assert response.status_code == 200 and body == TEXT.encode()


def test_a_bearer_token_wins_over_the_browser_session(client, code_of, client_user, sent_text):
    client.force_login(client_user)
    response = client.get(sent_text["attachment"]["url"], headers={"Authorization": "Bearer x"})
    assert response.status_code == 401 and code_of(response) == "TOKEN_INVALID"
