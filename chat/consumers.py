"""The chat socket: one per browser tab, carrying events of all the user's sessions.

The socket pushes. Upward it carries ephemeral signals (typing, ping), for staff `watch`
to follow a session they read without taking part, and `message.send`: a text message
through the same code as the API's POST (chat.sending), answered on this socket with
`message.sent` or an error frame naming the client_msg_id. Every other write, and the
catch-up, go over HTTP.

Close codes: 4401 not authenticated, 4408 too many frames, 4409 frame too large, 4429 too
many open sockets for this user (the 4000 range mirrors 1008/1009, which an application may
not send through Daphne).
Handshakes from a foreign Origin are refused before the consumer runs (HTTP 403).
"""

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from redis.exceptions import RedisError

from chat import events
from chat.permissions import access_session
from chat.presence import presence_connect, presence_disconnect, presence_refresh
from chat.selectors import followed_session_ids, is_on_call
from chat.sending import message_send_frame_parse, text_message_post
from samia_chat.errors import RateLimited, ServiceError
from samia_chat.limits import rate_hit
from samia_chat.metrics import DELIVERY_SECONDS, RATE_LIMITED, SOCKET_CLOSES, SOCKETS_OPEN
from samia_chat.models import STAFF_ROLES, Role
from samia_chat.realtime import (
    FORWARD,
    ON_CALL_GROUP,
    STAFF_GROUP,
    SUPER_ADMIN_GROUP,
    group_forward,
    session_group,
    user_group,
)

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_MANY_FRAMES = 4408
CLOSE_TOO_BIG = 4409
CLOSE_TOO_MANY_SOCKETS = 4429
TYPING_MIN_INTERVAL_S = 2.0
# Sends from many sockets run side by side in these threads (each with its own database
# connection from the pool), so one send's database and Redis round trips do not hold up
# the next: measured, one process held 120 messages/s this way against 100/s through
# Channels' single database thread. Frames of one socket are still handled one at a time.
SEND_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="socket-send")
# channels-redis forgets group membership after a day; long-lived sockets re-join.
GROUP_REFRESH_S = 3600.0


def _frame_budget() -> tuple[int, float]:
    count, _, period = settings.CHAT["RATE_SOCKET_FRAMES"].partition("/")
    return int(count), float(period.rstrip("s") or 1)


def _role_groups(user) -> set[str]:
    """Groups a connection joins for who the user is: staff alerts, the readers' siren."""
    if user.role in STAFF_ROLES:
        return {STAFF_GROUP, SUPER_ADMIN_GROUP} if user.role == Role.SUPER_ADMIN else {STAFF_GROUP}
    if user.role == Role.READER and is_on_call(user):
        return {ON_CALL_GROUP}
    return set()


