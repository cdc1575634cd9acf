"""The load harness: `make bench` (full) or `python -m bench.harness --quick`.

Starts the real stack (Daphne processes on PostgreSQL and Redis), seeds people and sessions
with the project's code, and runs the workloads of docs/performance.md, plus the baseline
ladder B1-B3 with the same payload and shape, the emergency siren fan-out (bench.siren) and
the media processing costs (bench.media). Writes bench/results/<timestamp>.json and
rewrites docs/performance.md with the figures and a latency plot.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import stack
from bench.loadgen import (
    BODY,
    Recorder,
    close_sockets,
    open_loop,
    open_sockets,
    sample_picker,
    summarise,
)
from bench.seed import Person, seed_loners, seed_pairs
from bench.siren import siren_run
from bench.siren import table as siren_table
from bench.workloads import compare_options, run_chat, run_saturation, wait_settled

SERVER_CPU = 0
LOADGEN_CPU = 1


def pin_self(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})


def unpin_self() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


async def run_idle(server, people: list[Person]) -> dict:
    rss_before = server.rss_bytes()
    t0 = time.monotonic()
    sockets = await open_sockets(people, [server.ws_url], recorder=None)
    connect_s = time.monotonic() - t0
    await asyncio.sleep(3)
    rss_after = server.rss_bytes()
    alive = sum(1 for s in sockets if s.closed_code is None)
    await close_sockets(sockets)
    return {
        "sockets": len(people),
        "alive_after_3s": alive,
        "connect_seconds": round(connect_s, 1),
        "rss_before_mb": round(rss_before / 2**20, 1),
        "rss_after_mb": round(rss_after / 2**20, 1),
        "rss_per_socket_kb": round((rss_after - rss_before) / len(people) / 1024, 1),
    }


async def run_floor(mode: str, pairs, *, rate: float, duration_s: float) -> dict:
    """One baseline rung, same sockets, payload and offered rate as W-chat."""
    port = 9300
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": stack.database_url(),
        "BENCH_REDIS_URL": stack.REDIS_URL,
    }
    cmd = [sys.executable, "-m", "bench.baselines", "--mode", mode, "--port", str(port)]
    proc = subprocess.Popen(
        ["taskset", "-c", str(SERVER_CPU), *cmd], cwd=stack.ROOT, env=env, stdout=subprocess.PIPE
    )
    proc.stdout.readline()  # "ready"
    try:
        recorder = Recorder()
        people = [p for pair in pairs for p in pair]
        url = f"ws://127.0.0.1:{port}/"
        sockets = await open_sockets(people, [url], recorder=None)
        by_user = {s.person.user_id: s for s in sockets}
        for sock in sockets:
            await sock.ws.send(
                json.dumps({"hello": sock.person.user_id, "s": sock.person.session_id})
            )
            sock.reader.cancel()

        async def read(sock) -> None:
            async for frame in sock.ws:
                now = time.perf_counter()
                if frame.startswith('{"type": "ack"'):
                    sample = recorder.samples.get(json.loads(frame)["k"])
                    if sample is not None:
                        sample.t_ack, sample.status = now, 201
                else:
                    recorder.on_frame(sock.person.user_id, frame, now)

        readers = [asyncio.create_task(read(s)) for s in sockets]
        pick = sample_picker(pairs, recorder)

        async def fire(i: int, t_sched: float) -> None:
            sender, sample = pick(t_sched)
            await by_user[sender.user_id].ws.send(
                json.dumps({"k": sample.key, "s": sender.session_id, "b": BODY})
            )

        await open_loop(rate, duration_s, fire)
        await wait_settled(recorder, timeout_s=5)
        for task in readers:
            task.cancel()
        await close_sockets(sockets)
        result = summarise(recorder, rate)
        return {"mode": mode, **result}
    finally:
        proc.terminate()
        proc.wait()


def run_media(runs: int) -> dict:
    """bench.media as when run alone: its own process, unpinned, one fresh child per run.

    A failure is recorded rather than raised, so it cannot cost the rest of the run.
    """
    with tempfile.TemporaryDirectory(prefix="bench-media-") as scratch:
        out = Path(scratch) / "media.json"
        done = subprocess.run(
            [sys.executable, "-m", "bench.media", "--runs", str(runs), "--out", str(out)],
            cwd=stack.ROOT,
            capture_output=True,
            text=True,
        )
        print(done.stdout, end="", flush=True)
        if done.returncode != 0:
            print(done.stderr, end="", file=sys.stderr, flush=True)
            return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
        return json.loads(out.read_text())


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


async def main_async(args) -> dict:
    results: dict = {
        "started_at": datetime.now(UTC).isoformat(),
        "versions": stack.versions(),
        "args": vars(args),
    }
    n_sessions = args.users // 2
    print(f"seeding {n_sessions} sessions ({args.users} users)…", flush=True)
    pairs = await asyncio.to_thread(seed_pairs, n_sessions, prefix="chat")

    # W-chat runs as the box is deployed: one Daphne process per core behind the balancer
    # (here, the load generator spreads sockets over both), PostgreSQL and Redis beside them.
    two = [stack.Server(port=9101, cpu=0), stack.Server(port=9102, cpu=1)]
    for server in two:
        server.start()
    try:
        unpin_self()
        # The same minute twice: first on servers that have just started (recorded as
        # w_chat_first_minute), then on servers that have been serving, which is what the
        # targets are about. The first minute's tail is longer (docs/performance.md).
        print(
            f"W-chat: {args.users} users, {args.rate}/s for {args.duration}s, two processes,"
            " first minute after start…",
            flush=True,
        )
        first = await run_chat(two, pairs, rate=args.rate, duration_s=args.duration, probe=True)
        first.pop("_deliver_samples_ms")
        results["w_chat_first_minute"] = first
        print("  ", first, flush=True)
        print("W-chat, again on the same servers…", flush=True)
        chat = await run_chat(two, pairs, rate=args.rate, duration_s=args.duration, probe=True)
        chat["processes"] = len(two)
        results["w_chat"] = chat
        print("  ", {k: v for k, v in chat.items() if not k.startswith("_")}, flush=True)
        print("W-saturate, two processes…", flush=True)
        results["w_saturate_2"] = await run_saturation(
            two, pairs, rates=args.ladder, step_s=args.step
        )
    finally:
        for server in two:
            server.stop()

    pin_self(LOADGEN_CPU)
    print("baseline ladder…", flush=True)
    floors = {}
    for mode in ("b1", "b2", "b3"):
        floors[mode] = await run_floor(
            mode, pairs, rate=args.rate, duration_s=min(args.duration, 20)
        )
        print(
            f"   {mode}: ack {floors[mode]['send_ack_ms']}, deliver {floors[mode]['send_deliver_ms']}",
            flush=True,
        )
    results["floors"] = floors
    results["ratios"] = {
        "project_ack_p50_vs_b3": ratio(
            chat["send_ack_ms"].get("p50"), floors["b3"]["send_ack_ms"].get("p50")
        ),
        "project_deliver_p50_vs_b3": ratio(
            chat["send_deliver_ms"].get("p50"), floors["b3"]["send_deliver_ms"].get("p50")
        ),
        "b3_ack_p50_vs_b2": ratio(
            floors["b3"]["send_ack_ms"].get("p50"), floors["b2"]["send_ack_ms"].get("p50")
        ),
        "b2_ack_p50_vs_b1": ratio(
            floors["b2"]["send_ack_ms"].get("p50"), floors["b1"]["send_ack_ms"].get("p50")
        ),
    }

    one = stack.Server(port=9101, cpu=SERVER_CPU)
    one.start()
    try:
        print("W-saturate, one process…", flush=True)
        results["w_saturate_1"] = await run_saturation(
            [one], pairs, rates=args.ladder, step_s=args.step
        )
    finally:
        one.stop()
    results["ratios"]["two_vs_one_processes"] = ratio(
        results["w_saturate_2"]["max_sustained_per_s"],
        results["w_saturate_1"]["max_sustained_per_s"],
    )

    print(f"options, one process at {args.options_rate}/s…", flush=True)
    results["options"] = await compare_options(
        pairs,
        cpu=SERVER_CPU,
        rate=args.options_rate,
        duration_s=args.options_seconds,
        rounds=args.options_rounds,
    )

    print(f"W-idle: {args.idle} sockets…", flush=True)
    loners = await asyncio.to_thread(seed_loners, args.idle, prefix="idle")
    idle_server = stack.Server(port=9103, cpu=SERVER_CPU)
    idle_server.start()
    try:
        pin_self(LOADGEN_CPU)
        results["w_idle"] = await run_idle(idle_server, loners)
        print("  ", results["w_idle"], flush=True)
    finally:
        idle_server.stop()

    print(
        f"W-siren: {args.siren_readers} on-call readers, {args.siren_requests} requests…",
        flush=True,
    )
    pin_self(LOADGEN_CPU)
    results["siren"] = await siren_run(
        readers=args.siren_readers, requests=args.siren_requests, port=9104, cpu=SERVER_CPU
    )
    print(siren_table(results["siren"]), flush=True)

    unpin_self()
    print(f"media: {args.media_runs} run(s) per job…", flush=True)
    results["media"] = await asyncio.to_thread(run_media, args.media_runs)
    results["finished_at"] = datetime.now(UTC).isoformat()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small and short: checks the harness works"
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--step", type=float, default=10)
    parser.add_argument(
        "--ladder",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[50, 75, 100, 150, 200, 250, 300, 400, 600, 800, 1000],
    )
    parser.add_argument("--options-rate", type=float, default=80)
    parser.add_argument("--options-seconds", type=float, default=15)
    parser.add_argument("--options-rounds", type=int, default=2)
    parser.add_argument("--siren-readers", type=int, default=200)
    parser.add_argument("--siren-requests", type=int, default=20)
    parser.add_argument("--media-runs", type=int, default=3)
    parser.add_argument(
        "--no-report", action="store_true", help="do not rewrite docs/performance.md"
    )
    args = parser.parse_args()
    if args.quick:
        args.users, args.rate, args.duration, args.idle, args.step = 100, 50, 5, 300, 3
        args.ladder = [50, 100]
        args.options_rate, args.options_seconds, args.options_rounds = 30, 3, 1
        args.siren_readers, args.siren_requests, args.media_runs = 20, 3, 1
    stack.raise_fd_limit()
    stack.reset_database()
    stack.setup_django()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    results = asyncio.run(main_async(args))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # Only full runs are results worth keeping; a quick run is a smoke test of the harness.
    folder = stack.ROOT / ("var/bench" if args.quick else "bench/results")
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{stamp}.json"
    samples = results["w_chat"].pop("_deliver_samples_ms")
    results["w_chat_deliver_samples_ms"] = samples  # kept, so the report can be redrawn
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")
    if not args.no_report and not args.quick:
        from bench.report import write_report

        write_report(results, samples, out)


if __name__ == "__main__":
    main()
