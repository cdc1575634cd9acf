"""Remove stored files that no message refers to (dry run unless --delete)."""

from django.core.management.base import BaseCommand

from chat.attachments import files_sweep, files_unreferenced
from samia_chat.audit import audit_event
from samia_chat.models import AccessEvent


class Command(BaseCommand):
    help = (
        "List stored files that no attachment refers to (older than one hour, so uploads "
        "in flight are spared). Nothing is removed without --delete."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--delete", action="store_true", help="remove them")

    def handle(self, *args, delete: bool, **options) -> None:
        keys = files_unreferenced()
        for key in keys:
            self.stdout.write(key)
        if not delete:
            self.stdout.write(f"{len(keys)} unreferenced files; run with --delete to remove them.")
            return
        files_sweep(keys=keys)
        audit_event(
            actor=None, action=AccessEvent.Action.FILES_SWEPT, detail={"removed": len(keys)}
        )
        self.stdout.write(f"Removed {len(keys)} unreferenced files.")
