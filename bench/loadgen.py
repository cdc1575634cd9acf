"""Open-loop load: authenticated sockets, sends at a fixed offered rate, and a recorder that
timestamps every acknowledgement and every delivery against the *intended* send time (so a
slow server cannot hide its queueing by slowing the generator down)."""

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from websockets.asyncio.client import connect

from bench.seed import Person

BODY = "The cards speak of a journey; patience brings what you wait for. " * 2


@dataclass
class Sample:
    key: str
    sender: int
    recipient: int
    session_id: int
    t_sched: float
    t_ack: float | None = None
    status: int | str | None = None
    msg_id: int | None = None
    t_deliver: float | None = None


@dataclass
class Recorder:
    samples: dict[str, Sample] = field(default_factory=dict)
    duplicates: int = 0
    frames: int = 0
    other_events: int = 0

    def on_frame(self, receiver_id: int, data: str, now: float) -> None:
        self.frames += 1
        if '"message.sent"' in data or '"error"' in data:
            self._on_reply(json.loads(data), now)
            return
        if '"message.created"' not in data:
            self.other_events += 1
            return
        message = json.loads(data)["message"]
        sample = self.samples.get(message.get("client_msg_id") or "")
        if sample is None or receiver_id != sample.recipient:
            return  # a system message, or the sender's own echo
        if sample.t_deliver is not None:
            self.duplicates += 1
        else:
            sample.t_deliver = now

    def _on_reply(self, frame: dict, now: float) -> None:
        """The answer to a `message.send` frame: the acknowledgement, or why not."""
        sample = self.samples.get(frame.get("client_msg_id") or "")
        if sample is None or sample.t_ack is not None:
            self.other_events += 1
            return
        sample.t_ack = now
        if frame["type"] == "message.sent":
            sample.status = 201 if frame["created"] else 200
            sample.msg_id = frame["message"]["id"]
        else:
            sample.status = frame["error"]["code"]


@dataclass
class Socket:
    person: Person
    ws: object
    reader: asyncio.Task
    closed_code: int | None = None


async def _read_forever(sock: Socket, recorder: Recorder | None) -> None:
    try:
        async for frame in sock.ws:
            if recorder is not None:
                recorder.on_frame(sock.person.user_id, frame, time.perf_counter())
    except Exception:
        pass
    finally:
        sock.closed_code = getattr(sock.ws, "close_code", None)


async def open_sockets(
    people: list[Person],
    ws_urls: list[str],
    *,
    recorder: Recorder | None,
    concurrency: int = 64,
) -> list[Socket]:
    """Connect one socket per person (round-robin over servers), Bearer-authenticated."""
    gate = asyncio.Semaphore(concurrency)
    sockets: list[Socket] = []

    async def one(i: int, person: Person) -> None:
        async with gate:
            ws = await connect(
                ws_urls[i % len(ws_urls)],
                additional_headers={"Authorization": f"Bearer {person.token}"},
                compression=None,
                ping_interval=None,
                open_timeout=60,
                max_queue=None,
            )
            sock = Socket(person, ws, None)  # type: ignore[arg-type]
            sock.reader = asyncio.create_task(_read_forever(sock, recorder))
            sockets.append(sock)

    await asyncio.gather(*(one(i, p) for i, p in enumerate(people)))
    return sockets


async def close_sockets(sockets: list[Socket]) -> None:
    async def one(sock: Socket) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sock.ws.close(), 5)
        sock.reader.cancel()

    await asyncio.gather(*(one(s) for s in sockets))


