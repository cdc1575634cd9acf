"""The fault suite's clients: members who follow their session, senders who retry.

The clients follow the documented protocol (docs/api.md): reconnect with jittered backoff
(to any server), catch up from the last id held, dedupe by id, and catch up at once when
`previous_id` shows a missed push. Senders use both transports: a share of the sends go as
`message.send` frames on the sender's own socket (when it is open, and within the frame
budget), the rest as HTTP POSTs; an error frame, an answer that does not come, or a dropped
socket sends the same client_msg_id again over HTTP until it is acknowledged.

bench/chaos_traffic.py drives them and checks the invariant.
"""

import asyncio
import json
import random
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field

import aiohttp
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from bench.seed import Person

# The server closes a socket past 30 frames in 10 s (4408); a client keeps well below.
FRAME_BUDGET = (24, 10.0)
RETRYABLE_STATUSES = {429, 500, 502, 503, 504}
RETRYABLE_CODES = {"UNAVAILABLE", "RATE_LIMITED"}
NETWORK_ERRORS = (OSError, WebSocketException, ConnectionError, TimeoutError, aiohttp.ClientError)


class Refused(ConnectionError):
    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"answered {status}")
        self.status, self.retry_after = status, retry_after


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class Member:
    person: Person
    bases: list[str]
    seen: list[int] = field(default_factory=list)
    seen_set: set[int] = field(default_factory=set)
    pushed: int = 0  # message.created frames of the member's session received
    push_bytes: int = 0
    order_violations: int = 0
    reconnects: int = 0
    catch_ups: int = 0
    close_codes: Counter = field(default_factory=Counter)
    ws: object = None  # the open socket, so a fault can cut it and a sender can use it
    cut_until: float = 0.0  # no reconnect before this time (a network cut)
    waiters: dict = field(default_factory=dict)  # client_msg_id -> future of the answer
    frames_sent: deque = field(default_factory=deque)

    @property
    def last_id(self) -> int:
        return self.seen[-1] if self.seen else 0

    def add(self, message: dict) -> None:
        mid = message["id"]
        if mid in self.seen_set:
            return  # the same message by push and by catch-up: shown once
        if mid < self.last_id:
            self.order_violations += 1
        self.seen.append(mid)
        self.seen_set.add(mid)

    def frame_allowed(self) -> bool:
        """Count one upward frame if the client-side budget allows it."""
        limit, period = FRAME_BUDGET
        now = time.monotonic()
        while self.frames_sent and now - self.frames_sent[0] >= period:
            self.frames_sent.popleft()
        if len(self.frames_sent) >= limit:
            return False
        self.frames_sent.append(now)
        return True

    def attach(self, ws) -> None:
        self.ws, self.frames_sent = ws, deque()

    def detach(self) -> None:
        self.ws = None
        for waiter in self.waiters.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError("the socket closed before the answer"))


async def catch_up(http: aiohttp.ClientSession, member: Member, base: str) -> None:
    member.catch_ups += 1
    headers = {"Authorization": f"Bearer {member.person.token}"}
    while True:
        url = f"{base}/api/sessions/{member.person.session_id}/messages?after={member.last_id}&limit=100"
        async with http.get(url, headers=headers) as response:
            if response.status != 200:
                raise Refused(response.status, _retry_after(response.headers.get("Retry-After")))
            page = await response.json()
        for message in page["messages"]:
            member.add(message)
        if not page["has_more"]:
            return


async def final_catch_up(
    http: aiohttp.ClientSession, member: Member, base: str, within_s: float = 60.0
) -> bool:
    """What a client does on focus: one last catch-up, however long the server needs."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            await catch_up(http, member, base)
            return True
        except Refused as exc:
            await asyncio.sleep(min(exc.retry_after or 0.5, 5.0))
        except NETWORK_ERRORS:
            await asyncio.sleep(0.5)
    return False


async def _on_frame(member: Member, http: aiohttp.ClientSession, base: str, frame: str) -> None:
    event = json.loads(frame)
    kind = event.get("type")
    if kind in ("message.sent", "error") and event.get("client_msg_id"):
        waiter = member.waiters.get(event["client_msg_id"])
        if waiter is not None and not waiter.done():
            waiter.set_result(event)
        return
    if kind != "message.created":
        return
    message = event["message"]
    if message["session_id"] != member.person.session_id:
        return
    member.pushed += 1
    member.push_bytes += len(frame)
    previous = event.get("previous_id")
    if previous and previous > member.last_id:
        await catch_up(http, member, base)  # a push went missing
    member.add(message)


async def follow(member: Member, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
    """Keep one member's view complete, whatever happens to servers and Redis."""
    rng = random.Random(member.person.user_id)
    attempt = 0
    while not stop.is_set():
        if time.monotonic() < member.cut_until:
            await asyncio.sleep(member.cut_until - time.monotonic())
        base = member.bases[(member.person.user_id + attempt) % len(member.bases)]
        ws_url = base.replace("http://", "ws://") + "/ws/"
        try:
            async with connect(
                ws_url,
                additional_headers={"Authorization": f"Bearer {member.person.token}"},
                open_timeout=5,
                close_timeout=2,
                ping_interval=None,
                compression=None,
            ) as ws:
                member.attach(ws)
                try:
                    await catch_up(http, member, base)
                    attempt = 0
                    while not stop.is_set():
                        try:
                            frame = await asyncio.wait_for(ws.recv(), 0.5)
                        except TimeoutError:
                            continue
                        await _on_frame(member, http, base, frame)
                finally:
                    member.detach()
        except NETWORK_ERRORS as exc:
            if isinstance(exc, ConnectionClosed) and exc.rcvd is not None:
                member.close_codes[exc.rcvd.code] += 1
            member.reconnects += 1
            attempt += 1
            ceiling = min(2.0, 0.1 * 2 ** min(attempt, 5))
            await asyncio.sleep(ceiling / 2 + rng.random() * ceiling / 2)


