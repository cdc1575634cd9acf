"""Faults under traffic, and the one invariant they must all keep:

every message the server acknowledged reaches every member exactly once after their client
catches up, in the same order for everyone; nothing is shown that was not committed; a
retried send creates no second row.

The clients here follow the documented protocol (docs/api.md): reconnect with jittered
backoff (to any server), catch up from the last id held, dedupe by id, and catch up at once
when `previous_id` shows a missed push. Senders retry with the same client_msg_id until
acknowledged.

`python -m bench.chaos` runs every scenario against a private Redis and two Daphne
processes on the bench database; tests/chaos runs a short version in CI.
"""

import asyncio
import json
import os
import random
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from bench.seed import Person


class PrivateRedis:
    """A redis-server of our own, so that killing it harms nothing else on the machine."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        import redis

        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)


class PrivatePostgres:
    """A PostgreSQL cluster of our own (Debian's pg_createcluster), to restart at will."""

    def __init__(self, port: int, name: str = "samia-chaos") -> None:
        self.port, self.name = port, name
        self.version = (
            sorted(os.listdir("/etc/postgresql"))[-1] if os.path.isdir("/etc/postgresql") else ""
        )

    @staticmethod
    def available() -> bool:
        import shutil

        return bool(shutil.which("pg_createcluster")) and os.geteuid() == 0

    @property
    def admin_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, action: str, *extra: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action, *extra],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        clusters = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
        if not any(line.split()[1:2] == [self.name] for line in clusters.splitlines()):
            subprocess.run(
                [
                    "pg_createcluster",
                    self.version,
                    self.name,
                    "-p",
                    str(self.port),
                    "--",
                    "--auth=trust",
                ],
                check=True,
                capture_output=True,
            )
        if f"{self.port} online" not in " ".join(clusters.split()):
            self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")


@dataclass
class Member:
    person: Person
    bases: list[str]
    seen: list[int] = field(default_factory=list)
    seen_set: set[int] = field(default_factory=set)
    order_violations: int = 0
    reconnects: int = 0
    catch_ups: int = 0
    ws: object = None  # the open socket, so a fault can cut it
    cut_until: float = 0.0  # no reconnect before this time (a network cut)

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


async def catch_up(http: aiohttp.ClientSession, member: Member, base: str) -> None:
    member.catch_ups += 1
    headers = {"Authorization": f"Bearer {member.person.token}"}
    while True:
        url = f"{base}/api/sessions/{member.person.session_id}/messages?after={member.last_id}&limit=100"
        async with http.get(url, headers=headers) as response:
            if response.status != 200:
                raise ConnectionError(f"catch-up answered {response.status}")
            page = await response.json()
        for message in page["messages"]:
            member.add(message)
        if not page["has_more"]:
            return


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
                ping_interval=None,
                compression=None,
            ) as ws:
                member.ws = ws
                await catch_up(http, member, base)
                attempt = 0
                while not stop.is_set():
                    try:
                        frame = await asyncio.wait_for(ws.recv(), 0.5)
                    except TimeoutError:
                        continue
                    event = json.loads(frame)
                    if event.get("type") != "message.created":
                        continue
                    message = event["message"]
                    if message["session_id"] != member.person.session_id:
                        continue
                    previous = event.get("previous_id")
                    if previous and previous != member.last_id and previous > member.last_id:
                        await catch_up(http, member, base)  # a push went missing
                    member.add(message)
        except (OSError, WebSocketException, ConnectionError, TimeoutError, aiohttp.ClientError):
            member.reconnects += 1
            attempt += 1
            ceiling = min(2.0, 0.1 * 2 ** min(attempt, 5))
            await asyncio.sleep(ceiling / 2 + rng.random() * ceiling / 2)


@dataclass
class Send:
    key: str
    sender: Person
    acked_id: int | None = None
    attempts: int = 0
    statuses: list = field(default_factory=list)


