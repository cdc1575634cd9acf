"""The only door to the channel layer.

Group names are built here from ids, and events leave only after the database commit
that made them true: a client that receives an event can always fetch what it names.
The layer itself is at-most-once; clients close any gap by catching up over HTTP.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# The message type consumers handle: the event inside is forwarded to the browser as is.
FORWARD = "forward"
# Tells every connection of a user to start following a session it was just added to.
JOIN_SESSION = "join.session"
# Tells every connection of a reader to join or leave the on-call group.
ON_CALL_SET = "on_call.set"
# Closes every connection of a user (signed out everywhere, or their role changed).
SOCKETS_CLOSE = "sockets.close"
# Close codes it uses: the client signs in again (4401) or reconnects at once (4012,
# joining the groups its new role gives it).
CLOSE_SIGNED_OUT = 4401
CLOSE_RECONNECT = 4012

# Role-wide groups, joined by consumers at connect.
STAFF_GROUP = "staff"  # monitors, admins and super_admins
SUPER_ADMIN_GROUP = "super_admins"
ON_CALL_GROUP = "readers.on_call"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def session_group(session_id: int) -> str:
    return f"session.{session_id}"


def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        # The write is committed; a lost push is recovered by catch-up, so a broken
        # layer must not turn a successful request into an error.
        logger.exception("broadcast to %s failed", group)


def broadcast_on_commit(group: str, event: dict[str, Any] | Callable[[], dict]) -> None:
    """Send `event` to every connection in `group` once the current transaction commits.

    A callable is built only after the commit: for figures (a queue length) that must
    count the rows just written and the ones committed beside them.
    """

    def send() -> None:
        built = event() if callable(event) else event
        _group_send(group, {"type": FORWARD, "event": built, "sent_at": time.time()})

    transaction.on_commit(send)


def join_session_on_commit(user_id: int, session_id: int, event: dict[str, Any]) -> None:
    """After commit, make the user's open connections follow `session_id`, then send `event`."""
    message = {"type": JOIN_SESSION, "session_id": session_id, "event": event}
    transaction.on_commit(lambda: _group_send(user_group(user_id), message))


def on_call_set_on_commit(user_id: int, on_call: bool, event: dict[str, Any]) -> None:
    """After commit, move the reader's open connections in or out of the on-call group."""
    message = {"type": ON_CALL_SET, "on_call": on_call, "event": event}
    transaction.on_commit(lambda: _group_send(user_group(user_id), message))


async def group_forward(group: str, event: dict[str, Any]) -> None:
    """Push an ephemeral event (typing, presence) from a consumer; nothing is stored."""
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(group, {"type": FORWARD, "event": event})


def user_sockets_close_on_commit(user_id: int, code: int) -> None:
    """After commit, close every open connection of the user with `code`."""
    message = {"type": SOCKETS_CLOSE, "code": code}
    transaction.on_commit(lambda: _group_send(user_group(user_id), message))
