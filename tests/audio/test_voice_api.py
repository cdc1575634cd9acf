"""Sending voice notes through the API: decoded, measured, stored as AAC in M4A, and
charged against a client's allowance by their true length."""

import io

import av
import pytest

from chat.models import Attachment, ChatSession, Message
from samia_chat.realtime import session_group
from tests.factories import session_create
from tests.samples import audio as samples


def voice_url(session) -> str:
    return f"/api/sessions/{session.pk}/voice"


def stored_objects(file_store) -> list:
    return [p for p in file_store.rglob("*") if p.is_file()]


@pytest.mark.parametrize("container", ["webm", "mp4"])
def test_a_recording_becomes_an_aac_voice_note_with_its_true_duration(
    api, reading, reader_user, client_user, tmp_path, container, listen, after_commit
):
    # Chromium and Firefox record Opus in WebM, Safari AAC in MP4: both must work. (A
    # client's note: a reader's waits for review, tests/approvals.)
    note = samples.sine_file(tmp_path, container=container, seconds=2.0)
    probe = listen(session_group(reading.pk))

    with after_commit():
        response = api(client_user).upload(voice_url(reading), note, client_msg_id="v1")

    assert response.status_code == 201, response.content
    message = response.json()
    attachment = message["attachment"]
    assert message["kind"] == "voice"
    assert attachment["content_type"] == "audio/mp4"
    assert abs(attachment["duration_ms"] - 2000) <= 60
    assert len(attachment["waveform"]) == 64 and max(attachment["waveform"]) == 100
    assert probe.receive_event()["message"]["attachment"] == attachment

    downloaded, body = api(reader_user).download(attachment["url"])
    assert downloaded["Content-Disposition"].startswith("inline;")
    with av.open(io.BytesIO(body)) as played:
        stream = played.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert "mp4" in played.format.name


def test_a_retried_voice_note_answers_200_and_stores_once(
    api, reading, client_user, tmp_path, file_store
):
    note = samples.sine_file(tmp_path, container="webm", seconds=1.0)
    first = api(client_user).upload(voice_url(reading), note, client_msg_id="v2")
    again = api(client_user).upload(voice_url(reading), note, client_msg_id="v2")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert len(stored_objects(file_store)) == 1


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda d: samples.empty_file(d), 400, "EMPTY_FILE"),
        (lambda d: samples.long_note(d, seconds=360), 400, "AUDIO_TOO_LONG"),
        (
            lambda d: samples.truncated(samples.sine_file(d, container="mp4"), 0.3),
            400,
            "INVALID_AUDIO",
        ),
        (lambda d: samples.wav_header_over_random_bytes(d), 400, "INVALID_AUDIO"),
        (
            lambda d: samples.text_file(d, "page.webm", "<html><body>hi</body></html>"),
            415,
            "UNSUPPORTED_TYPE",
        ),
    ],
    ids=["empty", "six minutes", "truncated mp4", "wav over random bytes", "html as webm"],
)
def test_what_is_not_a_playable_recording_is_refused_and_nothing_is_stored(
    api, code_of, reading, client_user, tmp_path, file_store, make, status, code
):
    response = api(client_user).upload(voice_url(reading), make(tmp_path), client_msg_id="bad")

    assert response.status_code == status, response.content
    assert code_of(response) == code
    assert stored_objects(file_store) == []
    assert not Message.objects.filter(session=reading).exists()


def test_a_clients_voice_allowance_counts_true_seconds_and_readers_have_none(
    api, code_of, client_user, reader_user, tmp_path
):
    session = session_create(client=client_user, reader=reader_user, client_voice_quota_seconds=3)
    note = samples.sine_file(tmp_path, container="webm", seconds=2.0)

    assert api(client_user).upload(voice_url(session), note, client_msg_id="a").status_code == 201
    refused = api(client_user).upload(voice_url(session), note, client_msg_id="b")
    reader = api(reader_user).upload(voice_url(session), note, client_msg_id="c")

    assert refused.status_code == 409 and code_of(refused) == "QUOTA_EXCEEDED"
    assert reader.status_code == 201
    assert ChatSession.objects.get(pk=session.pk).client_voice_seconds_used == 2


def test_voice_notes_past_their_rate_are_a_429(
    api, code_of, settings, fresh_rate_window, reading, client_user, tmp_path
):
    settings.CHAT = {**settings.CHAT, "RATE_VOICE_NOTES": "1/m"}
    fresh_rate_window(group="voice", key=f"user:{client_user.pk}", rate="1/m")
    note = samples.sine_file(tmp_path, container="webm", seconds=0.5)
    api(client_user).upload(voice_url(reading), note, client_msg_id="r1")

    response = api(client_user).upload(voice_url(reading), note, client_msg_id="r2")

    assert response.status_code == 429 and code_of(response) == "RATE_LIMITED"
    assert Attachment.objects.count() == 1


def test_outsiders_cannot_send_voice_notes(api, reading, outsider, tmp_path):
    note = samples.sine_file(tmp_path, container="webm", seconds=0.5)
    assert api(outsider).upload(voice_url(reading), note, client_msg_id="o").status_code == 404
