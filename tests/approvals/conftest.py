# The chat tests' real-time probes and sockets observe the review gate's events too.
from tests.chat.conftest import (  # noqa: F401
    _worker_thread_database,
    after_commit,
    listen,
    sockets,
    sync,
)
