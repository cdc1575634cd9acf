"""Writing the plan: people first, then each conversation in a transaction of its own, then
the old audit trail (history.py).

A conversation that fails is rolled back whole (its stored files removed), reported and
skipped; the next one goes on. Every legacy row written is recorded (records.py), so a
second run finds it and adds only what is new. Lookups are answered from memory and rows
are written in batches: a conversation costs a handful of statements, not one per message.
"""

from pathlib import Path

from django.db import transaction
from django.utils import timezone

from approvals.models import Decision, MessageReview
from chat.models import Attachment, ChatSession, Membership, Message
from chat.services import hold_applies
from samia_chat.filecrypt import StoredFile, file_delete, file_store
from samia_chat.legacy.files import FileProblem, LegacyFiles
from samia_chat.legacy.history import history_import
from samia_chat.legacy.people import people_import
from samia_chat.legacy.plan import plan_build
from samia_chat.legacy.records import RecordIndex
from samia_chat.legacy.report import Report
from samia_chat.legacy.rules import SESSION_STATUSES, STRAY_SESSION_STATUSES
from samia_chat.legacy.shapes import Conversation, LegacyMessage, Person, Plan
from samia_chat.legacy.source import LegacySource
from samia_chat.models import Role, User

MEDIA_KINDS = {"voice", "image", "file"}
REJECTED_WITHOUT_NOTES = "Rejected in the previous platform."


class DryRunRollback(Exception):
    """Raised at the end of a dry run so nothing it wrote is kept."""


def _held_status(message: LegacyMessage) -> str:
    if message.approval == "approved":
        return Message.Status.SENT
    if message.approval == "rejected":
        return Message.Status.REJECTED
    return Message.Status.PENDING_REVIEW


