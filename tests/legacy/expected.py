"""What a correct import of the legacy world produces, derived from what the ledger wrote
(the rules are in builder.py's docstring)."""

from collections import defaultdict

from tests.legacy.ledger import MESSAGE_TABLES, Conversation, Ledger, Profile
from tests.legacy.schema import TABLES

SESSION_SOURCES = ("messages", "chat_sessions_backup", "chat_sessions")

SESSION_STATUSES = {"active": "active", "paused": "paused", "locked": "locked", "ended": "ended"}
STRAY_SESSION_STATUSES = {"archived": "ended", "completed": "ended", "terminated": "ended"}
GEN3_MESSAGE_STATUSES = {"sent", "pending_approval", "approved", "rejected", "deleted"}
ROLES = {
    "client": "client",
    "reader": "reader",
    "monitor": "monitor",
    "admin": "admin",
    "super_admin": "super_admin",
    "superadmin": "super_admin",
}
ANOMALY_OUTCOMES = {
    "orphan_message": "skipped",
    "missing_file": "imported",
    "undecodable_audio": "imported",
    "unknown_sender": "imported",
    "unknown_status": "imported",
    "dangling_reply": "imported",
    "stray_session_status": "imported",
}


def expected_from(ledger: Ledger) -> dict:
    """The expectations of the world `ledger` wrote (keys listed in builder.py). Raises
    AssertionError if the declared duplicates or the row arithmetic are inconsistent."""
    anomalies: dict[str, list[str]] = defaultdict(list)
    accounts, user_merges = _accounts(ledger)
    sessions, session_merges, session_of = _sessions(ledger, anomalies)
    messages, message_merges, aliases, skipped = _messages(ledger, anomalies, session_of)
    for key, detail in messages.items():
        sessions[detail["session"]]["messages"].append(key)
    for detail in sessions.values():
        detail["messages"].sort(key=lambda key: (messages[key]["created_at"], key))
    stored = {
        m["attachment"]["sha256"]
        for m in messages.values()
        if m["attachment"] and m["attachment"]["available"]
    }
    rows = {table: len(ledger.rows[table]) for table in TABLES}
    message_rows = sum(rows[table] for table in MESSAGE_TABLES)
    merged_messages = sum(len(group["merged"]) for group in message_merges)
    assert message_rows == len(messages) + merged_messages + skipped
    session_sources = sum(len(c.sources) for c in ledger.conversations)
    by_status = lambda status: sorted(k for k, m in messages.items() if m["status"] == status)  # noqa: E731
    return {
        "rows": rows,
        "users": len(accounts),
        "accounts": accounts,
        "sessions": len(sessions),
        "session_detail": sessions,
        "session_aliases": {str(alias): key for alias, key in session_of.items()},
        "messages": len(messages),
        "message_detail": messages,
        "message_aliases": aliases,
        "merges": {
            "users": user_merges,
            "sessions": session_merges,
            "messages": message_merges,
        },
        "anomalies": {kind: sorted(ids) for kind, ids in sorted(anomalies.items())},
        "anomaly_outcomes": dict(ANOMALY_OUTCOMES),
        "file_contents": len(stored),
        "files": {
            "written": len(ledger.files_written),
            "referenced": len(
                {loc for m in ledger.messages if m.attachment for loc in m.attachment.locations}
            ),
            "missing": sorted(ledger.files_missing),
            "undecodable": sorted(
                loc
                for m in ledger.messages
                if m.attachment and m.attachment.payload and not m.attachment.payload.decodable
                for loc in m.attachment.locations
            ),
            "stored_sha256": sorted(stored),
        },
        "held": by_status("pending_review"),
        "deleted": by_status("deleted"),
        "rejected": by_status("rejected"),
        "unavailable_attachments": sorted(
            k for k, m in messages.items() if m["attachment"] and not m["attachment"]["available"]
        ),
        "reviews": {k: m["review"] for k, m in messages.items() if m["review"]},
        "history": {
            "chat_audit_logs": rows["chat_audit_logs"],
            "chat_monitoring": rows["chat_monitoring"],
        },
        "balance": {
            "users": {
                "in": rows["profiles"],
                "out": len(accounts),
                "merged": sum(len(g["merged"]) for g in user_merges),
                "skipped": 0,
            },
            "sessions": {
                "in": session_sources,
                "out": len(sessions),
                "merged": session_sources - len(sessions),
                "skipped": 0,
            },
            "messages": {
                "in": message_rows,
                "out": len(messages),
                "merged": merged_messages,
                "skipped": skipped,
            },
        },
    }


