"""The world the route matrix is checked in: nine personas, two readings, and the objects a
route can name, each built only when a case asks for it, afresh for every case.

S is the reading between `client` and `reader` (an approved reader); T is the reading
between `other_client` and `other_reader`. The `applicant` is a reader whose application
is still pending; staff are members of neither reading.
"""

import uuid
from pathlib import Path

import pytest

from approvals.models import MessageReview
from approvals.services import reader_application_submit
from audio.services import voice_note_send
from chat import emergency
from chat.attachments import file_send
from chat.export import data_export_request
from samia_chat.models import Role

# The socket fixtures of the chat tests: a real ASGI application behind a WebsocketCommunicator.
from tests.chat.conftest import _worker_thread_database, sockets, sync  # noqa: F401
from tests.factories import message_create, session_create, user_create
from tests.samples import audio as audio_samples
from tests.samples import files as file_samples

PASSWORD = "tarot-matrix-2026"

ROLES = {
    "client": Role.CLIENT,
    "other_client": Role.CLIENT,
    "reader": Role.READER,
    "other_reader": Role.READER,
    "applicant": Role.READER,
    "monitor": Role.MONITOR,
    "admin": Role.ADMIN,
    "super_admin": Role.SUPER_ADMIN,
}
PERSONAS = ("anonymous", *ROLES)

# The reading each participant takes part in; everyone else is in none.
HOME = {"client": "S", "reader": "S", "other_client": "T", "other_reader": "T"}
MEMBERS = {"S": ("client", "reader"), "T": ("other_client", "other_reader")}


class World:
    """Personas and objects, created on first use. `side` is "S" or "T"."""

    def __init__(self, samples: dict[str, Path]) -> None:
        self.samples = samples
        self._users: dict = {}
        self._objects: dict = {}

    def user(self, persona: str):
        """The persona's user (None for `anonymous`)."""
        if persona == "anonymous":
            return None
        if persona not in self._users:
            user = user_create(role=ROLES[persona], username=persona, password=PASSWORD)
            if persona == "applicant":
                reader_application_submit(user=user, about="Twenty years with the Marseille deck.")
            self._users[persona] = user
        return self._users[persona]

    def _once(self, key: tuple, build):
        if key not in self._objects:
            self._objects[key] = build()
        return self._objects[key]

    def client_of(self, side: str):
        return self.user(MEMBERS[side][0])

    def reader_of(self, side: str):
        return self.user(MEMBERS[side][1])

    def session(self, side: str):
        return self._once(
            ("session", side),
            lambda: session_create(client=self.client_of(side), reader=self.reader_of(side)),
        )

    def message(self, side: str):
        """A text the session's client sent in it."""
        return self._once(
            ("message", side),
            lambda: message_create(session=self.session(side), sender=self.client_of(side)),
        )

    def attachment(self, side: str):
        """A text file the session's client sent in it."""

        def build():
            message, _created = file_send(
                session=self.session(side),
                sender=self.client_of(side),
                source=self.samples["text"],
                original_name="spread-notes.txt",
                client_msg_id=uuid.uuid4().hex,
            )
            return message.attachment

        return self._once(("attachment", side), build)

    def review(self, side: str):
        """The review of a voice note the session's reader sent: held, pending."""

        def build():
            message, _created = voice_note_send(
                session=self.session(side),
                sender=self.reader_of(side),
                source=self.samples["voice"],
                client_msg_id=uuid.uuid4().hex,
            )
            return MessageReview.objects.get(message=message)

        return self._once(("review", side), build)

    def emergency(self, side: str):
        """An open emergency request of the session's client."""
        return self._once(
            ("emergency", side),
            lambda: emergency.emergency_request_open(client=self.client_of(side), reason=""),
        )

    def emergency_answered(self, side: str):
        """An emergency request of the session's client that the session's reader took (it
        opened a reading of its own; the reader went off call)."""

        def build():
            request = self.emergency(side)
            emergency.on_call_set(reader=self.reader_of(side), on_call=True)
            return emergency.emergency_accept(reader=self.reader_of(side), request_id=request.pk)

        return self._once(("emergency answered", side), build)

    def alert(self, side: str):
        """An open safety alert the session's client raised in it."""
        return self._once(
            ("alert", side),
            lambda: emergency.safety_alert_raise(
                session=self.session(side), user=self.client_of(side), reason="Asked for my bank."
            ),
        )

    def export(self, persona: str):
        """A ready "download my data" archive of the persona."""
        return self._once(("export", persona), lambda: data_export_request(user=self.user(persona)))

    def readers_on_call(self) -> None:
        """Both approved readers go on call (the applicant cannot)."""
        for persona in ("reader", "other_reader"):
            emergency.on_call_set(reader=self.user(persona), on_call=True)


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> dict[str, Path]:
    """Upload sources, made once: a UTF-8 note and a one-second voice recording."""
    directory = tmp_path_factory.mktemp("matrix-samples")
    return {
        "text": file_samples.text_file(directory, "The Star, upright: hope after the storm.\n"),
        "voice": audio_samples.sine_file(directory, container="webm", seconds=1.0),
    }


@pytest.fixture
def world(db, samples) -> World:
    return World(samples)