def http_session(limit: int = 256) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, keepalive_timeout=60),
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def send_message(
    http: aiohttp.ClientSession,
    base_url: str,
    sample: Sample,
    token: str,
    *,
    body: str = BODY,
) -> None:
    """POST one text message; record the acknowledgement time and status."""
    try:
        async with http.post(
            f"{base_url}/api/sessions/{sample.session_id}/messages",
            json={"kind": "text", "body": body, "client_msg_id": sample.key},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            payload = await response.read()
            sample.t_ack = time.perf_counter()
            sample.status = response.status
            if response.status in (200, 201):
                sample.msg_id = json.loads(payload)["id"]
    except Exception as exc:
        sample.status = type(exc).__name__


async def open_loop(
    rate: float, duration_s: float, fire: Callable[[int, float], Awaitable]
) -> None:
    """Start fire(i, intended_time) at a fixed rate, whether or not earlier calls returned."""
    total = int(rate * duration_s)
    start = time.perf_counter() + 0.05
    running: set[asyncio.Task] = set()
    i = 0
    while i < total:
        now = time.perf_counter()
        due = start + i / rate
        if due > now:
            await asyncio.sleep(due - now)
            continue
        while i < total and start + i / rate <= now:
            task = asyncio.create_task(fire(i, start + i / rate))
            running.add(task)
            task.add_done_callback(running.discard)
            i += 1
    if running:
        await asyncio.gather(*running)


def sample_picker(
    pairs: list[tuple[Person, Person]], recorder: Recorder
) -> Callable[[float], tuple[Person, Sample]]:
    """Each send: a random session, a random one of its two members writes to the other.

    Seeded, so every workload and baseline rung sends the same sequence.
    """
    rng = random.Random(7)

    def pick(t_sched: float) -> tuple[Person, Sample]:
        a, b = pairs[rng.randrange(len(pairs))]
        sender, recipient = (a, b) if rng.random() < 0.5 else (b, a)
        sample = Sample(
            uuid.uuid4().hex, sender.user_id, recipient.user_id, sender.session_id, t_sched
        )
        recorder.samples[sample.key] = sample
        return sender, sample

    return pick


def chat_fire(
    pairs: list[tuple[Person, Person]],
    base_urls: list[str],
    https: list[aiohttp.ClientSession],
    recorder: Recorder,
) -> Callable[[int, float], Awaitable]:
    """POST each picked sample to the servers in turn."""
    pick = sample_picker(pairs, recorder)

    async def fire(i: int, t_sched: float) -> None:
        sender, sample = pick(t_sched)
        server = i % len(base_urls)
        await send_message(https[server], base_urls[server], sample, sender.token)

    return fire


def socket_fire(
    pairs: list[tuple[Person, Person]], sockets: list[Socket], recorder: Recorder
) -> Callable[[int, float], Awaitable]:
    """Send each picked sample as a `message.send` frame on the sender's own socket; the
    reader task records the `message.sent` answer as the acknowledgement."""
    pick = sample_picker(pairs, recorder)
    by_user = {sock.person.user_id: sock for sock in sockets}

    async def fire(i: int, t_sched: float) -> None:
        sender, sample = pick(t_sched)
        frame = {
            "type": "message.send",
            "session_id": sample.session_id,
            "body": BODY,
            "client_msg_id": sample.key,
        }
        try:
            await by_user[sender.user_id].ws.send(json.dumps(frame))
        except Exception as exc:
            sample.status = type(exc).__name__

    return fire


def percentiles(values_s: list[float]) -> dict[str, float | int]:
    """Milliseconds: count, p50, p95, p99, max, mean."""
    if not values_s:
        return {"n": 0}
    ordered = sorted(v * 1000 for v in values_s)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2)

    return {
        "n": len(ordered),
        "p50": at(50),
        "p95": at(95),
        "p99": at(99),
        "max": round(ordered[-1], 2),
        "mean": round(sum(ordered) / len(ordered), 2),
    }


def summarise(recorder: Recorder, offered_rate: float) -> dict:
    samples = list(recorder.samples.values())
    acked = [s for s in samples if s.status in (200, 201)]
    delivered = [s for s in acked if s.t_deliver is not None]
    errors: dict[str, int] = {}
    for s in samples:
        if s.status not in (200, 201):
            reason = "unanswered" if s.status is None else str(s.status)
            errors[reason] = errors.get(reason, 0) + 1
    span = 0.0
    if delivered:
        span = max(s.t_deliver for s in delivered) - min(s.t_sched for s in samples)
    return {
        "offered_per_s": offered_rate,
        "sent": len(samples),
        "acked": len(acked),
        "errors": errors,
        "delivered": len(delivered),
        "deliveries_per_s": round(len(delivered) / span, 1) if span else 0,
        "lost_push": len(acked) - len(delivered),
        "duplicates_push": recorder.duplicates,
        "send_ack_ms": percentiles([s.t_ack - s.t_sched for s in acked]),
        "send_deliver_ms": percentiles([s.t_deliver - s.t_sched for s in delivered]),
    }