@dataclass
class Send:
    key: str
    sender: Person
    via_ws: bool = False  # try the socket first
    body_chars: int = 0  # pad the body to this length
    acked_id: int | None = None
    acked_via: str | None = None  # "ws" or "http": the transport of the first acknowledgement
    acked_after: float | None = None  # seconds from the first attempt to the acknowledgement
    attempts: int = 0
    statuses: list = field(default_factory=list)
    problem: str | None = None


@dataclass
class Attempt:
    status: object
    message_id: int | None = None
    retry_after: float | None = None
    final: bool = False  # refused for good: retrying the same request cannot help


@dataclass
class Traffic:
    """One scenario's clients: what faults and probes reach into."""

    members: list[Member]
    http: aiohttp.ClientSession
    bases: list[str]
    give_up_s: float = 30.0
    answer_timeout: float = 3.0
    sends: list[Send] = field(default_factory=list)
    tasks: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)  # the senders are finished

    def member_of(self, person: Person) -> Member:
        return next(m for m in self.members if m.person.user_id == person.user_id)

    def send(self, sender: Person, *, via_ws: bool, copies: int = 1, body_chars: int = 0) -> Send:
        send = Send(uuid.uuid4().hex, sender, via_ws, body_chars)
        self.sends.append(send)
        self.tasks.append(asyncio.create_task(send_until_acked(self, send, copies=copies)))
        return send


async def _ws_attempt(t: Traffic, member: Member, ws, send: Send, body: str) -> Attempt:
    waiter = asyncio.get_running_loop().create_future()
    member.waiters[send.key] = waiter
    frame = {
        "type": "message.send",
        "session_id": send.sender.session_id,
        "client_msg_id": send.key,
        "body": body,
    }
    try:
        await ws.send(json.dumps(frame))
        answer = await asyncio.wait_for(waiter, t.answer_timeout)
    except TimeoutError:
        return Attempt("ws-timeout")
    except (ConnectionError, WebSocketException, OSError) as exc:
        return Attempt(f"ws-{type(exc).__name__}")
    finally:
        if member.waiters.get(send.key) is waiter:
            del member.waiters[send.key]
    if answer["type"] == "message.sent":
        return Attempt("ws-sent", message_id=answer["message"]["id"])
    code = answer["error"]["code"]
    return Attempt(
        f"ws-{code}", retry_after=answer.get("retry_after"), final=code not in RETRYABLE_CODES
    )


async def _http_attempt(t: Traffic, send: Send, body: str, rng: random.Random) -> Attempt:
    base = t.bases[(send.attempts + rng.randrange(len(t.bases))) % len(t.bases)]
    payload = {"kind": "text", "body": body, "client_msg_id": send.key}
    headers = {"Authorization": f"Bearer {send.sender.token}"}
    url = f"{base}/api/sessions/{send.sender.session_id}/messages"
    try:
        async with t.http.post(url, json=payload, headers=headers) as response:
            if response.status in (200, 201):
                return Attempt(response.status, message_id=(await response.json())["id"])
            return Attempt(
                response.status,
                retry_after=_retry_after(response.headers.get("Retry-After")),
                final=response.status not in RETRYABLE_STATUSES,
            )
    except (OSError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Attempt(type(exc).__name__)


async def send_until_acked(t: Traffic, send: Send, *, copies: int = 1) -> None:
    """Send with one client_msg_id until acknowledged `copies` times (or give_up_s passes)."""
    started = time.monotonic()
    deadline = started + t.give_up_s
    rng = random.Random(send.key)
    member = t.member_of(send.sender)
    body = f"chaos {send.key}"
    if send.body_chars > len(body):
        body = (body + " " + "x" * send.body_chars)[: send.body_chars]
    use_ws, delivered, failures = send.via_ws, 0, 0
    while delivered < copies and time.monotonic() < deadline:
        send.attempts += 1
        ws = member.ws if use_ws else None
        if ws is not None and member.frame_allowed():
            transport, result = "ws", await _ws_attempt(t, member, ws, send, body)
        else:
            transport, result = "http", await _http_attempt(t, send, body, rng)
        send.statuses.append(result.status)
        if result.message_id is not None:
            if send.acked_id not in (None, result.message_id):
                send.problem = f"send {send.key}: a retry was acknowledged as another message"
                return
            if send.acked_id is None:
                send.acked_id, send.acked_via = result.message_id, transport
                send.acked_after = time.monotonic() - started
            delivered, failures = delivered + 1, 0
            continue
        if result.final:
            send.problem = f"send {send.key} refused: {result.status}"
            return
        if transport == "ws":
            use_ws = False  # the same client_msg_id again, over HTTP
        failures += 1
        if result.retry_after is not None:
            wait = result.retry_after + rng.random() * 0.2
        else:
            ceiling = min(2.0, 0.1 * 2 ** min(failures, 5))
            wait = ceiling / 2 + rng.random() * ceiling / 2
        await asyncio.sleep(max(0.0, min(wait, deadline - time.monotonic())))
