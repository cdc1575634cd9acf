"""The chat workloads the harness drives against running servers: W-chat (open-loop sends
over the sockets, deliveries timed on the other member's socket, the result checked against
the database), the saturation ladder, and the paired comparison of deployment options."""

import asyncio
import importlib.util
import random
import time

import psycopg

from bench import stack
from bench.loadgen import (
    Recorder,
    chat_fire,
    close_sockets,
    http_session,
    open_loop,
    open_sockets,
    percentiles,
    socket_fire,
    summarise,
)


def db_check(keys: list[str]) -> dict:
    """Every acknowledged key must be in the database exactly once."""
    with psycopg.connect(stack.database_url()) as conn:
        rows = conn.execute(
            "SELECT client_msg_id, count(*) FROM chat_message WHERE client_msg_id = ANY(%s) GROUP BY 1",
            (keys,),
        ).fetchall()
    counts = dict(rows)
    return {
        "acked_missing_in_db": sum(1 for k in keys if k not in counts),
        "duplicated_rows": sum(n - 1 for n in counts.values() if n > 1),
    }


async def wait_settled(recorder: Recorder, timeout_s: float) -> None:
    """Until every send is answered and every acknowledged one delivered (or time is up)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pending = [
            s
            for s in recorder.samples.values()
            if s.status is None or (s.status in (200, 201) and s.t_deliver is None)
        ]
        if not pending:
            return
        await asyncio.sleep(0.1)


async def http_probe(servers, pairs, stop: asyncio.Event, rate: float = 20.0) -> dict:
    """Inbox and message-page requests at a steady rate while the chat load runs."""
    rng = random.Random(3)
    timings: dict[str, list[float]] = {"inbox": [], "messages": []}
    async with http_session(limit=16) as http:
        i = 0
        while not stop.is_set():
            person = rng.choice(pairs)[rng.randrange(2)]
            kind = "inbox" if i % 2 == 0 else "messages"
            path = (
                "/api/sessions"
                if kind == "inbox"
                else f"/api/sessions/{person.session_id}/messages"
            )
            base = servers[i % len(servers)].url
            t0 = time.perf_counter()
            async with http.get(
                base + path, headers={"Authorization": f"Bearer {person.token}"}
            ) as r:
                await r.read()
                if r.status == 200:
                    timings[kind].append(time.perf_counter() - t0)
            i += 1
            await asyncio.sleep(1 / rate)
    return {kind: percentiles(values) for kind, values in timings.items()}


async def run_chat(
    servers, pairs, *, rate: float, duration_s: float, probe: bool, transport: str = "ws"
) -> dict:
    """Open-loop chat: sends as `message.send` frames on the sockets (`ws`, the default)
    or as HTTP POSTs (`http`); deliveries are the pushes the other member's socket gets."""
    recorder = Recorder()
    people = [p for pair in pairs for p in pair]
    sockets = await open_sockets(people, [s.ws_url for s in servers], recorder=recorder)
    https = [http_session() for _ in servers]
    server_pids = {s.proc.pid for s in servers}
    programs_before, box_before = stack.cpu_by_program(server_pids), stack.box_busy_seconds()
    t_start = time.monotonic()
    stop = asyncio.Event()
    probe_task = asyncio.create_task(http_probe(servers, pairs, stop)) if probe else None
    if transport == "ws":
        fire = socket_fire(pairs, sockets, recorder)
    else:
        fire = chat_fire(pairs, [s.url for s in servers], https, recorder)
    await open_loop(rate, duration_s, fire)
    # As long as the HTTP client's own timeout: an unanswered frame counts as an error.
    await wait_settled(recorder, timeout_s=30)
    stop.set()
    elapsed = time.monotonic() - t_start
    programs_after, box_after = stack.cpu_by_program(server_pids), stack.box_busy_seconds()
    probe_result = await probe_task if probe_task else None
    for http in https:
        await http.close()
    await close_sockets(sockets)
    result = summarise(recorder, rate)
    result["connections"] = len(sockets)
    result["duration_s"] = duration_s
    used = {name: programs_after[name] - programs_before[name] for name in programs_after}
    result["server_cpu_s_per_1000_deliveries"] = (
        round(used["servers"] / result["delivered"] * 1000, 3) if result["delivered"] else None
    )
    # Cores in use on average while the load ran and settled, by program and for the box.
    result["cpu_cores"] = {name: round(seconds / elapsed, 2) for name, seconds in used.items()}
    result["cpu_cores"]["box busy"] = round((box_after - box_before) / elapsed, 2)
    keys = [s.key for s in recorder.samples.values() if s.status in (200, 201)]
    result.update(db_check(keys))
    if probe_result:
        result["http_while_loaded_ms"] = probe_result
    result["_deliver_samples_ms"] = sorted(
        round((s.t_deliver - s.t_sched) * 1000, 2) for s in recorder.samples.values() if s.t_deliver
    )
    return result


