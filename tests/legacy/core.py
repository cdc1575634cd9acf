"""The named cases of the legacy world: its people, services and bookings, the rows that
point nowhere, and the audit trail around them. The conversations are in
conversations.py, the ordinary bulk in bulk.py; all of them only call the ledger."""

from datetime import UTC, datetime, timedelta

from tests.legacy.ledger import Booking, Ledger, Payload

PHRASES = (
    "Good evening, I have a question about my career.",
    "The Tower here means sudden change, not disaster.",
    "Thank you, that makes a lot of sense.",
    "Can you look at the cup again, near the handle?",
    "I see a journey in the next three months.",
    "شكراً جزيلاً، هذا مطمئن",
    "هل يمكنك توضيح البطاقة الثالثة؟",
    "The Queen of Cups points to someone caring around you.",
    "Should I wait before signing the contract?",
    "Let us draw one more card for clarity.",
    "I feel much lighter after this reading 🙏",
    "Your question is about love or about work?",
)

# name: (role as stored, email, joined (y, m, d), other columns)
PEOPLE = {
    "client": (
        "client",
        "layla@example.com",
        (2022, 3, 4),
        {
            "first_name": "Layla",
            "last_name": "Haddad",
            "display_name": "Layla",
            "preferred_language": "ar",
        },
    ),
    "client_merged": (
        "client",
        "Hana.Saleh@Example.com",
        (2022, 5, 1),
        {"first_name": "Hana", "last_name": "Saleh", "name": "Hana Saleh"},
    ),
    # Signed up again later with the same address in lower case: merges into the above.
    "client_duplicate": (
        "client",
        "hana.saleh@example.com",
        (2023, 2, 11),
        {"display_name": "Hana S."},
    ),
    "client_deleted": (
        "client",
        "gone@example.com",
        (2022, 8, 9),
        {"name": "Former client", "deleted_at": datetime(2024, 1, 10, tzinfo=UTC)},
    ),
    "client_no_email": ("client", None, (2023, 6, 2), {"name": "Yousef", "phone": "+971500000001"}),
    "reader": (
        "reader",
        "noor.reader@example.com",
        (2021, 11, 20),
        {"display_name": "Noor", "bio": "Tarot and coffee cup readings"},
    ),
    "reader_second": ("reader", "samir@example.com", (2022, 1, 15), {"name": "Samir K."}),
    "reader_deactivated": (
        "reader",
        "old.reader@example.com",
        (2021, 12, 1),
        {"display_name": "Rania", "deactivated": True},
    ),
    "monitor": ("monitor", "mona@example.com", (2021, 10, 5), {"display_name": "Mona"}),
    "admin": ("admin", "adam@example.com", (2021, 9, 1), {"display_name": "Adam"}),
    "admin_inactive": ("admin", "ex.admin@example.com", (2021, 9, 2), {"is_active": False}),
    "superadmin": ("superadmin", "sara@example.com", (2021, 8, 30), {"display_name": "Sara"}),
}

SERVICES = (
    ("Tarot reading", "قراءة التاروت", "tarot", 60),
    ("Coffee cup reading", "قراءة الفنجان", "coffee", 30),
    ("Astrology chart", "خريطة فلكية", "astrology", 45),
)

# name: (client, reader, booking status); client_id is empty on booking_gen1 (user_id only).
BOOKINGS = {
    "booking_all_generations": ("client", "reader", "completed"),
    "booking_gen1": ("client_duplicate", "reader_second", "completed"),
    "booking_gen2": ("client_merged", "reader", "in_progress"),
    "booking_gen3_archived": ("client_no_email", "reader_second", "completed"),
    "booking_gen3_completed": ("client_deleted", "reader", "completed"),
    "booking_gen3_terminated": ("client", "reader_deactivated", "cancelled"),
    "booking_without_chat": ("client", "reader", "cancelled"),
}


def ms(at: datetime) -> int:
    """Epoch milliseconds, as the old app named its uploads."""
    return int(at.timestamp() * 1000)


