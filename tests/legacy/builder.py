"""A copy of the old platform's data to import: its PostgreSQL tables (the exact columns of
LEGACY.md) in a fresh database of their own, and its two buckets as a directory tree, filled
with a messy history and the expectations a correct import must meet.

    world = legacy_world_build(tmp_dir, scale=1)
    call_command("import_legacy", source=world.dsn, files=str(world.files_dir))
    ... assert against world.expected, world.ids ...
    legacy_world_drop(world)

or the `legacy_world` fixture (a conftest re-exports it: `from tests.legacy.builder import
legacy_world`). `world.ids` names the legacy ids of every messy case (core.py and
conversations.py write them); `world.paths` names bucket files (present, missing, corrupt).

Rules the expectations follow (LEGACY.md, the importer issue, and where those say nothing,
the choice written here):

Users. One account per legacy profile, matched on legacy id, then on email compared
case-insensitively; profiles are taken in `created_at` order (then id), so the earliest
profile of an email survives and later ones merge into it. Profiles without an email never
merge. Role `superadmin` means super_admin. A profile is inactive when `is_active` is false,
`deactivated` is true or `deleted_at` is set. Everything that names a merged profile
(senders, participants, readers, reviewers) names the surviving account.

Sessions. One session per conversation. A conversation's key is its booking id: gen 1 rows
by `booking_id`, gen 2 sessions by `booking_id`, gen 3 sessions by `booking_id` (their id is
the booking id when generation 3 reused it, a fresh id otherwise). A session without a
booking (gen 3 emergency or support) is keyed by its own id. Kind: gen 3 `booking` ->
reading, `emergency` -> emergency, `support`/`general` -> support; gen 1 and 2 are readings.
Status: from the newest generation that has the conversation (gen 3, else gen 2); the stray
values archived, completed and terminated mean ended and are reported as
`stray_session_status` anomalies (the legacy session id). A gen 1 only conversation is ended
when its booking is completed or cancelled, active otherwise. Participants are the booking's
client (`client_id`, or `user_id` when `client_id` is empty) and reader; without a booking,
gen 3's `participants`.

Messages. A gen 2 row's message id is `coalesce(message_id, id)` and its session
`coalesce(chat_session_id, session_id)`. Rows of `messages`, `messages_backup`,
`chat_messages_backup` and `chat_messages` that share a legacy id, or that have the same
conversation, sender, `created_at` (to the microsecond) and content, are one message. The
surviving legacy id is the one in the oldest table of that list. Every legacy id of a merged
message (including gen 3 ids of content duplicates) must resolve to it: replies, approvals,
voice_notes and notifications use any of them. Kind: `audio`/`voice` -> voice; image, file,
system (also gen 2 `is_system_message`), emergency, text. Timestamps are kept; a session's
order is by `created_at`, then legacy id (no two messages of a session share a time).
Deleted when gen 3 `status = 'deleted'` or `is_deleted` is true (gen 1 cannot say).
Read state: gen 1 `is_read` and gen 2 `is_read` mean the other participant read it; gen 3
`read_by` lists readers, the sender (sometimes listed) excluded. An edited message keeps its
current content.

Review. Only readers' voice notes are reviewed (a client's note with `is_approved = false`
is not held). A reader's note is approved or rejected by its `voice_note_approvals` row
(reviewer `reviewed_by`, time `updated_at`, `review_notes`), else approved by gen 1
`is_approved`/`approved_by`/`approved_at` or gen 3 `status = 'approved'`/`approved_by`/
`approved_at`. With none of these (gen 1 `is_approved = false` and no approval row, or a
pending approval row, or gen 3 `pending_approval`) it stays held (status pending_review).
Rejected notes are imported rejected. Statuses: deleted, else pending_review, else
rejected, else sent.

Files. A message's file is named by its copies' URLs (`.../object/public/<bucket>/<key>` or
`.../object/sign/<bucket>/<key>?token=...`); `voice_notes.file_path` is the key inside the
bucket its `file_url` names. A merged message's file is the first of its copies' files (in
the table order above) found on disk. A file is stored once per content (sha256), however
many keys or buckets hold it. A referenced file missing from disk, or an audio file that does not
decode, leaves its message imported with an "attachment unavailable" marker and a
`missing_file` / `undecodable_audio` anomaly. MIME types in the rows are not to be believed.

Anomalies (`expected["anomalies"]`, by kind, legacy ids): `orphan_message` (gen 1
`booking_id` not in bookings, gen 2 session empty or not in chat_sessions_backup, gen 3
`session_id` not in chat_sessions: the row is not imported), `missing_file`,
`undecodable_audio`, `unknown_sender` (`sender_id` not in profiles: imported without a
sender), `unknown_status` (a gen 3 status outside the documented list: imported as sent),
`dangling_reply` (a reply id naming no message: imported without the link),
`stray_session_status`. `expected["anomaly_outcomes"]` says which are skipped. For users,
sessions and messages, `expected["balance"]` holds in = out + merged + skipped, where
sessions in = the distinct bookings of gen 1 rows + gen 2 sessions + gen 3 sessions.

History. `chat_audit_logs` and `chat_monitoring` rows are kept as read-only history entries,
one each; notifications, voice_notes and the empty shells create nothing.

`world.expected` (every id a string; computed from what was written, see expected.py):
- rows: {table: rows written}, for all 20 tables.
- users, sessions, messages: how many a correct import creates.
- accounts: {surviving profile id: legacy_ids, email (as stored), role (ours), is_active}.
- session_detail: {session key: kind, status, booking_id, client, reader, participants
  (account ids), sources [[table, legacy id]], messages (surviving ids, in order)}.
- session_aliases: {any legacy session id or booking id: session key}.
- message_detail: {surviving id: session, sender (account id or None), kind, created_at
  (ISO), content, status (sent | pending_review | rejected | deleted), reply_to, read_by
  (account ids), edited, attachment (kind, sha256, available, locations) or None, review
  (decision, reviewer, reviewed_at, notes) or None, copies [[table, legacy id]]}.
- message_aliases: {every legacy message id: surviving id}.
- merges: {"users" | "sessions" | "messages": [{"into": id, "merged": [[table, id], ...]}]}.
- anomalies: {kind: [legacy ids]}; anomaly_outcomes: {kind: "skipped" | "imported"}.
- file_contents: distinct sha256 an import stores; files: written, referenced, missing,
  undecodable ("bucket/key"), stored_sha256.
- held, deleted, rejected, unavailable_attachments: surviving message ids; reviews: {id:
  review}; history: {"chat_audit_logs": n, "chat_monitoring": n}.
- balance: {"users" | "sessions" | "messages": in, out, merged, skipped}.
"""

