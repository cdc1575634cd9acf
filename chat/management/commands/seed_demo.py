"""Create the demo people and one active reading, safely repeatable."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from chat.models import ChatSession
from chat.services import session_open
from samia_chat.consent import consent_record
from samia_chat.models import Consent, Role, User

DEMO_PASSWORD = "samia-demo-2026"
DEMO_USERS = [
    ("client1", "Layla", Role.CLIENT),
    ("client2", "Omar", Role.CLIENT),
    ("reader1", "Noor", Role.READER),
    ("reader2", "Samir", Role.READER),
    ("monitor1", "Mona", Role.MONITOR),
    ("admin1", "Adam", Role.ADMIN),
    ("superadmin1", "Sara", Role.SUPER_ADMIN),
]
DEMO_BOOKING = "DEMO-BOOKING-1"


class Command(BaseCommand):
    help = "Create demo users (client1, reader1, admin1, …) and an active reading session."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--password", default=DEMO_PASSWORD, help="password for every demo user"
        )
        parser.add_argument("--force", action="store_true", help="run even when DEBUG is off")

    @transaction.atomic
    def handle(self, *args, password: str, force: bool, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("DEBUG is off: refusing to create demo users (use --force).")
        users = {}
        for username, display_name, role in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"display_name": display_name, "role": role}
            )
            if created or not user.check_password(password):
                user.set_password(password)
                user.save()
            if created and role in (Role.CLIENT, Role.READER):
                # The demo people have accepted the terms and allowed voice notes, as
                # sign-up would have recorded.
                for kind in (Consent.Kind.TERMS, Consent.Kind.VOICE):
                    consent_record(user=user, kind=kind, granted=True)
            users[username] = user
        if not ChatSession.objects.filter(booking_ref=DEMO_BOOKING).exists():
            session_open(
                opened_by=users["admin1"],
                client=users["client1"],
                reader=users["reader1"],
                booking_ref=DEMO_BOOKING,
                service_name="Celtic Cross reading",
                scheduled_at=timezone.now(),
            )
        self.stdout.write(f"Demo logins (password: {password}):")
        for username, _display_name, role in DEMO_USERS:
            self.stdout.write(f"  {username:<12} {role}")
