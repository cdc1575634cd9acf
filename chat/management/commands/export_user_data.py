"""Write one person's data archive (what "Download my data" gives them) to a file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from chat.export import data_export_write
from samia_chat.audit import audit_event
from samia_chat.models import AccessEvent, User


class Command(BaseCommand):
    help = (
        "Write a person's data export (JSON + the files they sent, decrypted) to a zip, for "
        "a request that reaches the operators instead of the app. The export is audited."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--out", type=Path, required=True, help="the .zip to write")

    def handle(self, *args, username: str, out: Path, **options) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        out = Path(out)
        if out.exists():
            raise CommandError(f"{out} exists; choose another path.")
        data_export_write(user=user, target=out)
        audit_event(
            actor=None,
            action=AccessEvent.Action.EXPORT,
            target=user,
            detail={"by": "operator", "size_bytes": out.stat().st_size},
        )
        self.stdout.write(f"Wrote {out} ({out.stat().st_size} bytes).")
