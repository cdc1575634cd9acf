"""Writing the plan: people first, then each conversation in a transaction of its own, then
the old audit trail.

A conversation that fails is rolled back whole (its stored files removed), reported and
skipped; the next one goes on. Every legacy row written is recorded in LegacyRecord, so a
second run finds it and adds only what is new.
"""

import re
from collections.abc import Iterable
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from approvals.models import Decision, MessageReview
from chat.models import (
    Attachment,
    ChatSession,
    LegacyAuditEntry,
    LegacyRecord,
    Membership,
    Message,
)
from chat.services import hold_applies
from samia_chat.filecrypt import StoredFile, file_delete, file_store
from samia_chat.legacy.files import FileProblem, LegacyFiles
from samia_chat.legacy.plan import Conversation, LegacyMessage, Person, Plan
from samia_chat.legacy.report import Report
from samia_chat.legacy.rules import SESSION_STATUSES, STRAY_SESSION_STATUSES
from samia_chat.legacy.source import LegacySource
from samia_chat.models import Role, User

MEDIA_KINDS = {"voice", "image", "file"}
REJECTED_WITHOUT_NOTES = "Rejected in the previous platform."
_USERNAME_CHARS = re.compile(r"[^\w.@+-]")


class DryRunRollback(Exception):
    """Raised at the end of a dry run so nothing it wrote is kept."""


def _records(table: str, ids: Iterable[str]) -> dict[str, LegacyRecord]:
    ids = list(ids)
    found = {}
    for start in range(0, len(ids), 1000):
        for record in LegacyRecord.objects.filter(
            source_table=table, legacy_id__in=ids[start : start + 1000]
        ):
            found[record.legacy_id] = record
    return found


