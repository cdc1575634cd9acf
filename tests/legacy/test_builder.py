"""The legacy world builder: the schema LEGACY.md describes, the messy cases it promises,
its files, its arithmetic, and that it leaves nothing behind."""

import hashlib

import psycopg
import pytest
from django.conf import settings

from audio.processing import voice_note_transcode
from samia_chat.errors import Invalid, UnsupportedType
from tests.legacy.builder import (
    legacy_world,  # noqa: F401 (the fixture, used below)
    legacy_world_build,
    legacy_world_drop,
)
from tests.legacy.ledger import MESSAGE_TABLES

pytestmark = pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="the importer is tested against PostgreSQL only",
)

# Transcribed from LEGACY.md, in its order.
DOCUMENTED_COLUMNS = {
    "messages": "id booking_id sender_id type content file_url metadata is_read created_at "
    "file_name file_size duration_seconds is_approved approved_by approved_at flagged "
    "flagged_reason reply_to",
    "chat_sessions_backup": "id booking_id client_id reader_id status locked_by locked_at "
    "client_text_chars_used client_voice_seconds_used client_images_sent "
    "reader_voice_notes_sent max_text_chars max_voice_seconds max_images "
    "max_reader_voice_notes created_at updated_at participants",
    "chat_messages_backup": "id message_id chat_session_id sender_id recipient_id message_type "
    "message_content message_data file_attachment_url file_attachment_type "
    "file_attachment_size voice_note_url voice_note_duration is_read read_at is_edited "
    "edited_at original_content reply_to_message_id reaction_data is_system_message "
    "is_deleted deleted_at created_at updated_at session_id",
    "chat_sessions": "id participants type booking_id emergency_call_id status started_at "
    "ended_at last_message_at metadata created_at updated_at",
    "chat_messages": "id session_id sender_id type content file_url file_name file_size "
    "file_type duration_seconds waveform_data reply_to_message_id status approved_by "
    "approved_at delivered_to read_by is_edited edited_at is_deleted deleted_at metadata "
    "created_at updated_at",
    "voice_notes": "id message_id file_url file_path duration_seconds file_size_bytes "
    "audio_format transcription is_transcribed transcribed_at quality_rating is_processed "
    "processed_at created_at updated_at user_id",
    "voice_note_approvals": "id message_id reader_id booking_id status reviewed_by "
    "review_notes created_at updated_at",
    "chat_audit_logs": "id user_id action table_name record_id session_id old_values "
    "new_values ip_address user_agent timestamp metadata",
    "chat_notifications": "id booking_id user_id type message_id data is_read created_at",
    "chat_monitoring": "id user_id session_id event_type timestamp metadata ip_address "
    "user_agent created_at",
}
DOCUMENTED_COLUMNS["messages_backup"] = DOCUMENTED_COLUMNS["messages"]
DOCUMENTED_COLUMNS["voice_notes_backup"] = DOCUMENTED_COLUMNS["voice_notes"]

