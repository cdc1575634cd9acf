# The real-time probes of the chat tests observe voice-note broadcasts too.
from tests.chat.conftest import after_commit, listen  # noqa: F401