async def send_until_acked(
    http: aiohttp.ClientSession, bases: list[str], send: Send, *, give_up_s: float, copies: int = 1
) -> None:
    """POST with one client_msg_id, retrying on any failure; `copies` sends it that many times."""
    deadline = time.monotonic() + give_up_s
    rng = random.Random(send.key)
    body = {"kind": "text", "body": f"chaos {send.key}", "client_msg_id": send.key}
    headers = {"Authorization": f"Bearer {send.sender.token}"}
    delivered_copies = 0
    while time.monotonic() < deadline and delivered_copies < copies:
        base = bases[(send.attempts + rng.randrange(len(bases))) % len(bases)]
        send.attempts += 1
        try:
            async with http.post(
                f"{base}/api/sessions/{send.sender.session_id}/messages", json=body, headers=headers
            ) as response:
                send.statuses.append(response.status)
                if response.status in (200, 201):
                    message_id = (await response.json())["id"]
                    if send.acked_id not in (None, message_id):
                        raise AssertionError("a retry was acknowledged as a different message")
                    send.acked_id = message_id
                    delivered_copies += 1
                    continue
        except (OSError, aiohttp.ClientError, TimeoutError) as exc:
            send.statuses.append(type(exc).__name__)
        await asyncio.sleep(0.1 + rng.random() * 0.3)


@dataclass
class Outcome:
    scenario: str
    sent: int
    acked: int
    members: int
    reconnects: int
    catch_ups: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


async def run_traffic(
    pairs: list[tuple[Person, Person]],
    bases: list[str],
    *,
    scenario: str,
    duration_s: float,
    rate: float,
    fault,
    copies: int = 1,
    burst: int = 1,
    db_messages,
) -> Outcome:
    """Drive traffic while `fault(t)` runs, then check the invariant against the database.

    `db_messages(session_id) -> list[(id, client_msg_id)]` reads the database (committed rows).
    """
    members = [Member(p, bases) for pair in pairs for p in pair]
    stop = asyncio.Event()
    if getattr(fault, "needs_members", False):
        fault = fault(members)
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        followers = [asyncio.create_task(follow(m, http, stop)) for m in members]
        await asyncio.sleep(1.0)
        sends: list[Send] = []
        rng = random.Random(11)
        fault_task = asyncio.create_task(fault())
        tasks = []
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < duration_s:
            a, b = pairs[rng.randrange(len(pairs))]
            for _ in range(burst):  # `burst` sends into one session at the same instant
                send = Send(uuid.uuid4().hex, a if i % 2 else b)
                sends.append(send)
                tasks.append(
                    asyncio.create_task(
                        send_until_acked(http, bases, send, give_up_s=30, copies=copies)
                    )
                )
                i += 1
            await asyncio.sleep(burst / rate)
        await asyncio.gather(*tasks)
        await fault_task
        # Let every client settle, then one last catch-up each (what a client does on focus).
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*followers)
        for member in members:
            for _ in range(20):
                try:
                    await catch_up(http, member, bases[0])
                    break
                except (OSError, aiohttp.ClientError, ConnectionError, TimeoutError):
                    await asyncio.sleep(0.5)

    problems: list[str] = []
    by_session: dict[int, list[Member]] = {}
    for member in members:
        by_session.setdefault(member.person.session_id, []).append(member)
        if member.order_violations:
            problems.append(
                f"member {member.person.username} saw {member.order_violations} out of order"
            )
    acked = {s.key: s.acked_id for s in sends if s.acked_id is not None}
    for session_id, session_members in by_session.items():
        rows = db_messages(session_id)
        db_ids = [row_id for row_id, _ in rows]
        keys = [key for _, key in rows if key]
        if len(keys) != len(set(keys)):
            problems.append(f"session {session_id}: duplicate rows for one client_msg_id")
        for member in session_members:
            if member.seen != db_ids:
                missing = set(db_ids) - member.seen_set
                extra = member.seen_set - set(db_ids)
                problems.append(
                    f"session {session_id} member {member.person.username}: view differs from the"
                    f" database (missing {len(missing)}, not committed {len(extra)})"
                )
        session_keys = set(keys)
        for send in sends:
            if (
                send.sender.session_id == session_id
                and send.key in acked
                and send.key not in session_keys
            ):
                problems.append(f"acked message {send.key} is not in the database")
    return Outcome(
        scenario=scenario,
        sent=len(sends),
        acked=len(acked),
        members=len(members),
        reconnects=sum(m.reconnects for m in members),
        catch_ups=sum(m.catch_ups for m in members),
        problems=problems,
    )


def db_reader(database_url: str):
    import psycopg

    def read(session_id: int) -> list[tuple[int, str | None]]:
        with psycopg.connect(database_url) as conn:
            return conn.execute(
                "SELECT id, client_msg_id FROM chat_message WHERE session_id = %s ORDER BY id",
                (session_id,),
            ).fetchall()

    return read