def _accounts(ledger: Ledger):
    # The declared duplicates must be exactly what the matching rule finds.
    first_by_email: dict[str, Profile] = {}
    for profile in sorted(ledger.profiles, key=lambda p: (p.created_at, str(p.id))):
        if not profile.email:
            assert profile.duplicate_of is None
            continue
        first = first_by_email.setdefault(profile.email.lower(), profile)
        assert (first if first is not profile else None) is profile.duplicate_of, profile.email
    accounts = {}
    merges = []
    for profile in ledger.profiles:
        if profile.duplicate_of is not None:
            continue
        twins = [p for p in ledger.profiles if p.duplicate_of is profile]
        accounts[str(profile.id)] = {
            "legacy_ids": [str(profile.id)] + [str(p.id) for p in twins],
            "email": profile.email,
            "role": ROLES[profile.role],
            "is_active": profile.active,
        }
        if twins:
            merges.append(
                {"into": str(profile.id), "merged": [["profiles", str(p.id)] for p in twins]}
            )
    return accounts, merges


def _sessions(ledger: Ledger, anomalies):
    sessions, merges, session_of = {}, [], {}
    for conversation in ledger.conversations:
        if not conversation.sources:
            continue
        key = str(conversation.key)
        sources = sorted(conversation.sources, key=lambda s: SESSION_SOURCES.index(s[0]))
        for _table, source_id in sources:
            session_of[source_id] = key
        session_of[conversation.key] = key
        if len(sources) > 1:
            merges.append({"into": key, "merged": [[t, str(i)] for t, i in sources[1:]]})
        status = _session_status(ledger, conversation, anomalies)
        booking = conversation.booking
        sessions[key] = {
            "kind": conversation.kind,
            "status": status,
            "booking_id": str(booking.id) if booking else None,
            "client": str(booking.client.account.id) if booking else None,
            "reader": str(booking.reader.account.id) if booking else None,
            "participants": sorted({str(p.account.id) for p in conversation.participants}),
            "sources": [[t, str(i)] for t, i in sources],
            "messages": [],
        }
    return sessions, merges, session_of


def _session_status(ledger: Ledger, conversation: Conversation, anomalies) -> str:
    for table in ("chat_sessions", "chat_sessions_backup"):
        raw = conversation.raw_status.get(table)
        if raw is None:
            continue
        if raw in STRAY_SESSION_STATUSES:
            source_id = next(i for t, i in conversation.sources if t == table)
            anomalies["stray_session_status"].append(str(source_id))
            return STRAY_SESSION_STATUSES[raw]
        return SESSION_STATUSES[raw]
    booking_status = conversation.booking.status
    return "ended" if booking_status in ("completed", "cancelled") else "active"


def _messages(ledger: Ledger, anomalies, session_of):
    details, merges, aliases = {}, [], {}
    skipped = 0
    canonical_of: dict[int, str] = {}
    for message in ledger.messages:
        copies = sorted(message.copies, key=lambda c: MESSAGE_TABLES.index(c[0]))
        assert copies, "every logical message is written at least once"
        canonical_of[id(message)] = str(copies[0][1])
    for message in ledger.messages:
        copies = sorted(message.copies, key=lambda c: MESSAGE_TABLES.index(c[0]))
        canonical = canonical_of[id(message)]
        if message.conversation is None:
            anomalies["orphan_message"].extend(str(i) for _t, i in copies)
            skipped += len(copies)
            continue
        for _table, legacy_id in copies:
            aliases[str(legacy_id)] = canonical
        if len(copies) > 1:
            merges.append({"into": canonical, "merged": [[t, str(i)] for t, i in copies[1:]]})
        if message.sender is None:
            anomalies["unknown_sender"].append(canonical)
        if message.raw_status is not None and message.raw_status not in GEN3_MESSAGE_STATUSES:
            anomalies["unknown_status"].append(canonical)
        if message.reply_to_id is not None and message.reply_to is None:
            anomalies["dangling_reply"].append(canonical)
        attachment = message.attachment
        if attachment is not None and attachment.payload is None:
            anomalies["missing_file"].append(canonical)
        elif attachment is not None and not attachment.payload.decodable:
            anomalies["undecodable_audio"].append(canonical)
        review = message.review
        details[canonical] = {
            "session": str(message.conversation.key),
            "sender": str(message.sender.account.id) if message.sender else None,
            "kind": message.kind,
            "created_at": message.at.isoformat(),
            "content": message.content,
            "status": message.status,
            "reply_to": canonical_of[id(message.reply_to)] if message.reply_to else None,
            "read_by": sorted(
                {str(p.account.id) for p in message.read_by if p is not message.sender}
            ),
            "edited": message.original_content is not None,
            "attachment": None
            if attachment is None
            else {
                "kind": attachment.kind,
                "sha256": attachment.payload.sha256 if attachment.payload else None,
                "available": attachment.available,
                "locations": list(attachment.locations),
            },
            "review": None
            if review is None
            else {
                "decision": review["decision"],
                "reviewer": str(review["reviewer"].account.id),
                "reviewed_at": review["at"].isoformat(),
                "notes": review.get("notes"),
            },
            "copies": [[t, str(i)] for t, i in copies],
        }
    return details, merges, aliases, skipped
