"""The old audit trail and monitoring log, kept as read-only history (chat.LegacyAuditEntry)
and linked to what each record became here."""

from django.db import transaction

from chat.models import LegacyAuditEntry
from samia_chat.legacy.records import RecordIndex
from samia_chat.legacy.report import Report
from samia_chat.legacy.source import LegacySource
from samia_chat.models import User

SOURCES = (("chat_audit_logs", "action"), ("chat_monitoring", "event_type"))
BATCH = 500


def history_import(
    *, source: LegacySource, records: RecordIndex, users: dict[str, User], report: Report
) -> None:
    for table, action_column in SOURCES:
        batch: list[LegacyAuditEntry] = []
        for row in source.rows(table, order_by="id"):
            report.read(table)
            if records.get(table, str(row["id"])) is not None:
                report.outcome(table, "already")
                continue
            batch.append(_entry(table, row, action_column, records, users))
            if len(batch) >= BATCH:
                _flush(table, batch, records, report)
        _flush(table, batch, records, report)


def _entry(
    table: str, row: dict, action_column: str, records: RecordIndex, users: dict[str, User]
) -> LegacyAuditEntry:
    record_id = str(row.get("record_id") or "")
    # Its own table first: the same id may be known from another generation's copy.
    target = records.find(record_id, table=row.get("table_name") or "") if record_id else None
    if target is not None and target.type == "audit":
        target = None
    session = (
        records.find(str(row["session_id"]), target_type="session")
        if row.get("session_id")
        else None
    )
    return LegacyAuditEntry(
        source_table=table,
        legacy_id=str(row["id"]),
        user=users.get(str(row.get("user_id") or "")),
        # Written in upper case by the old triggers (INSERT/UPDATE/DELETE).
        action=str(row.get(action_column) or "").lower()[:40],
        table_name=str(row.get("table_name") or "")[:80],
        record_id=record_id[:64],
        target_type=target.type if target else "",
        target_id=target.id if target else None,
        session_id=session.id if session else None,
        old_values=row.get("old_values"),
        new_values=row.get("new_values"),
        metadata=row.get("metadata"),
        ip_address=str(row["ip_address"]) if row.get("ip_address") else None,
        user_agent=str(row.get("user_agent") or "")[:300],
        at=row.get("timestamp") or row.get("created_at"),
    )


def _flush(table: str, batch: list[LegacyAuditEntry], records: RecordIndex, report: Report) -> None:
    if not batch:
        return
    with transaction.atomic():
        for entry in LegacyAuditEntry.objects.bulk_create(batch):
            records.stage(table, entry.legacy_id, "audit", entry.pk)
        records.flush()
    records.commit()
    report.outcome(table, "created", len(batch))
    report.made["audit_entries"] += len(batch)
    batch.clear()