def sustained(result: dict) -> bool:
    return (
        result["send_deliver_ms"].get("p99", 1e9) <= 1000
        and result["lost_push"] == 0
        and not result["errors"]
        and result["acked_missing_in_db"] == 0
    )


async def run_saturation(servers, pairs, *, rates: list[int], step_s: float) -> dict:
    steps = []
    best = 0
    for rate in rates:
        result = await run_chat(servers, pairs, rate=rate, duration_s=step_s, probe=False)
        result.pop("_deliver_samples_ms")
        steps.append({"rate": rate, **result})
        print(
            f"  saturate x{len(servers)} @ {rate}/s: deliver p99 {result['send_deliver_ms'].get('p99')} ms,"
            f" lost {result['lost_push']}, errors {result['errors']}",
            flush=True,
        )
        if not sustained(result):
            break
        best = rate
    return {"processes": len(servers), "max_sustained_per_s": best, "steps": steps}


# The options the design could have taken, each on one pinned process at the same rate:
# the deployed shape first, then one change at a time.
OPTIONS = {
    "daphne + pubsub layer (deployed)": {"kind": "daphne", "env": {}},
    "uvicorn + pubsub layer": {"kind": "uvicorn", "env": {}},
    "daphne + queue layer (RedisChannelLayer)": {
        "kind": "daphne",
        "env": {"CHANNEL_LAYER": "core"},
    },
}


def options_available() -> dict[str, dict]:
    """The options whose server is installed: uvicorn comes with bench/requirements.txt
    (`make bench`), not with the test requirements CI's quick run has."""
    return {name: o for name, o in OPTIONS.items() if importlib.util.find_spec(o["kind"])}


async def compare_options(pairs, *, cpu: int, rate: float, duration_s: float, rounds: int) -> dict:
    """Each option in turn, `rounds` times in alternating order so drift on this shared
    machine falls on all of them alike; the figures per round are kept."""
    options = options_available()
    runs: dict[str, list[dict]] = {name: [] for name in options}
    for round_no in range(rounds):
        for name, option in options.items():
            server = stack.Server(
                port=9105, cpu=cpu, kind=option["kind"], env={**stack.server_env(), **option["env"]}
            )
            server.start()
            try:
                result = await run_chat(
                    [server], pairs, rate=rate, duration_s=duration_s, probe=False
                )
            finally:
                server.stop()
            result.pop("_deliver_samples_ms")
            runs[name].append(
                {
                    "round": round_no + 1,
                    "send_ack_ms": result["send_ack_ms"],
                    "send_deliver_ms": result["send_deliver_ms"],
                    "deliveries_per_s": result["deliveries_per_s"],
                    "server_cpu_s_per_1000_deliveries": result["server_cpu_s_per_1000_deliveries"],
                    "lost_push": result["lost_push"],
                    "errors": result["errors"],
                }
            )
            print(
                f"  {name} @ {rate}/s (round {round_no + 1}): deliver"
                f" {result['send_deliver_ms']}, cpu/1000 {result['server_cpu_s_per_1000_deliveries']}",
                flush=True,
            )
    return {"rate": rate, "duration_s": duration_s, "runs": runs}
