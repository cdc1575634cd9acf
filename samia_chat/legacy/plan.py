"""Reading the old tables into one plan: people, conversations and their messages, with
every duplicate across generations merged and every oddity recorded.

Nothing is written here. The plan keeps what the import needs of each row (texts are
short; files stay on disk until a conversation is written), so memory grows with the
number of messages, not with their files.
"""

import hashlib
from collections import defaultdict

from samia_chat.legacy.report import Report
from samia_chat.legacy.rows import _gen1, _gen2, _gen3
from samia_chat.legacy.rules import ROLES, SESSION_KINDS
from samia_chat.legacy.shapes import (
    GEN1,
    GEN2_MESSAGES,
    GEN2_SESSIONS,
    GEN3_MESSAGES,
    GEN3_SESSIONS,
    NOT_IMPORTED,
    Conversation,
    LegacyMessage,
    Person,
    Plan,
    text_or_none,
)
from samia_chat.legacy.source import LegacySource

# --- people -------------------------------------------------------------------------------


def _people(source: LegacySource, report: Report) -> dict[str, Person]:
    people: dict[str, Person] = {}
    first_by_email: dict[str, str] = {}
    for row in source.rows("profiles", order_by="created_at NULLS LAST, id"):
        report.read("profiles")
        legacy_id = str(row["id"])
        role_raw = (row.get("role") or "client").strip().lower()
        role = ROLES.get(role_raw)
        if role is None:
            report.anomaly("unknown_role", "profiles", legacy_id, f"role {role_raw!r} → client")
            role = "client"
        name = (
            row.get("display_name")
            or row.get("name")
            or " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
            or ""
        )
        email = (row.get("email") or "").strip()
        person = Person(
            legacy_id=legacy_id,
            email=email,
            display_name=name.strip()[:80],
            role=role,
            role_raw=role_raw,
            active=bool(row.get("is_active", True))
            and not row.get("deactivated")
            and row.get("deleted_at") is None,
            created_at=row.get("created_at"),
        )
        if email and email.lower() in first_by_email:
            person.merged_into = first_by_email[email.lower()]
        elif email:
            first_by_email[email.lower()] = legacy_id
        people[legacy_id] = person
    return people


# --- conversations ------------------------------------------------------------------------


def _bookings(source: LegacySource, report: Report) -> dict[str, dict]:
    services = {}
    for row in source.rows("services"):
        report.read("services")
        report.outcome("services", "used")
        services[str(row["id"])] = row.get("name_en") or row.get("name") or ""
    bookings = {}
    for row in source.rows("bookings"):
        report.read("bookings")
        report.outcome("bookings", "used")
        bookings[str(row["id"])] = {
            "client": text_or_none(row.get("client_id") or row.get("user_id")),
            "reader": text_or_none(row.get("reader_id")),
            "scheduled_at": row.get("scheduled_at"),
            "service": services.get(text_or_none(row.get("service_id")) or "", ""),
            "is_emergency": bool(row.get("is_emergency")),
            "created_at": row.get("created_at"),
            "status": (row.get("status") or "").lower(),
        }
    return bookings


class _Conversations:
    def __init__(self, bookings: dict[str, dict]) -> None:
        self.bookings = bookings
        self.by_key: dict[str, Conversation] = {}
        # legacy session id -> conversation key, per generation's session table
        self.session_keys: dict[str, dict[str, str]] = {GEN2_SESSIONS: {}, GEN3_SESSIONS: {}}

    def for_booking(self, booking_id: str) -> Conversation:
        key = f"booking:{booking_id}"
        if key not in self.by_key:
            booking = self.bookings.get(booking_id, {})
            conversation = Conversation(
                key=key,
                kind="emergency" if booking.get("is_emergency") else "reading",
                booking_id=booking_id,
                client=booking.get("client"),
                reader=booking.get("reader"),
                created_at=booking.get("created_at"),
                service_name=booking.get("service", ""),
                scheduled_at=booking.get("scheduled_at"),
                # A conversation only generation 1 knows is over when its booking is.
                status_raw=(
                    "ended" if booking.get("status") in ("completed", "cancelled") else "active"
                ),
            )
            conversation.members |= {p for p in (conversation.client, conversation.reader) if p}
            self.by_key[key] = conversation
        return self.by_key[key]

    def for_session(self, prefix: str, session_id: str, kind: str) -> Conversation:
        key = f"{prefix}:{session_id}"
        if key not in self.by_key:
            self.by_key[key] = Conversation(key=key, kind=kind)
        return self.by_key[key]

    def of_message(self, table: str, owner: str | None) -> Conversation | None:
        """The conversation a message row names: generation 1 by booking, generation 2 and
        3 by their own session tables. None for an orphan."""
        if owner is None:
            return None
        if table in GEN1:
            return self.for_booking(owner) if owner in self.bookings else None
        sessions = self.session_keys[GEN2_SESSIONS if table == GEN2_MESSAGES else GEN3_SESSIONS]
        return self.by_key[sessions[owner]] if owner in sessions else None