import functools
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.legacy.bulk import bulk
from tests.legacy.conversations import core_write
from tests.legacy.expected import expected_from
from tests.legacy.ledger import Ledger, Payload
from tests.legacy.schema import TABLES, columns, create_statements

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
DATABASE_PREFIX = "samia_legacy_"


@dataclass
class LegacyWorld:
    dsn: str  # postgres://.../samia_legacy_<hex>, for `import_legacy --source`
    files_dir: Path  # holds chat-files/ and chat-attachments/, for `--files`
    expected: dict
    ids: dict[str, str]
    paths: dict[str, Path] = field(default_factory=dict)
    database: str = ""
    server_dsn: str = ""
    build_seconds: float = 0.0


def legacy_world_build(
    tmp_dir: Path, *, scale: int = 1, server_dsn: str | None = None, seed: int = 20250801
) -> LegacyWorld:
    """Create a database named samia_legacy_<random> on the server of `server_dsn` (by
    default $DATABASE_URL's when it is PostgreSQL, else the local one), fill it, and write
    the buckets under `tmp_dir`/buckets. Each unit of `scale` adds about a thousand message
    rows and twenty files. The caller drops it with legacy_world_drop()."""
    started = time.perf_counter()
    server_dsn = server_dsn or server_url()
    files_dir = Path(tmp_dir) / "buckets"
    for bucket in ("chat-files", "chat-attachments"):
        (files_dir / bucket).mkdir(parents=True, exist_ok=True)
    ledger = Ledger(files_dir, seed)
    payloads = _payloads()
    core = core_write(ledger, payloads)
    for unit in range(max(0, scale - 1)):
        bulk(ledger, payloads, core, unit)
    expected = expected_from(ledger)
    database = DATABASE_PREFIX + secrets.token_hex(6)
    with psycopg.connect(server_dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    dsn = _with_database(server_dsn, database)
    try:
        _fill(dsn, ledger.rows)
    except BaseException:
        _drop_database(server_dsn, database)
        raise
    return LegacyWorld(
        dsn=dsn,
        files_dir=files_dir,
        expected=expected,
        ids=ledger.ids,
        paths=ledger.paths,
        database=database,
        server_dsn=server_dsn,
        build_seconds=time.perf_counter() - started,
    )


def legacy_world_drop(world: LegacyWorld) -> None:
    """Drop the world's database (closing any connection left to it) and its buckets."""
    _drop_database(world.server_dsn, world.database)
    shutil.rmtree(world.files_dir, ignore_errors=True)


def server_url() -> str:
    """The maintenance database of the PostgreSQL server the tests use."""
    url = os.environ.get("LEGACY_SERVER_URL") or os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return DEFAULT_SERVER
    return _with_database(url, "postgres")


@pytest.fixture
def legacy_world(tmp_path):
    """A freshly built legacy world (scale 1), dropped after the test."""
    try:
        world = legacy_world_build(tmp_path)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL server for the legacy world: {error}")
    yield world
    legacy_world_drop(world)


# --- the database ------------------------------------------------------------------------


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


def _fill(dsn: str, rows: dict[str, list[tuple]]) -> None:
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        for statement in create_statements():
            cursor.execute(statement)
        for table in TABLES:
            if not rows[table]:
                continue
            names = sql.SQL(", ").join(sql.Identifier(name) for name in columns(table))
            copy = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), names)
            with cursor.copy(copy) as stream:
                for row in rows[table]:
                    stream.write_row(row)


