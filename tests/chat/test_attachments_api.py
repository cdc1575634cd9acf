"""Sending files through the API: what is stored, what is refused, and that a refusal or
a failure leaves nothing behind."""

import io
import os

import pytest
from PIL import Image

from chat.models import Attachment, ChatSession, Message
from samia_chat.realtime import session_group
from tests.factories import message_create, session_create
from tests.samples import files as samples


def files_url(session) -> str:
    return f"/api/sessions/{session.pk}/files"


def stored_objects(file_store) -> list[str]:
    return sorted(str(p.relative_to(file_store)) for p in file_store.rglob("*") if p.is_file())


@pytest.fixture
def png(tmp_path):
    return samples.image_file(tmp_path, "PNG", (640, 480))


def test_an_image_answers_201_with_its_attachment_and_is_broadcast(
    api, reading, client_user, png, listen, after_commit, file_store
):
    probe = listen(session_group(reading.pk))
    with after_commit():
        response = api(client_user).upload(files_url(reading), png, client_msg_id="img-1")

    assert response.status_code == 201, response.content
    message = response.json()
    attachment = message["attachment"]
    assert message["kind"] == "image"
    assert attachment["kind"] == "image"
    assert attachment["content_type"] == "image/png"
    assert (attachment["width"], attachment["height"]) == (640, 480)
    assert attachment["name"] == "image.png"
    assert attachment["url"] == f"/files/{attachment['id']}"
    event = probe.receive_event()
    assert event["type"] == "message.created"
    assert event["message"]["attachment"] == attachment
    # The object in the store is keyed by session and sealed: no PNG signature in it.
    [key] = stored_objects(file_store)
    assert key.startswith(f"{reading.pk}/")
    assert b"\x89PNG" not in (file_store / key).read_bytes()
    assert ChatSession.objects.get(pk=reading.pk).images_used == 1


def test_a_retried_upload_answers_200_with_the_first_message_and_stores_nothing_more(
    api, reading, client_user, png, file_store
):
    first = api(client_user).upload(files_url(reading), png, client_msg_id="img-2")
    again = api(client_user).upload(files_url(reading), png, client_msg_id="img-2")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Attachment.objects.count() == 1
    assert len(stored_objects(file_store)) == 1


def test_a_pdf_and_a_text_file_are_sent_as_files(api, reading, reader_user, tmp_path):
    pdf = api(reader_user).upload(
        files_url(reading), samples.pdf_file(tmp_path), client_msg_id="pdf-1"
    )
    note = samples.text_file(tmp_path, "The Star: hope.\n", name="spread.txt")
    text = api(reader_user).upload(files_url(reading), note, client_msg_id="txt-1")

    assert pdf.status_code == 201 and text.status_code == 201
    assert pdf.json()["kind"] == "file"
    assert pdf.json()["attachment"]["content_type"] == "application/pdf"
    assert text.json()["attachment"]["content_type"] == "text/plain; charset=utf-8"
    assert text.json()["attachment"]["name"] == "spread.txt"


def _hostile(tmp_path, which: str):
    return {
        "empty": lambda: samples.empty_file(tmp_path),
        "html as png": lambda: samples.html_renamed(tmp_path),
        "svg with script": lambda: samples.svg_with_script(tmp_path),
        "zip as pdf": lambda: samples.zip_renamed_pdf(tmp_path),
        "elf": lambda: samples.elf_binary(tmp_path),
        "pe": lambda: samples.pe_binary(tmp_path),
        "latin-1 text": lambda: samples.latin1_text(tmp_path),
        "truncated jpeg": lambda: samples.truncated_image(tmp_path, "JPEG"),
    }[which]()


@pytest.mark.parametrize(
    ("which", "status", "code"),
    [
        ("empty", 400, "EMPTY_FILE"),
        ("html as png", 415, "UNSUPPORTED_TYPE"),
        ("svg with script", 415, "UNSUPPORTED_TYPE"),
        ("zip as pdf", 415, "UNSUPPORTED_TYPE"),
        ("elf", 415, "UNSUPPORTED_TYPE"),
        ("pe", 415, "UNSUPPORTED_TYPE"),
        ("latin-1 text", 415, "UNSUPPORTED_TYPE"),
        ("truncated jpeg", 400, "INVALID_IMAGE"),
    ],
)
def test_a_hostile_file_is_refused_and_nothing_is_stored(
    api, code_of, reading, client_user, tmp_path, file_store, which, status, code
):
    response = api(client_user).upload(
        files_url(reading), _hostile(tmp_path, which), client_msg_id="bad-1"
    )

    assert response.status_code == status, response.content
    assert code_of(response) == code
    assert not Message.objects.filter(session=reading).exists()
    assert not Attachment.objects.exists()
    assert stored_objects(file_store) == []


