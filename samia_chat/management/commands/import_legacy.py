"""Import the old platform's chats, files and reviews. See docs/migration.md."""

import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from samia_chat.audit import audit_event
from samia_chat.legacy.importer import import_run
from samia_chat.models import AccessEvent


def _bars(enabled: bool):
    """progress(iterable, label, total=n): a tqdm bar on stderr, or the iterable as is."""
    if not enabled:
        return lambda rows, label, total=None: rows
    from tqdm import tqdm

    def progress(rows, label, total=None):
        return tqdm(rows, desc=f"{label:<24}", total=total, unit="row", leave=True, file=sys.stderr)

    return progress


class Command(BaseCommand):
    help = (
        "Import the previous platform's users, three generations of chat, both file buckets "
        "and the review history. Safe to run again: rows already imported are skipped. "
        "--dry-run reads and checks everything and writes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--source", required=True, help="postgres:// URL of the old database")
        parser.add_argument(
            "--files",
            required=True,
            type=Path,
            help="directory holding the buckets: chat-files/ and chat-attachments/",
        )
        parser.add_argument("--dry-run", action="store_true", help="check only; write nothing")
        parser.add_argument(
            "--report-dir",
            type=Path,
            default=None,
            help="where the JSON and Markdown reports go (default: <var>/import-reports)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, source: str, files: Path, dry_run: bool, **options) -> None:
        files = Path(files)
        if not files.is_dir():
            raise CommandError(f"{files} is not a directory.")
        if not source.startswith(("postgres://", "postgresql://")):
            raise CommandError("--source must be a postgres:// URL.")
        report = import_run(
            dsn=source,
            files_root=files,
            dry_run=dry_run,
            progress=_bars(not options["no_progress"] and sys.stderr.isatty()),
        )
        directory = Path(options["report_dir"] or Path(settings.VAR_DIR) / "import-reports")
        json_path, md_path = report.save(directory)
        if not dry_run:
            audit_event(
                actor=None,
                action=AccessEvent.Action.LEGACY_IMPORT,
                detail={"report": str(json_path), "made": dict(report.made)},
            )
        self.stdout.write(report.markdown())
        self.stdout.write(f"Report saved: {json_path} and {md_path}")
        if report.unbalanced():
            raise CommandError("Some rows are not accounted for; see the report.")