def _drop_database(server_dsn: str, database: str) -> None:
    if not database.startswith(DATABASE_PREFIX):
        raise ValueError(f"not a legacy world database: {database}")
    with psycopg.connect(server_dsn, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )


# --- file contents -------------------------------------------------------------------------


@functools.cache
def _payloads() -> dict[str, Payload]:
    """The real files the buckets hold, made once per process (about 0.2 s)."""
    from tests.samples import audio, files

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        made = {
            "opus": (audio.speech_like_file(directory, seconds=3.0), "webm", "audio/webm"),
            "opus_short": (
                audio.sine_file(directory, container="webm", seconds=1.5, frequency=392),
                "webm",
                "audio/webm",
            ),
            # Safari's recorder: fragmented MP4 with AAC, kept under a .webm name.
            "safari": (
                audio.sine_file(directory, container="fmp4", seconds=2.0, frequency=330),
                "webm",
                "audio/mp4",
            ),
            "mp3": (
                audio.sine_file(directory, container="mp3", seconds=2.0, frequency=523),
                "mp3",
                "audio/mpeg",
            ),
            "png": (files.image_file(directory, "PNG", (64, 48)), "png", "image/png"),
            "pdf": (files.pdf_file(directory), "pdf", "application/pdf"),
        }
        payloads = {
            name: Payload(name=name, data=path.read_bytes(), ext=ext, mime=mime)
            for name, (path, ext, mime) in made.items()
        }
    # Random bytes under a .webm name: no container signature, nothing to decode.
    noise = np.random.default_rng(0).bytes(6_000)
    payloads["corrupt"] = Payload("corrupt", noise, "webm", "application/octet-stream", False)
    return payloads
