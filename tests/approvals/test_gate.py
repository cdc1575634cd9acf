"""The review gate: a reader's voice note to a client is held until a reviewer decides.

Until then the client cannot reach it by any route: the message list, the socket, the
download URL, the page. The reader and staff can. A decision releases or withholds it for
good, once, and tells the people it concerns.
"""

import pytest
from django.test import Client

from approvals import services
from approvals.models import MessageReview
from chat.models import Message
from samia_chat.models import AccessEvent
from samia_chat.realtime import STAFF_GROUP, session_group, user_group
from tests.samples import audio as samples

REVIEWS = "/api/approvals/voice-notes"


def voice_url(session) -> str:
    return f"/api/sessions/{session.pk}/voice"


@pytest.fixture
def held(api, reading, reader_user, tmp_path):
    """A reader's voice note in a reading with a client, as the reader got it back."""
    note = samples.sine_file(tmp_path, container="webm", seconds=1.0)
    response = api(reader_user).upload(voice_url(reading), note, client_msg_id="held-1")
    assert response.status_code == 201, response.content
    return response.json()


def _review_of(message: dict) -> MessageReview:
    return MessageReview.objects.get(message_id=message["id"])


def test_a_readers_voice_note_to_a_client_is_held_and_its_sender_sees_it_pending(held):
    assert held["status"] == "pending_review"
    assert held["attachment"]["url"].startswith("/files/")
    assert held["review"]["status"] == "pending"
    assert _review_of(held).status == "pending"


def test_a_clients_voice_note_is_not_held(api, reading, client_user, tmp_path):
    note = samples.sine_file(tmp_path, container="webm", seconds=1.0)
    response = api(client_user).upload(voice_url(reading), note, client_msg_id="c-1")

    assert response.json()["status"] == "sent"
    assert not MessageReview.objects.exists()


def test_the_gate_follows_the_setting_per_kind_and_role(
    api, reading, reader_user, tmp_path, settings
):
    settings.CHAT = {**settings.CHAT, "HOLD_FOR_REVIEW": frozenset({("text", "reader")})}
    note = samples.sine_file(tmp_path, container="webm", seconds=1.0)
    voice = api(reader_user).upload(voice_url(reading), note, client_msg_id="v-open")
    text = api(reader_user).post(
        f"/api/sessions/{reading.pk}/messages",
        {"kind": "text", "body": "The Star, reversed.", "client_msg_id": "t-held"},
    )

    assert voice.json()["status"] == "sent"
    assert text.json()["status"] == "pending_review"


def test_the_client_cannot_reach_a_held_note_by_list_page_download_or_catch_up(
    api, reading, client_user, held
):
    url = held["attachment"]["url"]
    listed = api(client_user).get(f"/api/sessions/{reading.pk}/messages").json()["messages"]
    caught_up = api(client_user).get(f"/api/sessions/{reading.pk}/messages", after=0).json()
    inbox = api(client_user).get("/api/sessions").json()
    mine = next(m for m in listed if m["id"] == held["id"])

    assert mine["status"] == "pending_review"
    assert mine["attachment"] is None and mine["review"] is None
    assert url not in str(listed) and url not in str(caught_up) and url not in str(inbox)
    assert api(client_user).download(url)[0].status_code == 404
    # The page the browser renders carries no trace of the file either.
    browser = Client()
    browser.force_login(client_user)
    page = browser.get(f"/s/{reading.pk}/")
    assert page.status_code == 200
    assert url not in page.content.decode()
    assert held["attachment"]["id"] not in page.content.decode()


def test_guessing_the_file_url_of_a_held_note_gets_404_for_the_client_only(
    api, client_user, reader_user, monitor, held
):
    url = held["attachment"]["url"]

    assert api(client_user).download(url)[0].status_code == 404
    assert api(reader_user).download(url)[0].status_code == 200
    assert api(monitor).download(url)[0].status_code == 200
    assert AccessEvent.objects.filter(action="download", actor=monitor).count() == 1


def test_the_session_broadcast_of_a_held_note_carries_no_file(
    api, reading, reader_user, tmp_path, listen, after_commit
):
    probe = listen(session_group(reading.pk))
    staff = listen(STAFF_GROUP)
    note = samples.sine_file(tmp_path, container="webm", seconds=1.0)

    with after_commit():
        sent = api(reader_user).upload(voice_url(reading), note, client_msg_id="b-1").json()

    event = probe.receive_event()
    assert event["type"] == "message.created"
    assert event["message"]["status"] == "pending_review"
    assert event["message"]["attachment"] is None
    assert sent["attachment"]["url"] not in str(event)
    requested = staff.receive_event()
    assert requested["type"] == "approval.requested"
    assert requested["pending_count"] == 1
    assert requested["review"]["attachment"]["url"] == sent["attachment"]["url"]


def test_approval_releases_the_note_to_the_client_and_tells_the_reader(
    api, reading, client_user, reader_user, monitor, held, listen, after_commit
):
    session_probe = listen(session_group(reading.pk))
    reader_probe = listen(user_group(reader_user.pk))
    staff_probe = listen(STAFF_GROUP)
    review = _review_of(held)

    with after_commit():
        response = api(monitor).post(f"{REVIEWS}/{review.pk}/approve")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    released = session_probe.receive_event()
    assert released["type"] == "message.updated"
    assert released["message"]["status"] == "sent"
    assert released["message"]["attachment"]["url"] == held["attachment"]["url"]
    decided = reader_probe.receive_event()
    assert (decided["type"], decided["status"]) == ("approval.decided", "approved")
    assert staff_probe.receive_event()["pending_count"] == 0
    assert api(client_user).download(held["attachment"]["url"])[0].status_code == 200
    listed = api(client_user).get(f"/api/sessions/{reading.pk}/messages").json()["messages"]
    assert next(m for m in listed if m["id"] == held["id"])["attachment"] is not None
    assert AccessEvent.objects.filter(action="approval", actor=monitor).count() == 1


