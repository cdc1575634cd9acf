"""Fixtures to observe real-time delivery: group probes on the real channel layer, and
WebSocket clients of the real ASGI application."""

import asyncio
import json
import threading

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from samia_chat.asgi import application
from samia_chat.tokens import token_pair_issue

ALLOWED_ORIGIN = b"http://127.0.0.1:8000"


class GroupProbe:
    """A channel subscribed to one group, as a consumer would be.

    Services broadcast after commit and block until the layer has the message, so by the
    time a service call returns, what it sent is waiting here. The probe keeps one event
    loop of its own in a thread: the PubSub layer holds its subscriptions per event loop.
    """

    def __init__(self, group: str) -> None:
        self.group = group
        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.channel = self._run(self.layer.new_channel())
        self._run(self.layer.group_add(group, self.channel))
        # One receive stays pending across waits: the PubSub layer unsubscribes a channel
        # whose receive is cancelled, so a wait that times out must not cancel it.
        self._pending: asyncio.Task | None = None

    def _run(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _next(self, timeout: float):
        if self._pending is None:
            self._pending = asyncio.ensure_future(self.layer.receive(self.channel))
        done, _ = await asyncio.wait({self._pending}, timeout=timeout)
        if not done:
            return None
        message, self._pending = self._pending.result(), None
        return message

    def receive(self, timeout: float = 2.0) -> dict:
        """The next layer message (`{"type": "forward", "event": ...}` and the like)."""
        message = self._run(self._next(timeout), timeout + 5)
        assert message is not None, f"nothing arrived on {self.group} within {timeout}s"
        return message

    def receive_event(self, timeout: float = 2.0) -> dict:
        return self.receive(timeout)["event"]

    def drain(self, timeout: float = 0.3) -> list[dict]:
        """The events of every message that arrives until the group goes quiet."""
        found = []
        while message := self._run(self._next(timeout), timeout + 5):
            found.append(message["event"])
        return found

    def assert_silent(self, timeout: float = 0.3) -> None:
        message = self._run(self._next(timeout), timeout + 5)
        assert message is None, f"unexpected message on {self.group}: {message}"

    def close(self) -> None:
        if self._pending is not None:
            self.loop.call_soon_threadsafe(self._pending.cancel)
        self._run(self.layer.group_discard(self.group, self.channel))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def listen():
    """`listen(group)` subscribes a probe channel to a group on the real channel layer."""
    probes: list[GroupProbe] = []

    def subscribe(group: str) -> GroupProbe:
        probe = GroupProbe(group)
        probes.append(probe)
        return probe

    yield subscribe
    for probe in probes:
        probe.close()


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    """`with after_commit():` runs the on-commit callbacks (the broadcasts) registered in
    the block, as the real commit would; the test's own transaction never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# --- sockets ----------------------------------------------------------------------------


def _session_cookie(user) -> str:
    http = Client()
    http.force_login(user)
    return http.cookies["sessionid"].value


class Socket:
    """A WebSocket client of the real ASGI application, with JSON helpers."""

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
        self.connected = False

    async def connect(self) -> tuple[bool, int | None]:
        self.connected, detail = await self.communicator.connect(timeout=3)
        return self.connected, detail

    async def send(self, data) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = 2.0) -> dict:
        return await self.communicator.receive_json_from(timeout=timeout)

    async def receive_type(self, event_type: str, timeout: float = 3.0, **fields) -> dict:
        """The next event of `event_type` (with these `fields`), skipping any other."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            assert remaining > 0, f"no {event_type} {fields} event within {timeout}s"
            event = await self.receive(timeout=remaining)
            if event["type"] == event_type and all(event.get(k) == v for k, v in fields.items()):
                return event

    async def receive_close(self, timeout: float = 2.0) -> int:
        """Wait for the server to close the socket; return its close code."""
        while True:
            output = await self.communicator.receive_output(timeout)
            if output["type"] == "websocket.close":
                return output.get("code", 1000)

    async def receive_nothing(self, timeout: float = 0.3) -> bool:
        return await self.communicator.receive_nothing(timeout=timeout)

    async def drain(self, timeout: float = 0.2) -> list[dict]:
        """Everything that arrives until the socket goes quiet."""
        events = []
        while not await self.communicator.receive_nothing(timeout=timeout):
            events.append(await self.receive())
        return events

    async def close(self) -> None:
        await self.communicator.disconnect()


class Sockets:
    def __init__(self) -> None:
        self.opened: list[Socket] = []

    async def open(
        self,
        user=None,
        *,
        auth: str = "cookie",
        origin: bytes | None = ALLOWED_ORIGIN,
        token: str = "",
        connect: bool = True,
    ) -> Socket:
        """A socket for `user`, signed in by session cookie or bearer token.

        `auth="cookie"` sends the Django session cookie; `auth="bearer"` sends
        `Authorization: Bearer <token>` (an access token for `user` unless `token` is given);
        anything else sends no credentials.
        """
        headers = []
        if origin is not None:
            headers.append((b"origin", origin))
        if auth == "cookie" and user is not None:
            cookie = await database_sync_to_async(_session_cookie)(user)
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        elif auth == "bearer":
            if not token:
                pair = await database_sync_to_async(token_pair_issue)(user=user)
                token = pair["access"]
            headers.append((b"authorization", f"Bearer {token}".encode()))
        socket = Socket(headers)
        self.opened.append(socket)
        if connect:
            await socket.connect()
        return socket

    async def close_all(self) -> None:
        for socket in self.opened:
            await socket.close()


@pytest.fixture
async def _worker_thread_database(db):
    """Async tests reach the database through asgiref's worker thread, which keeps its own
    connection open; close it so the next test (and dropping the test database) is clean."""
    yield
    await database_sync_to_async(connections.close_all)()


@pytest.fixture
async def sockets(_worker_thread_database, settings):
    """Open WebSockets with `await sockets.open(user, auth=...)`; all close at teardown."""
    # Every test runs its own event loop, and channels_redis keeps loop-bound locks and
    # pools on the layer object: changing the setting gives this test a layer of its own.
    settings.CHANNEL_LAYERS = {**settings.CHANNEL_LAYERS}
    pool = Sockets()
    yield pool
    await pool.close_all()
    await get_channel_layer().flush()


@pytest.fixture
def sync(_worker_thread_database):
    """`await sync(fn, *args)` runs database code from an async test, as consumers do."""

    async def run(fn, *args, **kwargs):
        return await database_sync_to_async(fn)(*args, **kwargs)

    return run