def _sessions(source: LegacySource, report: Report, found: _Conversations) -> None:
    """Generation 2 and 3 session rows: one conversation per booking, else per session."""
    for table, prefix in ((GEN2_SESSIONS, "g2"), (GEN3_SESSIONS, "g3")):
        for row in source.rows(table, order_by="created_at NULLS LAST, id"):
            report.read(table)
            session_id = str(row["id"])
            booking_id = text_or_none(row.get("booking_id"))
            # Generation 3 reused booking ids as session ids.
            if booking_id is None and session_id in found.bookings:
                booking_id = session_id
            kind = SESSION_KINDS.get((row.get("type") or "booking").lower(), "support")
            if booking_id is not None:
                conversation = found.for_booking(booking_id)
            else:
                conversation = found.for_session(prefix, session_id, kind)
            if row.get("type") and booking_id is None:
                conversation.kind = kind
            found.session_keys[table][session_id] = conversation.key
            conversation.sources.append((table, session_id))
            # The newest generation's status wins: rows arrive generation 2 first.
            if row.get("status"):
                conversation.status_raw = row["status"].lower()
                conversation.status_source = (table, session_id)
            if booking_id is None:
                # Without a booking, the session's own people are the participants.
                for person in (row.get("client_id"), row.get("reader_id")):
                    if person:
                        conversation.members.add(str(person))
                for person in row.get("participants") or []:
                    conversation.members.add(str(person))
            if conversation.created_at is None or (
                row.get("created_at") and row["created_at"] < conversation.created_at
            ):
                conversation.created_at = row.get("created_at") or conversation.created_at


# --- messages -----------------------------------------------------------------------------


def _fingerprint(message: LegacyMessage) -> tuple:
    """Same sender, same moment, same content: the same message written twice."""
    digest = hashlib.sha256(message.body.encode()).hexdigest()
    return (message.sender, message.created_at, digest)


def _messages(
    source: LegacySource,
    report: Report,
    found: _Conversations,
    people: dict[str, Person],
    aliases: dict[str, str],
) -> None:
    """Every message row, merged into the message it copies. `aliases` receives every
    legacy id (row ids, generation 2 message ids) -> the surviving message's id."""
    readers = (
        *((t, lambda r, t=t: _gen1(r, t, report)) for t in GEN1),
        (GEN2_MESSAGES, lambda r: _gen2(r, report)),
        (GEN3_MESSAGES, lambda r: _gen3(r, report)),
    )
    fingerprints: dict[str, dict[tuple, str]] = defaultdict(dict)
    for table, read in readers:
        for row in source.rows(table, order_by="created_at, id"):
            report.read(table)
            row_id = str(row["id"])
            owner, message = read(row)
            conversation = found.of_message(table, owner)
            if conversation is None:
                report.anomaly(
                    "orphan_message", table, row_id, f"no session or booking {owner}", dropped=True
                )
                continue
            if message.sender in people:
                sender = people[message.sender]
                message.sender = sender.merged_into or sender.legacy_id
            else:
                # Kept, without a sender: the words are part of the record.
                report.anomaly("unknown_sender", table, row_id, f"sender {message.sender}")
                message.sender = None
            message.conversation = conversation.key
            aliases[row_id] = aliases.get(row_id) or message.key
            same_key = aliases.get(message.key)
            same = conversation.messages.get(same_key) if same_key else None
            if same is None:
                twin = fingerprints[conversation.key].get(_fingerprint(message))
                same = conversation.messages.get(twin) if twin else None
            if same is not None:
                same.absorb(message)
                aliases[row_id] = aliases[message.key] = same.key
                # Counted when written (merged, or already imported by an earlier run).
                report.merge(table, row_id, same.key, count=False)
                continue
            conversation.messages[message.key] = message
            aliases[message.key] = aliases[row_id] = message.key
            fingerprints[conversation.key][_fingerprint(message)] = message.key


