"""Remove messages and files past their retention period (settings.RETENTION_DAYS)."""

from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand

from chat.retention import retention_apply, retention_plan
from samia_chat.audit import audit_event
from samia_chat.models import AccessEvent


class Command(BaseCommand):
    help = (
        "Remove messages (and their files) older than their kind's retention period, and "
        "tombstones older than the tombstone period. Sessions under a legal hold are kept. "
        "--dry-run lists exactly what would go and removes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be removed, remove nothing"
        )

    def handle(self, *args, dry_run: bool, **options) -> None:
        periods = ", ".join(f"{k} {v} d" for k, v in settings.RETENTION_DAYS.items())
        self.stdout.write(f"Retention periods: {periods}")
        if dry_run:
            counts: Counter = Counter()
            for item in retention_plan():
                counts[item.rule] += 1
                counts["files"] += item.storage_key is not None
                self.stdout.write(
                    f"would remove message {item.message_id} (session {item.session_id}, "
                    f"{item.kind}, {item.status}, {item.created_at:%Y-%m-%d}, rule {item.rule})"
                    + (f" and file {item.storage_key}" if item.storage_key else "")
                )
            self.stdout.write(f"Dry run: would remove {self._summary(counts)}. Nothing removed.")
            return
        removed = retention_apply()
        audit_event(
            actor=None,
            action=AccessEvent.Action.RETENTION_RUN,
            detail=dict(sorted(removed.items())),
        )
        self.stdout.write(f"Removed {self._summary(removed)}.")

    @staticmethod
    def _summary(counts: Counter) -> str:
        messages = sum(v for k, v in counts.items() if k != "files")
        rules = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "files")
        return f"{messages} messages ({rules or 'none'}) and {counts['files']} files"