class Importer:
    def __init__(
        self, *, source: LegacySource, files: LegacyFiles, report: Report, dry_run: bool, progress
    ) -> None:
        self.source = source
        self.files = files
        self.report = report
        self.dry_run = dry_run
        self.progress = progress
        self.records = RecordIndex()
        self.users: dict[str, User] = {}

    def run(self, plan: Plan) -> None:
        self.people(plan.people)
        self.files.prepare(self._files_wanted(plan), self.progress)
        self.conversations(plan)
        history_import(
            source=self.source, records=self.records, users=self.users, report=self.report
        )

    def _files_wanted(self, plan: Plan) -> list[tuple[Path, str, str]]:
        """The file each not yet imported media message will carry, found on disk."""
        wanted = []
        for conversation in plan.conversations.values():
            for message in conversation.messages.values():
                if message.kind not in MEDIA_KINDS or message.deleted:
                    continue
                if self.records.get(*message.copies[0]) is not None:
                    continue
                path = self.files.locate(message.file_refs + plan.voice_files.get(message.key, []))
                if path is not None:
                    wanted.append((path, message.kind, message.file_name))
        return wanted

    # --- people -----------------------------------------------------------------------------

    def people(self, people: dict[str, Person]) -> None:
        self.users = people_import(people, records=self.records, report=self.report)

    # --- conversations ----------------------------------------------------------------------

    def conversations(self, plan: Plan) -> None:
        for conversation in self.progress(list(plan.conversations.values()), "conversations"):
            stored: list[str] = []
            try:
                with transaction.atomic():
                    self._conversation(conversation, plan, stored)
                    self.records.flush()
                self.records.commit()
            except Exception as exc:  # one bad conversation must not stop the others
                self.records.discard()
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
            target = self.records.get(table, legacy_id)
            if target is not None and target.type == "session":
                return ChatSession.objects.get(pk=target.id), False
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
            if self.records.get(table, legacy_id) is not None:
                self.report.outcome(table, "already")
                continue
            first = created and i == 0
            self.records.stage(
                table,
                legacy_id,
                "session",
                session.pk,
                outcome="created" if first else "merged",
            )
            self.report.outcome(table, "created" if first else "merged")
        if conversation.booking_id and not self.records.get("bookings", conversation.booking_id):
            self.records.stage("bookings", conversation.booking_id, "session", session.pk)
        members = {self.users[p].pk: self.users[p] for p in conversation.members if p in self.users}
        have = (
            set()
            if created
            else set(Membership.objects.filter(session=session).values_list("user_id", flat=True))
        )
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
        self._read_state(session, conversation, members, new_ids)

    def _not_imported(self, messages: list[LegacyMessage]) -> list[LegacyMessage]:
        fresh = []
        for message in messages:
            if self.records.get(*message.copies[0]) is not None:
                for table, _ in message.copies:
                    self.report.outcome(table, "already")
                continue
            fresh.append(message)
        return fresh

    # --- messages ---------------------------------------------------------------------------

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
            uploaded_by=self.users.get(message.sender or ""),
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
        files, reviews and records; returns legacy id -> new id."""
        rows: list[Message] = []
        reviews: list[tuple[int, LegacyMessage]] = []
        latest = session.last_message.created_at if session.last_message_id else None
        for message in messages:
            sender = self.users.get(message.sender or "")
            table, row_id = message.copies[0]
            if latest is not None and message.created_at < latest:
                self.report.anomaly("late_message", table, row_id, "older than the session's last")
            status, body, attachment = Message.Status.SENT, message.body, None
            if message.deleted:
                status, body = Message.Status.DELETED, ""
            elif message.kind in MEDIA_KINDS:
                attachment = self._attachment(message, plan, session, stored)
            if (
                not message.deleted
                and has_client
                and hold_applies(kind=message.kind, sender=sender)
            ):
                # A held kind from a reader to a client is released only if the old data
                # says it was approved: no unreviewed audio reaches a client.
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
        Message.objects.bulk_create(rows, batch_size=1000)
        MessageReview.objects.bulk_create(
            [self._review(rows[i], message) for i, message in reviews], batch_size=500
        )
        new_ids = {message.key: row.pk for row, message in zip(rows, messages, strict=True)}
        self._replies_link(rows, messages, new_ids)
        for row, message in zip(rows, messages, strict=True):
            self._records_stage(row, message)
        self.report.made["messages"] += len(rows)
        if rows:
            ChatSession.objects.filter(pk=session.pk).update(
                last_message=rows[-1],
                last_activity_at=max(rows[-1].created_at, session.last_activity_at),
            )
        return new_ids

    def _records_stage(self, row: Message, message: LegacyMessage) -> None:
        table, row_id = message.copies[0]
        self.records.stage(table, row_id, "message", row.pk)
        self.report.outcome(table, "created")
        for copy_table, copy_id in message.copies[1:]:
            self.records.stage(
                copy_table, copy_id, "message", row.pk, merged_into=row_id, outcome="merged"
            )
            self.report.outcome(copy_table, "merged")
        if message.key not in {row_id for _, row_id in message.copies}:
            # Generation 2 names a message by message_id, not its row id: find it by both.
            self.records.stage(
                "message_ids", message.key, "message", row.pk, merged_into=row_id, outcome="alias"
            )

    def _review(self, row: Message, message: LegacyMessage) -> MessageReview:
        status = {
            Message.Status.SENT: Decision.APPROVED,
            Message.Status.REJECTED: Decision.REJECTED,
        }.get(row.status, Decision.PENDING)
        decided = status != Decision.PENDING
        if not decided:
            self.report.made["held_for_review"] += 1
        self.report.made["reviews"] += 1
        reason = ""
        if status == Decision.REJECTED:
            reason = (message.review_notes or REJECTED_WITHOUT_NOTES)[:500]
            Message.objects.filter(pk=row.pk).update(held_reason=reason)
        return MessageReview(
            message=row,
            status=status,
            submitted_at=row.created_at,
            decided_by=self.users.get(message.reviewed_by or "") if decided else None,
            decided_at=(message.reviewed_at or row.created_at) if decided else None,
            reason=reason,
        )

    def _replies_link(
        self, rows: list[Message], messages: list[LegacyMessage], new_ids: dict[str, int]
    ) -> None:
        linked = []
        for row, message in zip(rows, messages, strict=True):
            if not message.reply_to:
                continue
            target = new_ids.get(message.reply_to)
            if target is None:
                found = self.records.find(message.reply_to, target_type="message")
                target = found.id if found else None
            if target is not None:
                row.reply_to_id = target
                linked.append(row)
        Message.objects.bulk_update(linked, ["reply_to"], batch_size=500)

    def _read_state(
        self,
        session: ChatSession,
        conversation: Conversation,
        members: dict[int, User],
        new_ids: dict[str, int],
    ) -> None:
        read_up_to: dict[int, int] = {}
        for message in conversation.messages.values():
            new_id = new_ids.get(message.key)
            if new_id is None:
                found = self.records.get(*message.copies[0])
                new_id = found.id if found else None
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


def import_run(
    *, dsn: str, files_root: Path, dry_run: bool, progress, report: Report | None = None
) -> Report:
    """Import everything; returns the report. A dry run rolls every write back."""
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
