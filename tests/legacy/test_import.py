"""`manage.py import_legacy` against a messy copy of the old platform (builder.py): every
row accounted for, nothing doubled, held audio stays held, a second run changes nothing,
a dry run writes nothing. PostgreSQL + Redis configuration only (the source is PostgreSQL)."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from approvals.models import MessageReview
from chat.models import (
    Attachment,
    ChatSession,
    LegacyAuditEntry,
    LegacyRecord,
    Membership,
    Message,
)
from samia_chat.models import User
from samia_chat.tokens import token_pair_issue

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="the importer's tests run in the PostgreSQL + Redis configuration",
    ),
]


def _import(world, tmp_path, *extra) -> dict:
    out = StringIO()
    reports = tmp_path / "reports"
    call_command(
        "import_legacy",
        "--source",
        world.dsn,
        "--files",
        str(world.files_dir),
        "--report-dir",
        str(reports),
        "--no-progress",
        *extra,
        stdout=out,
    )
    newest = sorted(reports.glob("import-*.json"))[-1]
    report = json.loads(newest.read_text())
    newest.unlink()
    return report


def _message_of(legacy_id: str) -> Message:
    record = LegacyRecord.objects.filter(legacy_id=legacy_id, target_type="message").first()
    assert record is not None, f"legacy message {legacy_id} is not findable"
    return Message.objects.select_related("attachment", "sender").get(pk=record.target_id)


def _user_of(legacy_id: str | None) -> User | None:
    if legacy_id is None:
        return None
    record = LegacyRecord.objects.get(source_table="profiles", legacy_id=legacy_id)
    return User.objects.get(pk=record.target_id)


def _snapshot() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (
            User,
            ChatSession,
            Membership,
            Message,
            Attachment,
            MessageReview,
            LegacyRecord,
            LegacyAuditEntry,
        )
    }


def _stored(file_store: Path) -> set[str]:
    return {str(p.relative_to(file_store)) for p in file_store.rglob("*") if p.is_file()}


def test_every_row_is_accounted_for_and_nothing_is_doubled(legacy_world, tmp_path, file_store):
    expected = legacy_world.expected

    report = _import(legacy_world, tmp_path)

    assert report["balanced"], report["tables"]
    for table, written in expected["rows"].items():
        assert report["tables"].get(table, {"read": 0})["read"] == written, table
    assert report["made"]["users"] == expected["users"] == User.objects.count()
    assert report["made"]["sessions"] == expected["sessions"] == ChatSession.objects.count()
    assert report["made"]["messages"] == expected["messages"] == Message.objects.count()
    balance = expected["balance"]["messages"]
    messages_out = sum(
        report["tables"][t]["created"]
        for t in ("messages", "messages_backup", "chat_messages_backup", "chat_messages")
    )
    merged = sum(
        report["tables"][t]["merged"]
        for t in ("messages", "messages_backup", "chat_messages_backup", "chat_messages")
    )
    assert (messages_out, merged) == (balance["out"], balance["merged"])
    reported = {}
    for anomaly in report["anomalies"]:
        reported.setdefault(anomaly["kind"], set()).add(anomaly["legacy_id"])
    assert reported == {kind: set(ids) for kind, ids in expected["anomalies"].items()}
    # One stored object per distinct content, whatever bucket or message named it.
    assert len(_stored(file_store)) == expected["file_contents"]
    assert set(Attachment.objects.values_list("source_sha256", flat=True)) == set(
        expected["files"]["stored_sha256"]
    )
    assert LegacyAuditEntry.objects.count() == sum(expected["history"].values())
    # Old audit entries point at what their record became here.
    for entry in LegacyAuditEntry.objects.filter(record_id__in=expected["message_aliases"]):
        assert entry.target_type == "message"
        assert entry.target_id == _message_of(entry.record_id).pk
    assert set(LegacyAuditEntry.objects.values_list("action", flat=True)) >= {"insert", "update"}


def test_people_sessions_and_messages_match_the_old_data(legacy_world, tmp_path):
    expected = legacy_world.expected
    _import(legacy_world, tmp_path)

    for survivor, account in expected["accounts"].items():
        users = {_user_of(legacy_id).pk for legacy_id in account["legacy_ids"]}
        assert len(users) == 1, survivor
        user = _user_of(survivor)
        assert (user.role, user.is_active) == (account["role"], account["is_active"])
        assert not user.has_usable_password()
    for key, detail in expected["session_detail"].items():
        table, legacy_id = detail["sources"][-1]
        record_table = "bookings" if table == "messages" else table
        record = LegacyRecord.objects.get(source_table=record_table, legacy_id=legacy_id)
        session = ChatSession.objects.get(pk=record.target_id)
        assert (session.kind, session.status) == (detail["kind"], detail["status"]), key
        members = set(session.memberships.values_list("user_id", flat=True))
        assert members == {_user_of(p).pk for p in detail["participants"]}, key
        ordered = list(session.messages.order_by("id").values_list("id", flat=True))
        assert ordered == [_message_of(m).pk for m in detail["messages"]], key
    for legacy_id, detail in expected["message_detail"].items():
        message = _message_of(legacy_id)
        assert message.created_at.isoformat() == detail["created_at"], legacy_id
        assert message.sender == _user_of(detail["sender"]), legacy_id
        assert message.status == detail["status"], legacy_id
        if detail["status"] != "deleted":
            assert message.body == (detail["content"] or ""), legacy_id
        if detail["reply_to"]:
            assert message.reply_to_id == _message_of(detail["reply_to"]).pk, legacy_id
        available = detail["attachment"] and detail["attachment"]["available"]
        assert (message.attachment is not None) == bool(available and not message.is_tombstone)
    # Every legacy id of a message finds it.
    for alias, survivor in expected["message_aliases"].items():
        record = LegacyRecord.objects.filter(legacy_id=alias, target_type="message").first()
        assert record is not None and record.target_id == _message_of(survivor).pk, alias


def test_unreviewed_reader_audio_stays_held_and_decided_reviews_keep_their_reviewer(
    legacy_world, tmp_path, api
):
    expected = legacy_world.expected
    _import(legacy_world, tmp_path)

    for legacy_id in expected["held"]:
        held = _message_of(legacy_id)
        assert held.status == "pending_review"
        assert held.review.status == "pending"
        session = held.session
        client = session.memberships.get(user__role="client").user
        caller = api(token=token_pair_issue(user=client)["access"])
        listed = caller.get(f"/api/sessions/{session.pk}/messages", limit=100).json()
        shown = next(m for m in listed["messages"] if m["id"] == held.pk)
        assert shown["attachment"] is None and shown["body"] == ""
        if held.attachment is not None:
            assert caller.download(f"/files/{held.attachment.public_id}")[0].status_code == 404
    for legacy_id, review in expected["reviews"].items():
        decided = _message_of(legacy_id).review
        assert decided.status == review["decision"], legacy_id
        assert decided.decided_by == _user_of(review["reviewer"]), legacy_id
        assert decided.decided_at.isoformat() == review["reviewed_at"], legacy_id
    for legacy_id in expected["rejected"]:
        assert _message_of(legacy_id).status == "rejected"


def test_a_second_run_changes_nothing(legacy_world, tmp_path, file_store):
    _import(legacy_world, tmp_path)
    before, stored = _snapshot(), _stored(file_store)

    again = _import(legacy_world, tmp_path)

    assert _snapshot() == before
    assert _stored(file_store) == stored
    assert again["balanced"]
    assert all(counts["created"] == counts["merged"] == 0 for counts in again["tables"].values()), (
        again["tables"]
    )


def test_a_dry_run_writes_nothing(legacy_world, tmp_path, file_store):
    before = _snapshot()

    report = _import(legacy_world, tmp_path, "--dry-run")

    assert report["dry_run"] and report["balanced"]
    assert report["made"]["messages"] == legacy_world.expected["messages"]
    assert _snapshot() == before
    assert _stored(file_store) == set()


def test_a_fresh_dump_adds_only_its_new_rows(legacy_world, tmp_path):
    import psycopg

    _import(legacy_world, tmp_path)
    before = _snapshot()
    detail = legacy_world.expected["session_detail"]
    key, session = next((k, d) for k, d in detail.items() if d["sources"][-1][0] == "chat_sessions")
    with psycopg.connect(legacy_world.dsn) as old:
        old.execute(
            "INSERT INTO chat_messages (id, session_id, sender_id, type, content, status,"
            " created_at, updated_at) VALUES (gen_random_uuid(), %s, %s, 'text',"
            " 'One more question after the dump.', 'sent', now(), now())",
            [session["sources"][-1][1], session["client"]],
        )

    again = _import(legacy_world, tmp_path)

    after = _snapshot()
    assert after["Message"] == before["Message"] + 1
    assert after["ChatSession"] == before["ChatSession"] and after["User"] == before["User"]
    assert again["tables"]["chat_messages"]["created"] == 1
    added = Message.objects.get(body="One more question after the dump.")
    assert added.session_id == _message_of(session["messages"][0]).session_id, key