def _text_post(user, args: dict) -> tuple[dict, bool]:
    message, created = text_message_post(user, **args)
    return events.message_dict(message, user), created


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept first so the client sees our close code, not a bare handshake failure.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        # At most MAX_SOCKETS_PER_USER at once (counted across processes in the shared
        # cache): one more is refused before it joins anything.
        open_now = await database_sync_to_async(presence_connect)(user.pk)
        if open_now > settings.CHAT["MAX_SOCKETS_PER_USER"]:
            await database_sync_to_async(presence_disconnect)(user.pk)
            SOCKET_CLOSES.labels(code=str(CLOSE_TOO_MANY_SOCKETS)).inc()
            await self.accept()
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        self.user = user
        self.session_ids: set[int] = set(await database_sync_to_async(followed_session_ids)(user))
        self.role_groups: set[str] = await database_sync_to_async(_role_groups)(user)
        # Sessions a staff member reads without taking part: events, but no typing/presence.
        self.watched_ids: set[int] = set()
        self.typing_sent_at: dict[int, float] = {}
        self.frame_limit, self.frame_period = _frame_budget()
        self.window_start, self.window_frames = time.monotonic(), 0
        await self._join_groups()
        await self.accept()
        SOCKETS_OPEN.inc()
        if open_now == 1:
            await self._broadcast_presence(online=True)

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "user"):
            return
        SOCKETS_OPEN.dec()
        await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)
        for group in self.role_groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        for session_id in self.session_ids | self.watched_ids:
            await self.channel_layer.group_discard(session_group(session_id), self.channel_name)
        if await database_sync_to_async(presence_disconnect)(self.user.pk):
            await self._broadcast_presence(online=False)

    async def _join_groups(self) -> None:
        await self.channel_layer.group_add(user_group(self.user.pk), self.channel_name)
        for group in self.role_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        for session_id in self.session_ids | self.watched_ids:
            await self.channel_layer.group_add(session_group(session_id), self.channel_name)
        self.groups_joined_at = time.monotonic()

    async def _broadcast_presence(self, *, online: bool) -> None:
        event = events.presence_event(user_id=self.user.pk, online=online)
        for session_id in self.session_ids:
            await group_forward(session_group(session_id), event)

    async def _error(self, code: str, message: str, **extra) -> None:
        await self.send(
            text_data=json.dumps(
                {"type": "error", "error": {"code": code, "message": message}, **extra}
            )
        )

    def _over_frame_budget(self) -> bool:
        now = time.monotonic()
        if now - self.window_start >= self.frame_period:
            self.window_start, self.window_frames = now, 0
        self.window_frames += 1
        return self.window_frames > self.frame_limit

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not hasattr(self, "user"):
            return  # refused at connect (4401, 4429): frames sent before the close are dropped
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > settings.CHAT["WS_MAX_FRAME_BYTES"]:
            SOCKET_CLOSES.labels(code=str(CLOSE_TOO_BIG)).inc()
            await self.close(code=CLOSE_TOO_BIG)
            return
        if self._over_frame_budget():
            RATE_LIMITED.labels(group="socket-frames").inc()
            SOCKET_CLOSES.labels(code=str(CLOSE_TOO_MANY_FRAMES)).inc()
            await self.close(code=CLOSE_TOO_MANY_FRAMES)
            return
        if text_data is None:
            await self._error("BAD_FRAME", "Send JSON text frames.")
            return
        try:
            data = json.loads(text_data)
        except ValueError:
            await self._error("BAD_JSON", "The frame is not valid JSON.")
            return
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "ping":
            await self._ping()
        elif kind == "typing":
            await self._typing(data.get("session_id"))
        elif kind == "watch":
            await self._watch(data.get("session_id"))
        elif kind == "message.send":
            await self._message_send(data)
        else:
            await self._error(
                "UNKNOWN_TYPE", "Known types are 'ping', 'typing', 'watch' and 'message.send'."
            )

    async def _ping(self) -> None:
        await database_sync_to_async(presence_refresh)(self.user.pk)
        if time.monotonic() - self.groups_joined_at > GROUP_REFRESH_S:
            await self._join_groups()
        await self.send(text_data='{"type":"pong"}')

    async def _typing(self, session_id) -> None:
        if not isinstance(session_id, int) or session_id not in self.session_ids:
            await self._error("NOT_IN_SESSION", "You are not taking part in that session.")
            return
        now = time.monotonic()
        if now - self.typing_sent_at.get(session_id, 0.0) < TYPING_MIN_INTERVAL_S:
            return  # one typing signal per interval is all the other side needs
        self.typing_sent_at[session_id] = now
        event = events.typing_event(session_id=session_id, user=events.user_dict(self.user))
        await group_forward(session_group(session_id), event)

    async def _watch(self, session_id) -> None:
        if self.user.role not in STAFF_ROLES:
            await self._error("FORBIDDEN", "Only staff watch sessions they do not take part in.")
            return
        if not isinstance(session_id, int):
            await self._error("NOT_FOUND", "No such session.")
            return
        if session_id in self.session_ids | self.watched_ids:
            return
        try:
            # Watching reads the database and writes an audit row: limited per user.
            await database_sync_to_async(rate_hit)(
                group="socket-watch",
                key=f"user:{self.user.pk}",
                rate=settings.CHAT["RATE_SOCKET_WATCH"],
            )
            # The same check as reading it over HTTP, recorded as a staff read.
            await database_sync_to_async(access_session)(self.user, session_id)
        except ServiceError as exc:
            await self._error(exc.code, exc.message)
            return
        self.watched_ids.add(session_id)
        await self.channel_layer.group_add(session_group(session_id), self.channel_name)
        await self.send(text_data=json.dumps({"type": "watching", "session_id": session_id}))

    async def _message_send(self, frame: dict) -> None:
        client_msg_id = frame.get("client_msg_id")
        echo = {"client_msg_id": client_msg_id if isinstance(client_msg_id, str) else None}
        try:
            args = message_send_frame_parse(frame)
            post = database_sync_to_async(_text_post, thread_sensitive=False, executor=SEND_THREADS)
            payload, created = await post(self.user, args)
        except RateLimited as exc:
            await self._error(exc.code, exc.message, retry_after=exc.retry_after_seconds, **echo)
            return
        except ServiceError as exc:
            await self._error(exc.code, exc.message, **echo)
            return
        except (DatabaseError, RedisError) as exc:
            # As over HTTP (503): nothing was committed, the same client_msg_id may be retried.
            logger.warning("socket send unavailable: %s: %s", type(exc).__name__, exc)
            await self._error(
                "UNAVAILABLE", "Temporarily unavailable. Please retry.", retry_after=1, **echo
            )
            return
        reply = {"type": "message.sent", **echo, "created": created, "message": payload}
        await self.send(text_data=json.dumps(reply))

    # --- group handlers: forward only ---------------------------------------------------

    async def dispatch(self, message: dict) -> None:
        # Channels hops to the database thread (to close stale connections) before every
        # handler; forwarding touches no database, and that hop through one thread was
        # most of the cost of fanning a siren out to hundreds of sockets.
        if message["type"] == FORWARD:
            await self.forward(message)
            return
        await super().dispatch(message)

    async def forward(self, message: dict) -> None:
        await self.send(text_data=json.dumps(message["event"]))
        if "sent_at" in message:
            DELIVERY_SECONDS.observe(max(0.0, time.time() - message["sent_at"]))

    async def join_session(self, message: dict) -> None:
        session_id = message["session_id"]
        if session_id not in self.session_ids:
            self.session_ids.add(session_id)
            await self.channel_layer.group_add(session_group(session_id), self.channel_name)
        await self.send(text_data=json.dumps(message["event"]))

    async def sockets_close(self, message: dict) -> None:
        """Signed out everywhere (4401) or a new role (4012: reconnect, with new groups)."""
        SOCKET_CLOSES.labels(code=str(message["code"])).inc()
        await self.close(code=message["code"])

    async def on_call_set(self, message: dict) -> None:
        """The reader went on or off call (in any tab): start or stop ringing this one."""
        if message["on_call"]:
            self.role_groups.add(ON_CALL_GROUP)
            await self.channel_layer.group_add(ON_CALL_GROUP, self.channel_name)
        else:
            self.role_groups.discard(ON_CALL_GROUP)
            await self.channel_layer.group_discard(ON_CALL_GROUP, self.channel_name)
        await self.send(text_data=json.dumps(message["event"]))
