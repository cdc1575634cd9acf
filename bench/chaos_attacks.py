"""Clients that misbehave, for the fault suite: a socket that never reads, a socket that
floods, a user who opens far too many sockets; and the probe that checks a server has
recovered after being offered several times what it can do.

Each is a fault in the sense of bench/chaos.py: `async fault(traffic)`, run while the
well-behaved clients' traffic flows; what it finds goes to traffic.notes, and what breaks
a rule to traffic.problems.
"""

import asyncio
import base64
import os
import random
import socket
import time
from collections import Counter

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.chaos_clients import NETWORK_ERRORS, Traffic
from bench.chaos_services import TCP_ESTABLISHED, tcp_connection
from bench.loadgen import percentiles

MB = 2**20
# The stuck socket's own receive buffer (the kernel doubles it): the server's data piles up
# on the server's side of the connection, not on ours.
STUCK_RCVBUF = 4096
# Allowance for the ordinary growth of two server processes under this traffic, on top of
# what was pushed to the stuck socket (see stuck_reader).
RSS_SLACK = 32 * MB
FEED_CHARS = 4900  # MESSAGE_MAX_CHARS is 5,000


async def open_stuck_socket(port: int, token: str) -> socket.socket:
    """A WebSocket handshake over a raw TCP socket that will never be read again."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STUCK_RCVBUF)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    head = b""
    while b"\r\n\r\n" not in head:  # byte by byte: nothing past the handshake is read
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 1), 5)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        sock.close()
        raise ConnectionError(f"handshake refused: {head[:40]!r}")
    return sock


def stuck_reader(servers, *, wait_close_s: float, at_s: float = 1.0, feed_per_s: float = 1.0):
    """A second socket for a member of a busy session, that completes the handshake and
    never reads (nor sends) again, while traffic flows into its session: the ordinary
    traffic, and the session's reader sending FEED_CHARS-character messages at feed_per_s
    (within the per-user message limit) until the traffic ends or, with wait_close_s, until
    the server drops the socket.

    Asserted: the servers' RSS grows by at most four times what was pushed to that socket
    (were every byte of it held as Python objects) plus RSS_SLACK; the session's members keep
    receiving pushes; and, with wait_close_s, that the server drops the socket within it.
    """

    def rss() -> int:
        return sum(s.rss_bytes() for s in servers)

    async def fault(t: Traffic) -> None:
        await asyncio.sleep(at_s)
        member, reader = t.members[0], t.members[1]  # a pair: client, reader (no text quota)
        session = (member, reader)
        server = servers[1]
        rss_before = rss()
        before = {id(m): (m.pushed, len(m.seen)) for m in session}
        bytes_before = member.push_bytes
        sock = await open_stuck_socket(server.port, member.person.token)
        opened, local_port = time.monotonic(), sock.getsockname()[1]
        queued = {"server": 0, "client": 0, "server_now": 0, "client_now": 0}
        closed: dict[str, float] = {}

        async def watch() -> None:
            while True:
                theirs = tcp_connection(server.port, local_port)
                if theirs is None or theirs[0] != TCP_ESTABLISHED:
                    closed["after_s"] = time.monotonic() - opened
                    return
                queued["server_now"] = theirs[1]
                queued["server"] = max(queued["server"], theirs[1])
                ours = tcp_connection(local_port, server.port)
                if ours is not None:
                    queued["client_now"] = ours[2]
                    queued["client"] = max(queued["client"], ours[2])
                await asyncio.sleep(0.2)

        async def feed() -> list:
            fed, i = [], 0
            while not (closed or (t.done.is_set() and not wait_close_s)):
                if wait_close_s and time.monotonic() - opened > wait_close_s:
                    break
                t.send(reader.person, via_ws=i % 2 == 0, body_chars=FEED_CHARS)
                fed.append(t.tasks[-1])
                i += 1
                await asyncio.sleep(1 / feed_per_s)
            return fed

        watcher = asyncio.create_task(watch())
        feeder = asyncio.create_task(feed())
        await t.done.wait()
        rss_traffic = rss()
        held = member.push_bytes - bytes_before - queued["server_now"] - queued["client_now"]
        held_before_close = held
        for m in session:
            pushed, seen = m.pushed - before[id(m)][0], len(m.seen) - before[id(m)][1]
            if seen == 0 or pushed < 0.9 * seen:
                t.problems.append(
                    f"member {m.person.username}: {pushed} pushes for {seen} new messages"
                    " while a socket of the session did not read"
                )
        if wait_close_s:
            remaining = opened + wait_close_s - time.monotonic()
            try:
                await asyncio.wait_for(asyncio.shield(watcher), max(0.0, remaining))
            except TimeoutError:
                t.problems.append(f"the server kept the stuck socket open {wait_close_s:.0f} s")
            held_before_close = (
                member.push_bytes - bytes_before - queued["server_now"] - queued["client_now"]
            )
        offered = member.push_bytes - bytes_before
        await asyncio.sleep(1.0)
        rss_end = rss()
        watcher.cancel()
        sock.close()
        await asyncio.gather(*(await feeder))
        bound = 4 * offered + RSS_SLACK
        growth = max(rss_traffic, rss_end) - rss_before
        t.notes.append(
            f"stuck socket on :{server.port}: {offered / 1024:.0f} KiB of messages pushed to it;"
            f" at most {queued['server'] / 1024:.0f} KiB in the server's kernel send queue and"
            f" {queued['client'] / 1024:.0f} KiB in ours; about {max(0, held) / 1024:.0f} KiB"
            " held in Daphne's own buffer when the traffic ended"
            + (
                f", {max(0, held_before_close) / 1024:.0f} KiB before the drop"
                if "after_s" in closed
                else ""
            )
        )
        t.notes.append(
            f"server RSS (both) {rss_before / MB:.1f} -> {rss_traffic / MB:.1f} MB after the"
            f" traffic -> {rss_end / MB:.1f} MB at the end; growth {growth / MB:+.1f} MB,"
            f" bound {bound / MB:.1f} MB"
        )
        if "after_s" in closed:
            t.notes.append(
                f"the server dropped the stuck socket {closed['after_s']:.1f} s after the handshake"
            )
        else:
            t.notes.append(
                f"still open {time.monotonic() - opened:.1f} s after the handshake (closed by us)"
            )
        if growth > bound:
            t.problems.append(
                f"server RSS grew {growth / MB:.1f} MB, over the {bound / MB:.1f} MB bound"
            )

    return fault


async def flood(url: str, token: str, *, per_s: int = 1000, max_frames: int = 5000) -> dict:
    """One socket sending `ping` frames at per_s until the server closes it."""
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(
        url, additional_headers=headers, ping_interval=None, compression=None, close_timeout=2
    ) as ws:
        result: dict = {"code": None, "frames": 0}
        started = time.monotonic()

        async def read() -> None:
            try:
                while True:
                    await ws.recv()
            except ConnectionClosed as exc:
                result["code"] = exc.rcvd.code if exc.rcvd else None
                result["after_s"] = time.monotonic() - started

        reader = asyncio.create_task(read())
        batch = max(1, per_s // 100)
        try:
            while result["frames"] < max_frames and not reader.done():
                for _ in range(batch):
                    await ws.send('{"type":"ping"}')
                result["frames"] += batch
                next_at = started + result["frames"] / per_s
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        except ConnectionClosed:
            pass
        try:
            await asyncio.wait_for(reader, 5)
        except TimeoutError:
            reader.cancel()
        return result


async def storm(urls: list[str], token: str, *, n: int = 200, hold_s: float = 3.0) -> Counter:
    """One user opening n sockets at once (over every server): how many stay open."""
    headers = {"Authorization": f"Bearer {token}"}
    kept = []

    async def one(i: int):
        try:
            ws = await connect(
                urls[i % len(urls)],
                additional_headers=headers,
                open_timeout=20,
                ping_interval=None,
                compression=None,
                close_timeout=2,
            )
        except (InvalidHandshake, *NETWORK_ERRORS) as exc:
            return f"handshake failed ({type(exc).__name__})"
        try:
            await asyncio.wait_for(ws.recv(), hold_s)
        except TimeoutError:
            pass
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else "closed"
        try:  # still open: is it a working socket?
            await ws.send('{"type":"ping"}')
            answer = await asyncio.wait_for(ws.recv(), 5)
        except (TimeoutError, ConnectionClosed):
            answer = ""
        kept.append(ws)
        return "open" if "pong" in answer else "open, no pong"

    outcomes = Counter(await asyncio.gather(*(one(i) for i in range(n))))
    await asyncio.gather(*(ws.close() for ws in kept), return_exceptions=True)
    return outcomes


def flood_and_storm(servers, flooder, stormer, *, at_s: float = 1.5, sockets: int = 200):
    """A socket sending 1,000 frames/s, then one user opening `sockets` sockets, while the
    others' traffic flows: the first closed with 4408, at most MAX_SOCKETS_PER_USER (10) of
    the second kept, every other one closed with 4429."""

    async def fault(t: Traffic) -> None:
        await asyncio.sleep(at_s)
        urls = [s.ws_url for s in servers]
        result = await flood(urls[0], flooder.token)
        t.notes.append(
            f"flood: closed with {result['code']} after {result.get('after_s', -1) * 1000:.0f} ms"
            f" and {result['frames']} frames sent"
        )
        if result["code"] != 4408 or result.get("after_s", 99) > 2.0:
            t.problems.append(f"the flooding socket was not closed with 4408 within 2 s: {result}")
        started = time.monotonic()
        outcomes = await storm(urls, stormer.token, n=sockets)
        t.notes.append(
            f"storm: {sockets} sockets in {time.monotonic() - started:.1f} s: "
            + ", ".join(f"{count} {what}" for what, count in sorted(outcomes.items(), key=str))
        )
        kept = outcomes["open"]
        if not 1 <= kept <= 10 or kept + outcomes[4429] != sockets:
            t.problems.append(f"storm: expected 1-10 open and the rest 4429, got {dict(outcomes)}")

    return fault


class Overload:
    """The overload's bookkeeping: CPU spent while it ran, then, once every send has been
    acknowledged and the servers have gone quiet, n ordinary sends at `rate` (half over
    each transport) that must all be acknowledged with p99 under p99_limit_s."""

    def __init__(self, servers, *, n: int = 40, rate: float = 10.0, p99_limit_s: float = 1.0):
        self.servers, self.n, self.rate, self.p99_limit_s = servers, n, rate, p99_limit_s

    def cpu(self) -> float:
        return sum(s.cpu_seconds() for s in self.servers)

    async def fault(self, t: Traffic) -> None:
        self.started = time.monotonic(), self.cpu(), time.process_time()

    async def quiet(self, within_s: float = 60.0) -> float:
        """Seconds until the servers use under 15 % of one core over a second."""
        started = time.monotonic()
        while time.monotonic() - started < within_s:
            before = self.cpu()
            await asyncio.sleep(1.0)
            if self.cpu() - before < 0.15:
                break
        return time.monotonic() - started

    async def after(self, t: Traffic) -> None:
        wall, server_cpu, client_cpu = (
            a - b
            for a, b in zip(
                (time.monotonic(), self.cpu(), time.process_time()), self.started, strict=True
            )
        )
        acked = [s for s in t.sends if s.acked_after is not None]
        t.notes.append(
            f"{len(acked)} acknowledged in {wall:.1f} s ({len(acked) / wall:.0f}/s); servers used"
            f" {server_cpu:.0f} CPU-s, this client {client_cpu:.0f} CPU-s"
        )
        if acked:
            ack = percentiles([s.acked_after for s in acked])
            failed = Counter(
                str(status)
                for s in t.sends
                for status in s.statuses
                if status not in (200, 201, "ws-sent")
            )
            t.notes.append(
                f"ack p50 {ack['p50'] / 1000:.1f} s, p99 {ack['p99'] / 1000:.1f}"
                f" s; {sum(s.attempts for s in t.sends)} attempts for {len(t.sends)} sends;"
                " failed attempts: "
                + (", ".join(f"{k} {v}" for k, v in failed.most_common()) or "none")
            )
        quiet_s = await self.quiet()
        rng = random.Random(7)
        probes = []
        for i in range(self.n):
            probes.append(t.send(rng.choice(t.members).person, via_ws=i % 2 == 0))
            await asyncio.sleep(1 / self.rate)
        await asyncio.gather(*t.tasks)
        latencies = [s.acked_after for s in probes if s.acked_after is not None]
        if len(latencies) < self.n:
            t.problems.append(f"after the overload, {self.n - len(latencies)} sends not acked")
            return
        measured = percentiles(latencies)
        p99 = measured["p99"] / 1000
        by_via = {
            via: [s.acked_after for s in probes if s.acked_via == via] for via in ("ws", "http")
        }
        t.notes.append(
            f"servers quiet {quiet_s:.0f} s after the last ack; then {self.n} sends at"
            f" {self.rate:.0f}/s acked p50 {measured['p50']:.0f} ms, p99"
            f" {measured['p99']:.0f} ms ("
            + ", ".join(
                f"{via} {len(v)}: p99 {percentiles(v)['p99']:.0f} ms"
                for via, v in by_via.items()
                if v
            )
            + ")"
        )
        if p99 >= self.p99_limit_s:
            t.problems.append(f"after the overload, send p99 {p99:.2f} s >= {self.p99_limit_s} s")