def test_a_file_over_10_mb_is_a_413_and_nothing_is_stored(
    api, code_of, reading, client_user, tmp_path, file_store
):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(11 * 1024 * 1024))

    response = api(client_user).upload(files_url(reading), big, client_msg_id="big-1")

    assert response.status_code == 413
    assert code_of(response) == "FILE_TOO_LARGE"
    assert stored_objects(file_store) == []
    assert not Message.objects.filter(session=reading).exists()


def test_an_upload_without_a_file_is_a_400(api, code_of, reading, client_user):
    response = api(client_user).upload(files_url(reading), None, client_msg_id="none-1")
    assert response.status_code == 400
    assert code_of(response) == "FILE_REQUIRED"


def test_a_malformed_client_msg_id_is_refused_before_anything_is_read(
    api, code_of, reading, client_user, png, file_store
):
    response = api(client_user).upload(files_url(reading), png, client_msg_id="no spaces")
    assert code_of(response) == "INVALID_CLIENT_MSG_ID"
    assert stored_objects(file_store) == []


def test_outsiders_get_404_and_staff_get_403_read_only(
    api, code_of, reading, outsider, monitor, png
):
    assert api(outsider).upload(files_url(reading), png, client_msg_id="x").status_code == 404
    staff = api(monitor).upload(files_url(reading), png, client_msg_id="x")
    assert staff.status_code == 403 and code_of(staff) == "READ_ONLY"


def test_the_image_quota_of_the_session_is_enforced(
    api, code_of, client_user, reader_user, png, file_store
):
    session = session_create(client=client_user, reader=reader_user, image_quota=1)
    assert api(client_user).upload(files_url(session), png, client_msg_id="q1").status_code == 201

    refused = api(reader_user).upload(files_url(session), png, client_msg_id="q2")

    assert refused.status_code == 409 and code_of(refused) == "QUOTA_EXCEEDED"
    assert len(stored_objects(file_store)) == 1


@pytest.mark.parametrize("status", ["paused", "locked", "ended"])
def test_uploading_to_an_inactive_session_is_a_409(
    api, code_of, client_user, reader_user, png, status
):
    session = session_create(client=client_user, reader=reader_user, status=status)
    response = api(client_user).upload(files_url(session), png, client_msg_id="s1")
    assert response.status_code == 409 and code_of(response) == "SESSION_INACTIVE"


def test_uploads_past_the_rate_are_a_429_with_retry_after(
    api, code_of, settings, fresh_rate_window, reading, client_user, png
):
    settings.CHAT = {**settings.CHAT, "RATE_UPLOADS": "2/m"}
    fresh_rate_window(group="uploads", key=f"user:{client_user.pk}", rate="2/m")
    for n in range(2):
        api(client_user).upload(files_url(reading), png, client_msg_id=f"r{n}")

    response = api(client_user).upload(files_url(reading), png, client_msg_id="r3")

    assert response.status_code == 429 and code_of(response) == "RATE_LIMITED"
    assert int(response["Retry-After"]) >= 1


def test_when_the_database_write_fails_the_stored_file_is_removed(
    api, code_of, reading, client_user, png, file_store
):
    # A reply to a message of another session is refused inside the transaction, after
    # the encrypted file was already written.
    other = session_create(client=client_user, reader=reading.memberships.last().user)
    foreign = message_create(session=other, sender=client_user)

    response = api(client_user).upload(
        files_url(reading), png, client_msg_id="rb-1", reply_to=foreign.pk
    )

    assert code_of(response) == "INVALID_REPLY"
    assert stored_objects(file_store) == []
    assert not Attachment.objects.exists()


def test_an_image_comes_back_re_encoded_without_its_metadata(api, reading, client_user, tmp_path):
    source = samples.jpeg_with_payload(tmp_path)
    sent = api(client_user).upload(files_url(reading), source, client_msg_id="j1").json()

    _, body = api(client_user).download(sent["attachment"]["url"])

    assert b"<?php" not in body
    image = Image.open(io.BytesIO(body))
    assert image.format == "JPEG"
    assert not image.getexif()


def test_a_client_msg_id_spent_on_a_text_cannot_be_replayed_as_an_upload(
    api, code_of, reading, client_user, png, file_store
):
    message_create(session=reading, sender=client_user, client_msg_id="same-1")

    response = api(client_user).upload(files_url(reading), png, client_msg_id="same-1")

    assert response.status_code == 409 and code_of(response) == "CLIENT_MSG_ID_REUSED"
    assert stored_objects(file_store) == []