# --- scenarios: each returns the coroutine factory that injects the fault ---------------------


def redis_restart(redis: PrivateRedis, *, at_s: float = 2.0, down_s: float = 1.0):
    async def fault() -> None:
        await asyncio.sleep(at_s)
        redis.stop()
        await asyncio.sleep(down_s)
        redis.start()

    return fault


def redis_pause(redis: PrivateRedis, *, at_s: float = 2.0, paused_s: float = 5.0):
    async def fault() -> None:
        await asyncio.sleep(at_s)
        redis.pause()
        await asyncio.sleep(paused_s)
        redis.resume()

    return fault


def server_kill_and_roll(servers, *, at_s: float = 2.0):
    """SIGKILL one server, bring it back; then roll the other with SIGTERM."""

    async def fault() -> None:
        await asyncio.sleep(at_s)
        servers[0].stop(signal.SIGKILL)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(servers[0].start)
        await asyncio.sleep(1.0)
        servers[1].stop(signal.SIGTERM)
        await asyncio.to_thread(servers[1].start)

    return fault


def postgres_restart(pg: PrivatePostgres, *, at_s: float = 2.0):
    async def fault() -> None:
        await asyncio.sleep(at_s)
        await asyncio.to_thread(pg.restart)

    return fault


def connections_cut(share: float = 0.2, *, at_s: float = 2.0, cut_s: float = 3.0):
    """Drop `share` of the clients' connections without a close frame; no reconnect for cut_s."""

    def bind(members: list[Member]):
        async def fault() -> None:
            await asyncio.sleep(at_s)
            victims = random.Random(5).sample(members, max(1, int(len(members) * share)))
            for member in victims:
                member.cut_until = time.monotonic() + cut_s
                if member.ws is not None:
                    member.ws.transport.abort()

        return fault

    bind.needs_members = True
    return bind


def no_fault():
    async def fault() -> None:
        return None

    return fault


def main() -> None:
    """Every scenario against a private PostgreSQL cluster (when this machine can make one),
    a private Redis, and two Daphne processes."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--sessions", type=int, default=10)
    args = parser.parse_args()
    redis = PrivateRedis(6391)
    redis.start()
    os.environ["BENCH_REDIS_URL"] = redis.url
    pg = PrivatePostgres(5499) if PrivatePostgres.available() else None
    if pg is not None:
        pg.start()
        os.environ["BENCH_PG_ADMIN_URL"] = pg.admin_url
        os.environ["BENCH_DB"] = "samia_chaos"
    from bench import stack  # reads the variables above

    stack.reset_database()
    stack.setup_django()
    from bench.seed import seed_pairs

    pairs = seed_pairs(args.sessions, prefix="chaos")
    servers = [stack.Server(port=9201, cpu=None), stack.Server(port=9202, cpu=None)]
    for server in servers:
        server.start()
    bases = [s.url for s in servers]
    read = db_reader(stack.database_url())
    scenarios = [
        ("retries: every send three times", no_fault(), {"copies": 3}),
        (
            "ten sends into one session at the same instant",
            no_fault(),
            {"burst": 10, "pairs": pairs[:1]},
        ),
        ("20% of connections cut for 3 s", connections_cut(0.2), {}),
        ("redis restarted mid-traffic", redis_restart(redis), {}),
        ("redis paused 5 s", redis_pause(redis), {}),
        ("one server SIGKILLed, the other rolled", server_kill_and_roll(servers), {}),
    ]
    if pg is not None:
        scenarios.append(("postgresql restarted mid-traffic", postgres_restart(pg), {}))
    failed = False
    try:
        for name, fault, options in scenarios:
            outcome = asyncio.run(
                run_traffic(
                    options.pop("pairs", pairs),
                    bases,
                    scenario=name,
                    duration_s=args.duration,
                    rate=args.rate,
                    fault=fault,
                    db_messages=read,
                    **options,
                )
            )
            status = "ok" if outcome.ok else "FAILED"
            print(
                f"{status:6} {name}: {outcome.acked}/{outcome.sent} acked, {outcome.reconnects} reconnects,"
                f" {outcome.catch_ups} catch-ups",
                flush=True,
            )
            for problem in outcome.problems[:10]:
                print("       ", problem)
            failed |= not outcome.ok
    finally:
        for server in servers:
            server.stop()
        redis.stop()
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
