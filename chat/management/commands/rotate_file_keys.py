"""Re-wrap every file's data key under the newest master key in FILE_MASTER_KEYS."""

from django.core.management.base import BaseCommand

from chat.attachments import file_keys_rotate
from samia_chat.audit import audit_event
from samia_chat.filecrypt import current_key_id
from samia_chat.models import AccessEvent


class Command(BaseCommand):
    help = (
        "Re-wrap every attachment's data key with the newest master key (the last one in "
        "FILE_MASTER_KEYS). File bodies are not touched; safe to run again."
    )

    def handle(self, *args, **options) -> None:
        changed = file_keys_rotate()
        audit_event(
            actor=None,
            action=AccessEvent.Action.FILE_KEYS_ROTATED,
            detail={"key_id": current_key_id(), "rewrapped": changed},
        )
        self.stdout.write(f"Re-wrapped {changed} data keys under master key {current_key_id()!r}.")
