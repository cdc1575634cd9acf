"""One legacy message row of each generation, read into a LegacyMessage."""

from samia_chat.legacy.report import Report
from samia_chat.legacy.rules import MESSAGE_KINDS, MESSAGE_STATUSES
from samia_chat.legacy.shapes import GEN2_MESSAGES, GEN3_MESSAGES, LegacyMessage, text_or_none


def _kind(raw: str | None, report: Report, table: str, row_id: str) -> tuple[str, str]:
    raw = (raw or "text").strip().lower()
    kind = MESSAGE_KINDS.get(raw)
    if kind is None:
        report.anomaly("unknown_kind", table, row_id, f"type {raw!r} imported as text")
        kind = "text"
    return kind, raw


def _gen1(row: dict, table: str, report: Report) -> tuple[str | None, LegacyMessage]:
    row_id = str(row["id"])
    kind, kind_raw = _kind(row.get("type"), report, table, row_id)
    approved = row.get("is_approved")
    message = LegacyMessage(
        key=row_id,
        conversation="",
        sender=text_or_none(row.get("sender_id")),
        kind=kind,
        kind_raw=kind_raw,
        status_raw="",
        body=row.get("content") or "",
        created_at=row["created_at"],
        copies=[(table, row_id)],
        file_refs=[row["file_url"]] if row.get("file_url") else [],
        file_name=row.get("file_name") or "",
        reply_to=text_or_none(row.get("reply_to")),
        approval=None if approved is None else ("approved" if approved else None),
        reviewed_by=text_or_none(row.get("approved_by")),
        reviewed_at=row.get("approved_at"),
        read_by_recipient=bool(row.get("is_read")),
    )
    return text_or_none(row.get("booking_id")), message


def _gen2(row: dict, report: Report) -> tuple[str | None, LegacyMessage]:
    table = GEN2_MESSAGES
    row_id = str(row["id"])
    kind_raw = row.get("message_type") or ("voice" if row.get("voice_note_url") else "text")
    if row.get("is_system_message"):
        kind_raw = "system"
    kind, kind_raw = _kind(kind_raw, report, table, row_id)
    refs = [r for r in (row.get("file_attachment_url"), row.get("voice_note_url")) if r]
    message = LegacyMessage(
        key=text_or_none(row.get("message_id")) or row_id,
        conversation="",
        sender=text_or_none(row.get("sender_id")),
        kind=kind,
        kind_raw=kind_raw,
        status_raw="",
        body=row.get("message_content") or "",
        created_at=row["created_at"],
        copies=[(table, row_id)],
        file_refs=refs,
        reply_to=text_or_none(row.get("reply_to_message_id")),
        deleted=bool(row.get("is_deleted")),
        deleted_at=row.get("deleted_at"),
        read_by_recipient=bool(row.get("is_read") or row.get("read_at")),
    )
    return text_or_none(row.get("chat_session_id") or row.get("session_id")), message


def _gen3(row: dict, report: Report) -> tuple[str | None, LegacyMessage]:
    table = GEN3_MESSAGES
    row_id = str(row["id"])
    kind, kind_raw = _kind(row.get("type"), report, table, row_id)
    status_raw = (row.get("status") or "sent").lower()
    status = MESSAGE_STATUSES.get(status_raw)
    if status is None:
        report.anomaly("unknown_status", table, row_id, f"status {status_raw!r} read as sent")
        status = "sent"
    deleted = bool(row.get("is_deleted")) or status == "deleted"
    approval = {"approved": "approved", "rejected": "rejected", "pending": "pending"}.get(status)
    message = LegacyMessage(
        key=row_id,
        conversation="",
        sender=text_or_none(row.get("sender_id")),
        kind=kind,
        kind_raw=kind_raw,
        status_raw=status_raw,
        body=row.get("content") or "",
        created_at=row["created_at"],
        copies=[(table, row_id)],
        file_refs=[row["file_url"]] if row.get("file_url") else [],
        file_name=row.get("file_name") or "",
        reply_to=text_or_none(row.get("reply_to_message_id")),
        deleted=deleted,
        deleted_at=row.get("deleted_at"),
        approval=approval,
        reviewed_by=text_or_none(row.get("approved_by")),
        reviewed_at=row.get("approved_at"),
        read_by={str(p) for p in row.get("read_by") or []},
    )
    return text_or_none(row.get("session_id")), message