ALL_TABLES = {
    *DOCUMENTED_COLUMNS,
    "profiles",
    "bookings",
    "services",
    "chat_participants",
    "file_uploads",
    "media_storage",
    "message_reactions",
    "chat_archives",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    built = legacy_world_build(tmp_path_factory.mktemp("legacy"))
    yield built
    legacy_world_drop(built)


@pytest.fixture(scope="module")
def source(world):
    with psycopg.connect(world.dsn, autocommit=True) as connection:
        yield connection


def one(source, query: str, *params):
    return source.execute(query, params).fetchone()


def test_the_tables_are_those_of_legacy_md_with_their_columns_in_order(source):
    rows = source.execute(
        "SELECT table_name, column_name, data_type, udt_name, is_nullable"
        " FROM information_schema.columns WHERE table_schema = 'public'"
        " ORDER BY table_name, ordinal_position"
    ).fetchall()
    found: dict[str, list] = {}
    for table, column, data_type, udt, nullable in rows:
        found.setdefault(table, []).append((column, data_type, udt, nullable))
    assert set(found) == ALL_TABLES
    for table, names in DOCUMENTED_COLUMNS.items():
        assert [column for column, *_ in found[table]] == names.split(), table
    for shell in ("chat_participants", "file_uploads", "media_storage", "message_reactions"):
        assert [column for column, *_ in found[shell]] == ["id", "created_at", "updated_at"]
    kinds = {(t, c): (d, u, n) for t, cols in found.items() for c, d, u, n in cols}
    assert kinds["chat_sessions", "participants"] == ("ARRAY", "_uuid", "NO")
    assert kinds["chat_messages", "read_by"][:2] == ("ARRAY", "_uuid")
    assert kinds["chat_messages", "file_size"][0] == "bigint"
    assert kinds["messages", "file_size"][0] == "integer"
    assert kinds["chat_audit_logs", "ip_address"][0] == "inet"
    assert kinds["chat_messages_backup", "message_type"][0] == "character varying"
    assert kinds["messages", "metadata"][0] == "jsonb"
    assert kinds["messages", "created_at"][0] == "timestamp with time zone"
    assert kinds["messages", "booking_id"][2] == "NO"
    assert kinds["voice_notes", "user_id"][2] == "NO"


def test_the_people_include_a_merge_a_superadmin_and_inactive_profiles(world, source):
    ids = world.ids
    emails = [
        one(source, "SELECT email FROM profiles WHERE id = %s", ids[name])[0]
        for name in ("profile_client_merged", "profile_client_duplicate")
    ]
    assert emails[0] != emails[1] and emails[0].lower() == emails[1].lower()
    assert one(source, "SELECT role FROM profiles WHERE id = %s", ids["profile_superadmin"]) == (
        "superadmin",
    )
    flags = one(
        source,
        "SELECT (SELECT deactivated FROM profiles WHERE id = %s),"
        " (SELECT deleted_at IS NOT NULL FROM profiles WHERE id = %s),"
        " (SELECT is_active FROM profiles WHERE id = %s)",
        ids["profile_reader_deactivated"],
        ids["profile_client_deleted"],
        ids["profile_admin_inactive"],
    )
    assert flags == (True, True, False)
    assert one(
        source, "SELECT count(*) FROM profiles WHERE id = %s", ids["unknown_sender_profile"]
    ) == (0,)
    merged = world.expected["merges"]["users"]
    assert merged == [
        {
            "into": ids["profile_client_merged"],
            "merged": [["profiles", ids["profile_client_duplicate"]]],
        }
    ]


def test_one_booking_lives_in_all_three_generations_with_overlapping_messages(world, source):
    ids = world.ids
    booking = ids["booking_all_generations"]
    assert one(source, "SELECT booking_id::text FROM chat_sessions WHERE id = %s", booking) == (
        booking,
    )
    assert one(
        source,
        "SELECT booking_id::text FROM chat_sessions_backup WHERE id = %s",
        ids["gen2_session_all_generations"],
    ) == (booking,)
    same = ids["overlap_same_id_message"]
    assert one(
        source,
        "SELECT (SELECT count(*) FROM messages WHERE id = %s AND booking_id = %s),"
        " (SELECT count(*) FROM chat_messages WHERE id = %s AND session_id = %s)",
        same,
        booking,
        same,
        booking,
    ) == (1, 1)
    gen1 = one(
        source,
        "SELECT sender_id, created_at, content FROM messages WHERE id = %s",
        ids["overlap_content_gen1"],
    )
    gen3 = one(
        source,
        "SELECT sender_id, created_at, content FROM chat_messages WHERE id = %s",
        ids["overlap_content_gen3"],
    )
    assert gen1 == gen3 and ids["overlap_content_gen1"] != ids["overlap_content_gen3"]
    # Generation 2 rows name the message and the session through either column.
    path_a = one(
        source,
        "SELECT message_id, chat_session_id IS NOT NULL, session_id FROM chat_messages_backup"
        " WHERE id = %s",
        ids["gen2_path_a_message"],
    )
    assert path_a == (None, True, None)
    path_b = one(
        source,
        "SELECT id::text <> message_id::text, chat_session_id, session_id IS NOT NULL"
        " FROM chat_messages_backup WHERE message_id = %s",
        ids["gen2_path_b_message"],
    )
    assert path_b == (True, None, True)
    assert one(
        source,
        "SELECT count(*) FROM chat_messages_backup WHERE message_id = %s",
        ids["overlap_gen1_gen2_message"],
    ) == (1,)


def test_the_review_history_holds_approved_rejected_and_never_reviewed_notes(world, source):
    ids = world.ids
    approvals = dict(
        source.execute("SELECT message_id::text, status FROM voice_note_approvals").fetchall()
    )
    assert approvals[ids["approved_reader_voice_message"]] == "approved"
    assert approvals[ids["rejected_reader_voice_message"]] == "rejected"
    assert approvals[ids["pending_reader_voice_message"]] == "pending"
    unapproved = ids["unapproved_reader_voice_message"]
    assert unapproved not in approvals
    assert one(
        source, "SELECT is_approved, approved_by FROM messages WHERE id = %s", unapproved
    ) == (False, None)
    assert one(
        source,
        "SELECT review_notes IS NOT NULL FROM voice_note_approvals WHERE id = %s",
        ids["approval_rejected"],
    ) == (True,)
    assert one(
        source,
        "SELECT status FROM chat_messages WHERE id = %s",
        ids["pending_reader_voice_message"],
    ) == ("pending_approval",)
    # A client's note carries the column default, false, and is not held.
    assert one(
        source, "SELECT is_approved FROM messages WHERE id = %s", ids["client_voice_message"]
    ) == (False,)
    expected = world.expected
    assert set(expected["held"]) == {unapproved, ids["pending_reader_voice_message"]}
    assert ids["client_voice_message"] not in expected["held"]
    assert expected["rejected"] == [ids["rejected_reader_voice_message"]]
    review = expected["reviews"][ids["approved_reader_voice_message"]]
    assert review["decision"] == "approved" and review["reviewer"] == ids["profile_monitor"]


def test_the_messy_cases_are_in_the_tables_and_the_expected_anomalies(world, source):
    ids, anomalies = world.ids, world.expected["anomalies"]
    assert one(
        source, "SELECT count(*) FROM bookings WHERE id = %s", ids["orphan_missing_booking"]
    ) == (0,)
    assert one(
        source, "SELECT booking_id::text FROM messages WHERE id = %s", ids["orphan_message_gen1"]
    ) == (ids["orphan_missing_booking"],)
    assert one(
        source,
        "SELECT count(*) FROM chat_sessions s JOIN chat_messages m"
        " ON m.session_id = s.id WHERE m.id = %s",
        ids["orphan_message_gen3"],
    ) == (0,)
    assert one(
        source,
        "SELECT sender_id::text FROM chat_messages WHERE id = %s",
        ids["unknown_sender_message"],
    ) == (ids["unknown_sender_profile"],)
    assert one(
        source, "SELECT status FROM chat_messages WHERE id = %s", ids["unknown_status_message"]
    ) == ("queued",)
    assert one(
        source,
        "SELECT status, is_deleted FROM chat_messages WHERE id = %s",
        ids["deleted_message_gen3"],
    ) == ("deleted", True)
    statuses = {s for (s,) in source.execute("SELECT status FROM chat_sessions")}
    assert {"archived", "completed", "terminated"} <= statuses
    actions = {a for (a,) in source.execute("SELECT action FROM chat_audit_logs")}
    assert actions == {"INSERT", "UPDATE", "DELETE"}
    assert set(anomalies["orphan_message"]) == {
        ids["orphan_message_gen1"],
        ids["orphan_message_gen2"],
        ids["orphan_message_gen3"],
    }
    assert anomalies["missing_file"] == [ids["missing_file_message"]]
    assert anomalies["undecodable_audio"] == [ids["corrupt_audio_message"]]
    assert anomalies["unknown_sender"] == [ids["unknown_sender_message"]]
    assert anomalies["unknown_status"] == [ids["unknown_status_message"]]
    assert anomalies["dangling_reply"] == [ids["dangling_reply_message"]]
    assert set(world.expected["deleted"]) == {
        ids["deleted_message_gen3"],
        ids["deleted_message_gen2"],
        ids["deleted_message_flag_only"],
    }


def test_files_are_on_disk_or_missing_as_declared(world, source):
    paths, ids = world.paths, world.ids
    assert not paths["missing"].exists()
    both = paths["both_buckets_chat_files"], paths["both_buckets_chat_attachments"]
    assert both[0].read_bytes() == both[1].read_bytes()
    assert {p.relative_to(world.files_dir).parts[0] for p in both} == {
        "chat-files",
        "chat-attachments",
    }
    for name in ("opus", "mp3", "safari"):
        rendition = voice_note_transcode(paths[name])
        rendition.path.unlink()
        assert rendition.duration_ms >= 1_000, name
    assert paths["safari"].suffix == ".webm" and paths["safari"].read_bytes()[4:8] == b"ftyp"
    with pytest.raises((Invalid, UnsupportedType)):
        voice_note_transcode(paths["corrupt"])
    assert paths["png"].read_bytes().startswith(b"\x89PNG")
    assert paths["pdf"].read_bytes().startswith(b"%PDF")
    assert (
        one(source, "SELECT file_url FROM messages WHERE id = %s", ids["pdf_message"])[0]
        .split("?token=")[0]
        .endswith(".pdf")
    )

    on_disk = {p for p in world.files_dir.rglob("*") if p.is_file()}
    assert len(on_disk) == world.expected["files"]["written"]
    contents = {hashlib.sha256(p.read_bytes()).hexdigest() for p in on_disk}
    stored = set(world.expected["files"]["stored_sha256"])
    assert stored < contents  # the corrupt file is on disk but never stored
    assert world.expected["file_contents"] == len(stored)
    # Every reference in the tables names a file on disk, or one declared missing.
    missing = {world.files_dir / key for key in world.expected["files"]["missing"]}
    urls = [
        url
        for (url,) in source.execute(
            "SELECT file_url FROM messages WHERE file_url IS NOT NULL UNION ALL"
            " SELECT file_url FROM chat_messages WHERE file_url IS NOT NULL UNION ALL"
            " SELECT coalesce(voice_note_url, file_attachment_url) FROM chat_messages_backup"
            " UNION ALL SELECT file_url FROM voice_notes"
        )
        if url
    ]
    assert any("/object/sign/" in url for url in urls)
    for url in urls:
        key = url.split("?")[0].split("/object/", 1)[1].split("/", 1)[1]
        assert world.files_dir / key in on_disk | missing, url


def test_the_expectations_add_up_with_the_rows_written(world, source):
    expected = world.expected
    for table, count in expected["rows"].items():
        assert one(source, f'SELECT count(*) FROM "{table}"') == (count,), table
    for entity in ("users", "sessions", "messages"):
        balance = expected["balance"][entity]
        assert balance["in"] == balance["out"] + balance["merged"] + balance["skipped"], entity
        assert balance["out"] == expected[entity]
    assert expected["balance"]["messages"]["in"] == sum(
        expected["rows"][table] for table in MESSAGE_TABLES
    )
    assert expected["messages"] == len(expected["message_detail"])
    assert expected["sessions"] == len(expected["session_detail"])
    assert (
        sum(len(s["messages"]) for s in expected["session_detail"].values())
        == (expected["messages"])
    )
    chain = expected["message_detail"]
    ids = world.ids
    assert chain[ids["reply_chain_leaf"]]["reply_to"] == ids["reply_chain_middle"]
    assert chain[ids["reply_chain_middle"]]["reply_to"] == ids["reply_chain_root"]
    assert expected["message_aliases"][ids["overlap_content_gen3"]] == ids["overlap_content_gen1"]


def test_the_fixture_yields_a_built_world(legacy_world):  # noqa: F811
    with psycopg.connect(legacy_world.dsn) as connection:
        assert connection.execute("SELECT count(*) FROM profiles").fetchone()[0] > 0


def test_dropping_removes_the_database_and_the_buckets(tmp_path):
    built = legacy_world_build(tmp_path, scale=2)
    assert built.expected["rows"]["messages"] > 400
    legacy_world_drop(built)
    with psycopg.connect(built.server_dsn) as connection:
        left = connection.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", (built.database,)
        ).fetchone()
    assert left == (0,)
    assert not built.files_dir.exists()