class Core:
    """The messy cases, each with a name in `ledger.ids`. Attributes name the people
    (`core.client`, `core.monitor` ...), bookings (`core.bookings["booking_gen1"]`) and
    the messages the audit trail refers to."""

    def __init__(self, ledger: Ledger, payloads: dict[str, Payload]) -> None:
        self.w = ledger
        self.p = payloads

    def people(self) -> None:
        w = self.w
        for name, (role, email, joined, columns) in PEOPLE.items():
            extra = dict(columns)
            if name == "client_duplicate":
                extra["duplicate_of"] = self.client_merged
            created_at = datetime(*joined, 9, 30, tzinfo=UTC)
            profile = w.profile(role=role, email=email, created_at=created_at, **extra)
            setattr(self, name, profile)
            w.name(f"profile_{name}", profile.id)
        self.unknown_profile = w.uid()
        w.name("unknown_sender_profile", self.unknown_profile)
        self.services = []
        for name_en, name_ar, kind, minutes in SERVICES:
            service_id = w.uid()
            w.row(
                "services",
                id=service_id,
                name=name_en,
                name_en=name_en,
                name_ar=name_ar,
                type=kind,
                duration_minutes=minutes,
                price=25 + minutes,
                is_active=True,
                created_at=datetime(2021, 8, 1, tzinfo=UTC),
            )
            self.services.append(service_id)

    def bookings_write(self) -> None:
        at = datetime(2024, 2, 1, 18, tzinfo=UTC)
        self.bookings: dict[str, Booking] = {}
        for name, (client, reader, status) in BOOKINGS.items():
            booking = booking_write(
                self.w,
                getattr(self, client),
                getattr(self, reader),
                status,
                at,
                self.services[0],
                via_user_id=name == "booking_gen1",
            )
            self.w.name(name, booking.id)
            self.bookings[name] = booking

    ###
    def orphans(self) -> None:
        w, ids = self.w, self.w.name
        t = datetime(2023, 12, 24, 23, 59, tzinfo=UTC)
        gone_booking = w.uid()
        orphan = w.message(None, self.client, "text", t, "Are you there?")
        w.gen1(orphan, booking_id=gone_booking)
        ids("orphan_message_gen1", orphan.id)
        ids("orphan_missing_booking", gone_booking)
        orphan = w.message(None, self.reader, "text", t + timedelta(seconds=1), "Session expired?")
        w.gen3(orphan, session_id=w.uid())
        ids("orphan_message_gen3", orphan.id)
        orphan = w.message(None, self.client, "text", t + timedelta(seconds=2), "Hello?")
        w.gen2(orphan, session_id=None, path="A")
        ids("orphan_message_gen2", orphan.id)

    # --- audit trail, monitoring, notifications ----------------------------------------

    def around(self) -> None:
        w = self.w
        at = datetime(2024, 3, 1, 18, 30, tzinfo=UTC)
        browser = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) Safari/604.1"
        w.audit(
            user_id=self.client.id,
            action="INSERT",
            table_name="chat_messages",
            record_id=self.hello.id,
            session_id=self.bookings["booking_all_generations"].id,
            new_values={"content": self.hello.content},
            ip_address="203.0.113.7",
            user_agent=browser,
            timestamp=self.hello.at,
            metadata={},
        )
        w.audit(
            user_id=self.admin.id,
            action="UPDATE",
            table_name="chat_sessions",
            record_id=self.archived_session_id,
            session_id=self.archived_session_id,
            old_values={"status": "active"},
            new_values={"status": "archived"},
            ip_address="198.51.100.20",
            user_agent="Mozilla/5.0 (X11; Linux x86_64)",
            timestamp=at,
            metadata={"reason": "cleanup"},
        )
        w.audit(
            user_id=self.client.id,
            action="DELETE",
            table_name="chat_messages",
            record_id=self.deleted_gen3.id,
            session_id=self.bookings["booking_all_generations"].id,
            old_values={"content": self.deleted_gen3.content},
            ip_address="203.0.113.7",
            user_agent=browser,
            timestamp=self.deleted_gen3.deleted_at,
            metadata={},
        )
        w.audit(
            user_id=self.monitor.id,
            action="UPDATE",
            table_name="voice_note_approvals",
            record_id=self.rejected.id,
            old_values={"status": "pending"},
            new_values={"status": "rejected"},
            ip_address="2001:db8::42",
            timestamp=self.rejected.review["at"],
            metadata={},
        )
        # Written by a trigger under the service role: no user, no address.
        w.audit(
            user_id=None,
            action="INSERT",
            table_name="messages",
            record_id=self.gen1_hello.id,
            new_values={"type": "text"},
            timestamp=self.gen1_hello.at,
            metadata={"trigger": "messages_audit"},
        )
        w.name("audit_trigger_without_user", w.rows["chat_audit_logs"][-1][0])

        w.monitoring(
            user_id=self.monitor.id,
            session_id=self.bookings["booking_all_generations"].id,
            event_type="session_viewed",
            timestamp=at,
            metadata={},
            ip_address="198.51.100.7",
            user_agent="Mozilla/5.0",
        )
        w.monitoring(
            user_id=self.monitor.id,
            session_id=self.bookings["booking_gen1"].id,
            event_type="voice_reviewed",
            timestamp=self.rejected.review["at"],
            metadata={"message_id": str(self.rejected.id)},
            ip_address="198.51.100.7",
        )
        w.monitoring(
            user_id=None,
            session_id=self.bookings["booking_gen1"].id,
            event_type="message_flagged",
            timestamp=at,
            metadata={"reason": "contact details"},
        )

        w.notification(
            booking_id=self.bookings["booking_gen1"].id,
            user_id=self.reader_second.id,
            type="new_message",
            message_id=self.gen1_hello.id,
            data={},
            is_read=True,
            created_at=self.gen1_hello.at,
        )
        w.notification(
            booking_id=self.bookings["booking_all_generations"].id,
            user_id=self.client.id,
            type="voice_approved",
            message_id=self.voice.id,
            data={},
            is_read=False,
            created_at=self.voice.review["at"],
        )
        w.notification(
            booking_id=self.bookings["booking_gen2"].id,
            user_id=self.client_merged.id,
            type="chat_locked",
            data={"by": str(self.admin.id)},
            is_read=False,
            created_at=at,
        )
        w.notification(
            booking_id=self.bookings["booking_all_generations"].id,
            user_id=self.reader.id,
            type="typing",
            data={},
            is_read=True,
            created_at=at,
        )


###


###
def booking_write(w: Ledger, client, reader, status, at, service_id, *, via_user_id=False):
    booking = Booking(id=w.uid(), client=client, reader=reader, status=status)
    w.row(
        "bookings",
        id=booking.id,
        user_id=client.id,
        client_id=None if via_user_id else client.id,
        reader_id=reader.id,
        service_id=service_id,
        scheduled_at=at,
        status=status,
        is_emergency=False,
        created_at=at - timedelta(days=2),
        price=60,
        updated_at=at,
    )
    return booking