class Importer:
    def __init__(
        self,
        *,
        source: LegacySource,
        files: LegacyFiles,
        report: Report,
        dry_run: bool,
        progress,
    ) -> None:
        self.source = source
        self.files = files
        self.report = report
        self.dry_run = dry_run
        self.progress = progress
        self.users: dict[str, User] = {}

    def run(self, plan: Plan) -> None:
        self.people(plan.people)
        self.conversations(plan)
        self.audit()

    # --- people -----------------------------------------------------------------------------

    def _username(self, person: Person) -> str:
        base = _USERNAME_CHARS.sub("", (person.email or "").lower())[:140]
        base = base or f"legacy-{person.legacy_id[:8]}"
        candidate, n = base, 1
        while User.objects.filter(username=candidate).exists():
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def people(self, people: dict[str, Person]) -> None:
        known = _records("profiles", people)
        # Profiles first, then the ones merged into them.
        ordered = sorted(people.values(), key=lambda p: p.merged_into is not None)
        for person in self.progress(ordered, "profiles"):
            record = known.get(person.legacy_id)
            if record is not None:
                self.users[person.legacy_id] = User.objects.get(pk=record.target_id)
                self.report.outcome("profiles", "already")
                continue
            if person.merged_into is not None:
                user = self.users[person.merged_into]
                self._remember("profiles", person.legacy_id, "user", user.pk, merged=True)
                self.users[person.legacy_id] = user
                self.report.merge("profiles", person.legacy_id, person.merged_into)
                continue
            existing = (
                User.objects.filter(email__iexact=person.email).first() if person.email else None
            )
            if existing is not None:
                user = existing
                self.report.merge("profiles", person.legacy_id, f"existing user {existing.pk}")
            else:
                user = User(
                    username=self._username(person),
                    email=person.email,
                    display_name=person.display_name,
                    role=person.role,
                    is_active=person.active,
                    date_joined=person.created_at or timezone.now(),
                )
                # Passwords stayed with the old auth service: a reset sets a new one.
                user.set_unusable_password()
                user.save()
                self.report.outcome("profiles", "created")
                self.report.made["users"] += 1
            self._remember("profiles", person.legacy_id, "user", user.pk)
            self.users[person.legacy_id] = user

    def _remember(
        self, table: str, legacy_id: str, target_type: str, target_id: int | None, *, merged=False
    ) -> None:
        LegacyRecord.objects.update_or_create(
            source_table=table,
            legacy_id=legacy_id,
            defaults={
                "target_type": target_type,
                "target_id": target_id,
                "outcome": "merged" if merged else "created",
            },
        )

    # --- conversations ----------------------------------------------------------------------

    def conversations(self, plan: Plan) -> None:
        for conversation in self.progress(list(plan.conversations.values()), "conversations"):
            stored: list[str] = []
            try:
                with transaction.atomic():
                    self._conversation(conversation, plan, stored)
            except DryRunRollback:
                raise
            except Exception as exc:  # one bad conversation must not stop the others
                for key in stored:
                    file_delete(key)
                    self.files.forget(key)
                self.report.failed_conversations.append((conversation.key, repr(exc)))
                for message in conversation.messages.values():
                    for table, row_id in message.copies:
                        self.report.anomaly(
                            "conversation_failed", table, row_id, repr(exc), dropped=True
                        )

    def _session_for(self, conversation: Conversation) -> tuple[ChatSession, bool]:
        """The session this conversation became in an earlier run, or a new one."""
        keys = list(conversation.sources)
        if conversation.booking_id:
            keys.append(("bookings", conversation.booking_id))
        for table, legacy_id in keys:
            record = LegacyRecord.objects.filter(
                source_table=table, legacy_id=legacy_id, target_type="session"
            ).first()
            if record is not None:
                return ChatSession.objects.get(pk=record.target_id), False
        status_raw = conversation.status_raw or "ended"
        status = SESSION_STATUSES.get(status_raw)
        table, legacy_id = conversation.status_source or ("bookings", conversation.booking_id)
        if status is None:
            self.report.anomaly(
                "unknown_status", table, str(legacy_id), f"session status {status_raw!r} → ended"
            )
            status = ChatSession.Status.ENDED
        elif status_raw in STRAY_SESSION_STATUSES:
            self.report.anomaly(
                "stray_session_status", table, str(legacy_id), f"{status_raw!r} → {status}"
            )
        self.report.status_mapping[f"{status_raw} → {status}"] += 1
        created_at = conversation.created_at or min(
            (m.created_at for m in conversation.messages.values()), default=timezone.now()
        )
        session = ChatSession.objects.create(
            kind=conversation.kind,
            status=status,
            booking_ref=conversation.booking_id if conversation.kind == "reading" else None,
            service_name=conversation.service_name[:120],
            scheduled_at=conversation.scheduled_at,
            created_at=created_at,
            status_changed_at=created_at,
            last_activity_at=created_at,
        )
        self.report.made["sessions"] += 1
        return session, True

    def _conversation(self, conversation: Conversation, plan: Plan, stored: list[str]) -> None:
        session, created = self._session_for(conversation)
        for i, (table, legacy_id) in enumerate(conversation.sources):
            if LegacyRecord.objects.filter(source_table=table, legacy_id=legacy_id).exists():
                self.report.outcome(table, "already")
                continue
            first = created and i == 0
            self._remember(table, legacy_id, "session", session.pk, merged=not first)
            self.report.outcome(table, "created" if first else "merged")
        if conversation.booking_id:
            self._remember("bookings", conversation.booking_id, "session", session.pk)
        members = {self.users[p].pk: self.users[p] for p in conversation.members if p in self.users}
        have = set(Membership.objects.filter(session=session).values_list("user_id", flat=True))
        Membership.objects.bulk_create(
            [
                Membership(session=session, user=user, joined_at=session.created_at)
                for pk, user in members.items()
                if pk not in have
            ]
        )
        has_client = any(u.role == Role.CLIENT for u in members.values())
        ordered = sorted(conversation.messages.values(), key=lambda m: (m.created_at, m.key))
        fresh = self._not_imported(ordered)
        new_ids = self._messages_write(session, fresh, plan, has_client, stored)
        self._replies_link(fresh, new_ids)
        self._read_state(session, conversation, members)

    def _not_imported(self, messages: list[LegacyMessage]) -> list[LegacyMessage]:
        by_table: dict[str, list[str]] = {}
        for message in messages:
            for table, row_id in message.copies:
                by_table.setdefault(table, []).append(row_id)
        done = {(t, i) for t, ids in by_table.items() for i in _records(t, ids)}
        fresh = []
        for message in messages:
            if (message.copies[0][0], message.copies[0][1]) in done:
                for table, _ in message.copies:
                    self.report.outcome(table, "already")
                continue
            fresh.append(message)
        return fresh

    def _attachment(
        self, message: LegacyMessage, plan: Plan, session: ChatSession, stored: list[str]
    ) -> Attachment | None:
        refs = message.file_refs + plan.voice_files.get(message.key, [])
        table, row_id = message.copies[0]
        path = self.files.locate(refs)
        if path is None:
            detail = f"not found: {refs[0]}" if refs else "no file reference"
            self.report.anomaly("missing_file", table, row_id, detail)
            return None
        try:
            processed = self.files.process(path, kind=message.kind, name=message.file_name)
        except FileProblem as problem:
            self.report.anomaly(problem.kind, table, row_id, f"{path.name}: {problem.detail}")
            return None
        draft = processed.draft
        digest = processed.source_sha256
        sealed = self.files.sealed.get(digest) or self._sealed_earlier(digest)
        if sealed is None:
            # Stored once per content, however many keys, buckets or messages name it.
            if self.dry_run:
                sealed = StoredFile(f"dry-run/{digest}", "dry", b"", 0)
            else:
                sealed = file_store(draft.path, folder="imported")
                stored.append(sealed.storage_key)
            self.report.made["files_stored"] += 1
        self.files.sealed[digest] = sealed
        self.report.made["attachments"] += 1
        return Attachment.objects.create(
            source_sha256=digest,
            session=session,
            uploaded_by=self.users.get(message.sender),
            kind=draft.kind,
            content_type=draft.content_type,
            name=draft.name,
            size_bytes=sealed.size_bytes,
            storage_key=sealed.storage_key,
            key_id=sealed.key_id,
            wrapped_key=sealed.wrapped_key,
            duration_ms=draft.duration_ms,
            waveform=draft.waveform,
            width=draft.width,
            height=draft.height,
            created_at=message.created_at,
        )

    @staticmethod
    def _sealed_earlier(digest: str) -> StoredFile | None:
        """The object an earlier run stored for these bytes, if any."""
        earlier = Attachment.objects.filter(source_sha256=digest).first()
        if earlier is None:
            return None
        return StoredFile(
            earlier.storage_key, earlier.key_id, bytes(earlier.wrapped_key), earlier.size_bytes
        )

    def _messages_write(
        self,
        session: ChatSession,
        messages: list[LegacyMessage],
        plan: Plan,
        has_client: bool,
        stored: list[str],
    ) -> dict[str, int]:
        """Insert the conversation's new messages in order (ids follow it), with their
        files, reviews and legacy records, a few statements per batch."""
        rows: list[Message] = []
        reviews: list[tuple[int, LegacyMessage]] = []
        latest = session.last_message.created_at if session.last_message_id else None
        for message in messages:
            sender = self.users.get(message.sender)
            table, row_id = message.copies[0]
            if latest is not None and message.created_at < latest:
                self.report.anomaly("late_message", table, row_id, "older than the session's last")
            status, body, attachment = Message.Status.SENT, message.body, None
            if message.deleted:
                status, body = Message.Status.DELETED, ""
            elif message.kind in MEDIA_KINDS:
                attachment = self._attachment(message, plan, session, stored)
            held = (
                not message.deleted
                and has_client
                and hold_applies(kind=message.kind, sender=sender)
            )
            if held:
                status = _held_status(message)
                reviews.append((len(rows), message))
            rows.append(
                Message(
                    session=session,
                    sender=sender,
                    kind=message.kind,
                    body=body,
                    status=status,
                    created_at=message.created_at,
                    deleted_at=message.deleted_at
                    or (message.created_at if message.deleted else None),
                    attachment=attachment,
                    client_msg_id=f"legacy-{message.key}"[:64],
                )
            )
        Message.objects.bulk_create(rows, batch_size=500)
        MessageReview.objects.bulk_create(
            [self._review(rows[i], message) for i, message in reviews], batch_size=500
        )
        records = []
        for row, message in zip(rows, messages, strict=True):
            table, row_id = message.copies[0]
            records.append(
                LegacyRecord(
                    source_table=table, legacy_id=row_id, target_type="message", target_id=row.pk
                )
            )
            self.report.outcome(table, "created")
            for copy_table, copy_id in message.copies[1:]:
                records.append(
                    LegacyRecord(
                        source_table=copy_table,
                        legacy_id=copy_id,
                        target_type="message",
                        target_id=row.pk,
                        merged_into=row_id,
                        outcome="merged",
                    )
                )
                self.report.outcome(copy_table, "merged")
            if message.key not in {row_id for _, row_id in message.copies}:
                # Generation 2 names a message by message_id, not its row id: find it by both.
                records.append(
                    LegacyRecord(
                        source_table="message_ids",
                        legacy_id=message.key,
                        target_type="message",
                        target_id=row.pk,
                        merged_into=row_id,
                        outcome="alias",
                    )
                )
        LegacyRecord.objects.bulk_create(records, batch_size=1000, ignore_conflicts=True)
        self.report.made["messages"] += len(rows)
        if rows:
            last = rows[-1]
            ChatSession.objects.filter(pk=session.pk).update(
                last_message=last, last_activity_at=max(last.created_at, session.last_activity_at)
            )
        return {message.key: row.pk for row, message in zip(rows, messages, strict=True)}

    def _review(self, row: Message, message: LegacyMessage) -> MessageReview:
        """A held kind from a reader to a client is released only if the old data says it
        was approved; anything else stays held, so no unreviewed audio reaches a client."""
        status = {
            Message.Status.SENT: Decision.APPROVED,
            Message.Status.REJECTED: Decision.REJECTED,
        }.get(row.status, Decision.PENDING)
        decided = status != Decision.PENDING
        if not decided:
            self.report.made["held_for_review"] += 1
        self.report.made["reviews"] += 1
        return MessageReview(
            message=row,
            status=status,
            submitted_at=row.created_at,
            decided_by=self.users.get(message.reviewed_by or "") if decided else None,
            decided_at=(message.reviewed_at or row.created_at) if decided else None,
            reason=(message.review_notes or REJECTED_WITHOUT_NOTES)[:500]
            if status == Decision.REJECTED
            else "",
        )

    def _replies_link(self, messages: list[LegacyMessage], new_ids: dict[str, int]) -> None:
        for message in messages:
            if not message.reply_to:
                continue
            target = new_ids.get(message.reply_to)
            if target is None:
                record = LegacyRecord.objects.filter(
                    legacy_id=message.reply_to, target_type="message"
                ).first()
                target = record.target_id if record else None
            if target is not None:
                Message.objects.filter(pk=new_ids[message.key]).update(reply_to_id=target)

    def _read_state(
        self, session: ChatSession, conversation: Conversation, members: dict[int, User]
    ) -> None:
        read_up_to: dict[int, int] = {}
        records = _records_for_messages(conversation)
        for message in conversation.messages.values():
            new_id = records.get(message.key)
            if new_id is None:
                continue
            readers = set(message.read_by)
            readers.add(message.sender)
            if message.read_by_recipient:
                readers |= conversation.members - {message.sender}
            for legacy_person in readers:
                user = self.users.get(legacy_person or "")
                if user is not None and user.pk in members:
                    read_up_to[user.pk] = max(read_up_to.get(user.pk, 0), new_id)
        for user_id, up_to in read_up_to.items():
            Membership.objects.filter(
                session=session, user_id=user_id, last_read_message_id__lt=up_to
            ).update(last_read_message_id=up_to)

    # --- the old audit trail ----------------------------------------------------------------

    def audit(self) -> None:
        for table, action_column in (
            ("chat_audit_logs", "action"),
            ("chat_monitoring", "event_type"),
        ):
            done = set(
                LegacyRecord.objects.filter(source_table=table).values_list("legacy_id", flat=True)
            )
            batch: list[LegacyAuditEntry] = []
            total = self.source.count(table)
            for row in self.progress(self.source.rows(table, order_by="id"), table, total=total):
                self.report.read(table)
                legacy_id = str(row["id"])
                if legacy_id in done:
                    self.report.outcome(table, "already")
                    continue
                batch.append(self._audit_entry(table, row, action_column))
                if len(batch) >= 500:
                    self._audit_flush(table, batch)
            self._audit_flush(table, batch)

    def _audit_entry(self, table: str, row: dict, action_column: str) -> LegacyAuditEntry:
        record_id = str(row.get("record_id") or "")
        target = None
        if record_id:
            # Its own table first; the same id may be known from another generation's copy.
            found = LegacyRecord.objects.filter(legacy_id=record_id).exclude(target_type="audit")
            target = found.filter(source_table=row.get("table_name") or "").first() or found.first()
        session = None
        if row.get("session_id"):
            session_record = (
                LegacyRecord.objects.filter(legacy_id=str(row["session_id"]), target_type="session")
                .order_by("id")
                .first()
            )
            session = session_record.target_id if session_record else None
        user = self.users.get(str(row.get("user_id") or ""))
        return LegacyAuditEntry(
            source_table=table,
            legacy_id=str(row["id"]),
            user=user,
            action=str(row.get(action_column) or "").lower()[:40],
            table_name=str(row.get("table_name") or "")[:80],
            record_id=record_id[:64],
            target_type=target.target_type if target else "",
            target_id=target.target_id if target else None,
            session_id=session,
            old_values=row.get("old_values"),
            new_values=row.get("new_values"),
            metadata=row.get("metadata"),
            ip_address=str(row["ip_address"]) if row.get("ip_address") else None,
            user_agent=str(row.get("user_agent") or "")[:300],
            at=row.get("timestamp") or row.get("created_at"),
        )

    def _audit_flush(self, table: str, batch: list[LegacyAuditEntry]) -> None:
        if not batch:
            return
        with transaction.atomic():
            made = LegacyAuditEntry.objects.bulk_create(batch)
            LegacyRecord.objects.bulk_create(
                [
                    LegacyRecord(
                        source_table=table,
                        legacy_id=entry.legacy_id,
                        target_type="audit",
                        target_id=entry.pk,
                    )
                    for entry in made
                ]
            )
        self.report.outcome(table, "created", len(batch))
        self.report.made["audit_entries"] += len(batch)
        batch.clear()