# Every message row with the conversation it resolves to, read the plainest way the rules allow.
MESSAGE_ROWS = """
SELECT m.id::text, m.booking_id::text, m.sender_id, m.created_at, m.content
  FROM messages m JOIN bookings b ON b.id = m.booking_id
UNION ALL
SELECT m.id::text, m.booking_id::text, m.sender_id, m.created_at, m.content
  FROM messages_backup m JOIN bookings b ON b.id = m.booking_id
UNION ALL
SELECT coalesce(m.message_id, m.id)::text, coalesce(s.booking_id, s.id)::text, m.sender_id,
       m.created_at, m.message_content
  FROM chat_messages_backup m
  JOIN chat_sessions_backup s ON s.id = coalesce(m.chat_session_id, m.session_id)
UNION ALL
SELECT m.id::text, coalesce(s.booking_id, s.id)::text, m.sender_id, m.created_at, m.content
  FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
"""


def test_the_expected_counts_agree_with_a_plain_reading_of_the_rules(world, source):
    parent: dict = {}

    def root(node):
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    rows = source.execute(MESSAGE_ROWS).fetchall()
    for legacy_id, conversation, sender, at, content in rows:
        parent[root(("id", legacy_id))] = root(("same", conversation, sender, at, content))
    assert len({root(("id", row[0])) for row in rows}) == world.expected["messages"]

    sessions = source.execute(
        "SELECT coalesce(booking_id, id) FROM chat_sessions"
        " UNION SELECT coalesce(booking_id, id) FROM chat_sessions_backup"
        " UNION SELECT m.booking_id FROM messages m JOIN bookings b ON b.id = m.booking_id"
    ).fetchall()
    assert len(sessions) == world.expected["sessions"]

    emails = source.execute(
        "SELECT count(DISTINCT lower(email)) + count(*) FILTER (WHERE email IS NULL) FROM profiles"
    ).fetchone()
    assert emails == (world.expected["users"],)
