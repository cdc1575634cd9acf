"""Faults under traffic, and the one invariant they must all keep:

every message the server acknowledged reaches every member exactly once after their client
catches up, in the same order for everyone; nothing is shown that was not committed; a
retried send creates no second row.

The clients (bench/chaos_clients.py) follow the documented protocol (docs/api.md):
reconnect with jittered backoff (to any server), catch up from the last id held, dedupe by
id, and catch up at once when `previous_id` shows a missed push. About half the sends go as
`message.send` frames on the sender's socket, the rest as HTTP POSTs; every send is retried
with the same client_msg_id (over HTTP after a socket attempt fails) until acknowledged.

`python -m bench.chaos` runs every scenario against a private Redis and two Daphne
processes on the bench database (a private PostgreSQL cluster when this machine can make
one); tests/chaos runs a short version in CI. Each scenario prints one `ok` or `FAILED` line.
"""

import asyncio
import math
import os
import random
import signal
import time
from dataclasses import dataclass, field

from bench.chaos_attacks import Overload, flood_and_storm, stuck_reader
from bench.chaos_clients import Traffic
from bench.chaos_services import PrivatePostgres, PrivateRedis, db_reader
from bench.chaos_traffic import run_traffic

# --- faults: each returns `async fault(traffic)`, run while the traffic flows -----------------


def redis_restart(redis: PrivateRedis, *, at_s: float = 2.0, down_s: float = 1.0):
    async def fault(_t: Traffic) -> None:
        await asyncio.sleep(at_s)
        redis.stop()
        await asyncio.sleep(down_s)
        redis.start()

    return fault


def redis_pause(redis: PrivateRedis, *, at_s: float = 2.0, paused_s: float = 5.0):
    async def fault(_t: Traffic) -> None:
        await asyncio.sleep(at_s)
        redis.pause()
        await asyncio.sleep(paused_s)
        redis.resume()

    return fault


def server_kill_and_roll(servers, *, at_s: float = 2.0):
    """SIGKILL one server, bring it back; then roll the other with SIGTERM."""

    async def fault(_t: Traffic) -> None:
        await asyncio.sleep(at_s)
        servers[0].stop(signal.SIGKILL)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(servers[0].start)
        await asyncio.sleep(1.0)
        servers[1].stop(signal.SIGTERM)
        await asyncio.to_thread(servers[1].start)

    return fault


def postgres_restart(pg: PrivatePostgres, *, at_s: float = 2.0):
    async def fault(_t: Traffic) -> None:
        await asyncio.sleep(at_s)
        await asyncio.to_thread(pg.restart)

    return fault


def connections_cut(share: float = 0.2, *, at_s: float = 2.0, cut_s: float = 3.0):
    """Drop `share` of the clients' connections without a close frame; no reconnect for cut_s."""

    async def fault(t: Traffic) -> None:
        await asyncio.sleep(at_s)
        victims = random.Random(5).sample(t.members, max(1, int(len(t.members) * share)))
        for member in victims:
            member.cut_until = time.monotonic() + cut_s
            if member.ws is not None:
                member.ws.transport.abort()

    return fault


def no_fault():
    async def fault(_t: Traffic) -> None:
        return None

    return fault


@dataclass
class Scenario:
    name: str
    fault: object
    options: dict = field(default_factory=dict)


def main() -> None:
    """Every scenario against a private PostgreSQL cluster (when this machine can make one),
    a private Redis, and two Daphne processes."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=8, help="seconds of traffic each")
    parser.add_argument("--rate", type=float, default=20, help="sends per second")
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument(
        "--saturate-rate", type=float, default=300, help="sends/s offered in the overload"
    )
    parser.add_argument("--saturate-seconds", type=float, default=10)
    parser.add_argument(
        "--stuck-wait",
        type=float,
        default=75,
        help="seconds to wait for the server to drop the socket that never reads (0: do not)",
    )
    parser.add_argument(
        "--only", action="append", help="run the scenarios whose name contains this (repeatable)"
    )
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

    stack.raise_fd_limit()
    stack.reset_database()
    stack.setup_django()
    from bench.seed import seed_loners, seed_pairs

    pairs = seed_pairs(args.sessions, prefix="chaos")
    # The overload's senders stay under the per-user message limit (100 a minute, retries
    # included): about 25 sends each, so the servers, not the limit, are what is saturated.
    overload_sends = args.saturate_rate * args.saturate_seconds
    crowd = seed_pairs(max(args.sessions, math.ceil(overload_sends / 50)), prefix="crowd")
    flooder, stormer = seed_loners(2, prefix="chaos-loner")
    servers = [stack.Server(port=9201, cpu=None), stack.Server(port=9202, cpu=None)]
    for server in servers:
        server.start()
    bases = [s.url for s in servers]
    read = db_reader(stack.database_url())
    scenarios = [
        Scenario("retries: every send three times", no_fault(), {"copies": 3}),
        Scenario("ten sends into one session at the same instant", no_fault(), {"burst": 10}),
        Scenario("20% of connections cut for 3 s", connections_cut(0.2)),
        Scenario("redis restarted mid-traffic", redis_restart(redis)),
        Scenario("redis paused 5 s", redis_pause(redis)),
        Scenario("one server SIGKILLed, the other rolled", server_kill_and_roll(servers)),
    ]
    if pg is not None:
        scenarios.append(Scenario("postgresql restarted mid-traffic", postgres_restart(pg)))
    overload = Overload(servers)
    scenarios += [
        Scenario(
            "a socket that never reads, in a busy session",
            stuck_reader(servers, wait_close_s=args.stuck_wait),
        ),
        Scenario(
            "a socket flooding 1,000 frames/s; one user opening 200 sockets",
            flood_and_storm(servers, flooder, stormer),
        ),
        Scenario(
            f"overload: {args.saturate_rate:.0f} sends/s for {args.saturate_seconds:.0f} s",
            overload.fault,
            {
                "pairs": crowd,
                "rate": args.saturate_rate,
                "duration_s": args.saturate_seconds,
                "give_up_s": 180,
                "http_timeout": 30,
                "answer_timeout": 10,
                "after": overload.after,
            },
        ),
    ]
    if args.only:
        scenarios = [s for s in scenarios if any(w.lower() in s.name.lower() for w in args.only)]
    failed = False
    try:
        for scenario in scenarios:
            options = {"pairs": pairs, "rate": args.rate, "duration_s": args.duration}
            options.update(scenario.options)
            rss_before = sum(s.rss_bytes() for s in servers)
            started = time.monotonic()
            outcome = asyncio.run(
                run_traffic(
                    options.pop("pairs"),
                    bases,
                    scenario=scenario.name,
                    fault=scenario.fault,
                    db_messages=read,
                    **options,
                )
            )
            rss_after = sum(s.rss_bytes() for s in servers)
            status = "ok" if outcome.ok else "FAILED"
            print(
                f"{status:6} {scenario.name}: {outcome.acked}/{outcome.sent} acked"
                f" (ws {outcome.acked_ws}, http {outcome.acked_http}), {outcome.reconnects}"
                f" reconnects, {outcome.catch_ups} catch-ups; {time.monotonic() - started:.0f} s,"
                f" server RSS {rss_before / 2**20:.0f} -> {rss_after / 2**20:.0f} MB",
                flush=True,
            )
            for note in outcome.notes:
                print("       ", note, flush=True)
            for problem in outcome.problems[:10]:
                print("        PROBLEM:", problem, flush=True)
            failed |= not outcome.ok
    finally:
        for server in servers:
            server.stop()
        redis.stop()
    print(f"scenarios run: {len(scenarios)}", flush=True)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