def _reviews(
    source: LegacySource,
    report: Report,
    messages: dict[str, LegacyMessage],
    aliases: dict[str, str],
) -> None:
    """The review table decides a reader voice note's fate where it has a row."""
    for row in source.rows("voice_note_approvals", order_by="created_at, id"):
        report.read("voice_note_approvals")
        message = messages.get(aliases.get(str(row["message_id"]), ""))
        if message is None:
            report.anomaly(
                "orphan_review",
                "voice_note_approvals",
                str(row["id"]),
                "its message is unknown",
                dropped=True,
            )
            continue
        status = (row.get("status") or "pending").lower()
        if status not in ("pending", "approved", "rejected"):
            report.anomaly(
                "unknown_status", "voice_note_approvals", str(row["id"]), f"status {status!r}"
            )
            status = "pending"
        message.approval = status
        message.reviewed_by = text_or_none(row.get("reviewed_by"))
        message.reviewed_at = row.get("updated_at") if status != "pending" else None
        message.review_notes = row.get("review_notes") or ""
        report.outcome("voice_note_approvals", "used")


def _voice_files(
    source: LegacySource, report: Report, aliases: dict[str, str]
) -> dict[str, list[str]]:
    """Files voice_notes rows name, by surviving message id (the URL first: it names the
    bucket; the path is the key inside it)."""
    found: dict[str, list[str]] = defaultdict(list)
    for table in ("voice_notes", "voice_notes_backup"):
        for row in source.rows(table):
            report.read(table)
            key = aliases.get(str(row["message_id"]), str(row["message_id"]))
            for ref in (row.get("file_url"), row.get("file_path")):
                if ref and ref not in found[key]:
                    found[key].append(ref)
            report.outcome(table, "used")
    return found


def _replies_resolve(
    messages: dict[str, LegacyMessage], aliases: dict[str, str], report: Report
) -> None:
    """Point replies at surviving messages; a reply to nothing keeps its words, not the link."""
    for message in messages.values():
        if message.reply_to is None:
            continue
        target = aliases.get(message.reply_to)
        if target is None:
            table, row_id = message.copies[0]
            report.anomaly("dangling_reply", table, row_id, f"reply to {message.reply_to}")
        message.reply_to = target


def plan_build(source: LegacySource, report: Report) -> Plan:
    people = _people(source, report)
    found = _Conversations(_bookings(source, report))
    _sessions(source, report, found)
    aliases: dict[str, str] = {}
    _messages(source, report, found, people, aliases)
    every_message = {m.key: m for c in found.by_key.values() for m in c.messages.values()}
    _replies_resolve(every_message, aliases, report)
    _reviews(source, report, every_message, aliases)
    voice_files = _voice_files(source, report, aliases)
    for table in NOT_IMPORTED:
        # Not imported, by rule: counted, not read.
        skipped = source.count(table)
        report.outcome(table, "read", skipped)
        report.outcome(table, "skipped", skipped)
    for conversation in found.by_key.values():
        conversation.members &= set(people)
        conversation.members = {people[p].merged_into or p for p in conversation.members}
        for role in ("client", "reader"):
            person = getattr(conversation, role)
            if person in people:
                setattr(conversation, role, people[person].merged_into or person)
    return Plan(people=people, conversations=found.by_key, voice_files=voice_files)