def test_rejection_needs_a_reason_and_the_reader_is_told_why(
    api, reading, client_user, reader_user, admin, held, listen, after_commit
):
    reader_probe = listen(user_group(reader_user.pk))
    review = _review_of(held)

    blank = api(admin).post(f"{REVIEWS}/{review.pk}/reject", {"reason": "  "})
    assert (blank.status_code, blank.json()["error"]["code"]) == (400, "REASON_REQUIRED")
    assert _review_of(held).status == "pending"

    with after_commit():
        response = api(admin).post(
            f"{REVIEWS}/{review.pk}/reject", {"reason": "Please do not promise outcomes."}
        )

    assert response.status_code == 200
    decided = reader_probe.receive_event()
    assert decided["status"] == "rejected"
    assert decided["reason"] == "Please do not promise outcomes."
    assert decided["message"]["review"]["reason"] == "Please do not promise outcomes."
    assert Message.objects.get(pk=held["id"]).status == "rejected"
    # Withheld for good: the client still cannot reach it, nor learn the reason.
    listed = api(client_user).get(f"/api/sessions/{reading.pk}/messages").json()["messages"]
    shown = next(m for m in listed if m["id"] == held["id"])
    assert shown["attachment"] is None and shown["review"] is None
    assert api(client_user).download(held["attachment"]["url"])[0].status_code == 404


def test_a_second_decision_is_refused_and_changes_nothing(api, monitor, admin, held):
    review = _review_of(held)
    assert api(monitor).post(f"{REVIEWS}/{review.pk}/approve").status_code == 200

    again = api(admin).post(f"{REVIEWS}/{review.pk}/reject", {"reason": "Too late"})

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ALREADY_DECIDED"
    assert _review_of(held).status == "approved"
    assert Message.objects.get(pk=held["id"]).status == "sent"


def test_a_held_note_its_reader_deleted_leaves_the_queue(api, reader_user, monitor, held):
    assert api(reader_user).delete(f"/api/messages/{held['id']}").status_code == 200

    queue = api(monitor).get(REVIEWS).json()
    refused = api(monitor).post(f"{REVIEWS}/{_review_of(held).pk}/approve")

    assert queue == {"pending_count": 0, "reviews": []}
    assert refused.json()["error"]["code"] == "MESSAGE_GONE"


def test_the_queue_is_oldest_first_with_reader_client_session_and_duration(
    api, reading, client_user, reader_user, monitor, tmp_path
):
    note = samples.sine_file(tmp_path, container="webm", seconds=1.0)
    first = api(reader_user).upload(voice_url(reading), note, client_msg_id="q-1").json()
    second = api(reader_user).upload(voice_url(reading), note, client_msg_id="q-2").json()

    queue = api(monitor).get(REVIEWS, status="pending").json()

    assert queue["pending_count"] == 2
    assert [r["message_id"] for r in queue["reviews"]] == [first["id"], second["id"]]
    item = queue["reviews"][0]
    assert item["sender"]["id"] == reader_user.pk
    assert item["client"]["id"] == client_user.pk
    assert item["session_id"] == reading.pk
    assert abs(item["attachment"]["duration_ms"] - 1000) <= 60


# --- who may review ---------------------------------------------------------------------

# fmt: off
ROLE_MATRIX = {
    #              list approve reject
    "client_user": (403, 403,   403),
    "reader_user": (403, 403,   403),
    "monitor":     (200, 200,   200),
    "admin":       (200, 200,   200),
    "super_admin": (200, 200,   200),
}
# fmt: on


@pytest.mark.parametrize("action", ["list", "approve", "reject"])
@pytest.mark.parametrize("persona", list(ROLE_MATRIX))
def test_only_reviewers_reach_the_review_api(request, api, held, persona, action):
    user = request.getfixturevalue(persona)
    review = _review_of(held)
    calls = {
        "list": lambda: api(user).get(REVIEWS),
        "approve": lambda: api(user).post(f"{REVIEWS}/{review.pk}/approve"),
        "reject": lambda: api(user).post(f"{REVIEWS}/{review.pk}/reject", {"reason": "No"}),
    }

    response = calls[action]()

    expected = ROLE_MATRIX[persona][["list", "approve", "reject"].index(action)]
    assert response.status_code == expected, response.content
    if expected == 403:
        assert _review_of(held).status == "pending"


def test_anonymous_callers_get_401(api, held):
    assert api().get(REVIEWS).status_code == 401
    assert api().post(f"{REVIEWS}/{_review_of(held).pk}/approve").status_code == 401


def test_an_unknown_review_is_404(api, monitor):
    assert api(monitor).post(f"{REVIEWS}/999999/approve").status_code == 404


def test_review_time_stats_are_median_and_p90_of_decided_reviews(held, monitor):
    from datetime import timedelta

    from approvals.selectors import review_time_stats

    review = _review_of(held)
    MessageReview.objects.filter(pk=review.pk).update(
        submitted_at=review.submitted_at - timedelta(seconds=120)
    )
    services.voice_note_approve(review_id=review.pk, reviewer=monitor)

    stats = review_time_stats(days=7)

    assert stats["count"] == 1
    assert 119 <= stats["median"] <= 125 and stats["p90"] == stats["median"]