def _held_status(message: LegacyMessage) -> str:
    if message.approval == "approved":
        return Message.Status.SENT
    if message.approval == "rejected":
        return Message.Status.REJECTED
    return Message.Status.PENDING_REVIEW


def _records_for_messages(conversation: Conversation) -> dict[str, int]:
    """legacy message key -> our message id, for every message of the conversation."""
    found: dict[str, int] = {}
    by_table: dict[str, dict[str, str]] = {}
    for message in conversation.messages.values():
        table, row_id = message.copies[0]
        by_table.setdefault(table, {})[row_id] = message.key
    for table, ids in by_table.items():
        for legacy_id, record in _records(table, ids).items():
            if record.target_id is not None:
                found[ids[legacy_id]] = record.target_id
    return found


def import_run(
    *,
    dsn: str,
    files_root: Path,
    dry_run: bool,
    progress,
    report: Report | None = None,
) -> Report:
    """Import everything; returns the report. A dry run rolls every write back."""
    from samia_chat.legacy.plan import plan_build

    report = report or Report(dry_run=dry_run)
    source = LegacySource(dsn, progress=progress)
    files = LegacyFiles(files_root)
    try:
        plan = plan_build(source, report)
        importer = Importer(
            source=source, files=files, report=report, dry_run=dry_run, progress=progress
        )
        if dry_run:
            # Everything in one transaction, rolled back at the end: a dry run writes
            # nothing (and stores no file), but meets every problem a real run would.
            try:
                with transaction.atomic():
                    importer.run(plan)
                    raise DryRunRollback
            except DryRunRollback:
                pass
        else:
            importer.run(plan)
    finally:
        files.close()
        source.close()
    return report
