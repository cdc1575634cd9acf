"""Siren fan-out: `python -m bench.siren [--readers 200] [--requests 20] [--out file.json]`.

Readers are put on call before they connect, so each socket joins the on-call group at
connect, as a reader's open tab does. Then, one at a time, a fresh client asks for an
emergency reading over HTTP (one client per request: a client may have one open request,
3 an hour and 5 a day) and every reader socket must receive `emergency.requested` with
that request's id. Latency runs from just before the POST to the frame's arrival at each
socket; "last reader" is the time until the slowest of them has it. Each request is then
cancelled, and the next starts only once every siren has closed.

A warm-up request (not counted, reported apart) takes first-request costs such as opening
the HTTP connection. With 20 requests p99 is the slowest of them.
"""

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import stack
from bench.loadgen import Recorder, close_sockets, http_session, open_sockets, percentiles
from bench.seed import Person

REQUESTED = "emergency.requested"
CLOSED = "emergency.closed"
TARGET_LAST_READER_P99_MS = 200.0
REASON = "I need guidance tonight, please."
WAIT_S = 10.0  # after this, a reader that has not heard a siren counts as a miss
GAP_S = 0.1  # quiet between requests, so one request's traffic does not time the next


@dataclass
class SirenRecorder(Recorder):
    """When each reader socket received each siren frame, by request id."""

    requested: dict[int, dict[int, float]] = field(default_factory=dict)
    closed: dict[int, dict[int, float]] = field(default_factory=dict)

    def on_frame(self, receiver_id: int, data: str, now: float) -> None:
        self.frames += 1
        if '"emergency.' not in data:
            self.other_events += 1
            return
        event = json.loads(data)
        if event["type"] == REQUESTED:
            heard = self.requested.setdefault(event["request"]["id"], {})
        elif event["type"] == CLOSED:
            heard = self.closed.setdefault(event["request_id"], {})
        else:
            self.other_events += 1
            return
        if receiver_id in heard:
            self.duplicates += 1
        else:
            heard[receiver_id] = now


def seed_siren(n_readers: int, n_clients: int, *, prefix: str) -> tuple[list[Person], list[Person]]:
    """n_readers on-call readers and n_clients clients, each with an access token."""
    from django.contrib.auth.hashers import make_password

    from chat.emergency import on_call_set
    from samia_chat.models import Role, User
    from samia_chat.tokens import token_pair_issue

    password = make_password(None)  # unusable: bench people only use tokens
    readers = User.objects.bulk_create(
        [
            User(username=f"{prefix}-r-{i}", role=Role.READER, password=password)
            for i in range(n_readers)
        ]
    )
    clients = User.objects.bulk_create(
        [
            User(username=f"{prefix}-c-{i}", role=Role.CLIENT, password=password)
            for i in range(n_clients)
        ]
    )
    for reader in readers:
        on_call_set(reader=reader, on_call=True)

    def person(user: User) -> Person:
        return Person(user.pk, user.username, token_pair_issue(user=user)["access"])

    return [person(u) for u in readers], [person(u) for u in clients]


async def _heard_by_all(heard: dict[int, dict[int, float]], request_id: int, n: int) -> None:
    deadline = time.perf_counter() + WAIT_S
    while len(heard.get(request_id, {})) < n and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)  # only the wait polls; arrival times are taken on receipt


async def ring(
    http: aiohttp.ClientSession,
    base_url: str,
    client: Person,
    recorder: SirenRecorder,
    n_readers: int,
) -> tuple[dict[str, Any], list[float]]:
    """One request, heard and then cancelled. Returns its row and per-reader latencies (s)."""
    headers = {"Authorization": f"Bearer {client.token}"}
    t0 = time.perf_counter()
    try:
        async with http.post(
            f"{base_url}/api/emergencies", json={"reason": REASON}, headers=headers
        ) as response:
            body = await response.read()
            post_s = time.perf_counter() - t0
            status: int | str = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return {"status": type(exc).__name__, "error": str(exc)[:200]}, []
    if status != 201:
        return {"status": status, "error": body[:200].decode(errors="replace")}, []
    request_id = json.loads(body)["id"]
    await _heard_by_all(recorder.requested, request_id, n_readers)
    latencies = sorted(t - t0 for t in recorder.requested.get(request_id, {}).values())

    async with http.post(
        f"{base_url}/api/emergencies/{request_id}/cancel", json={}, headers=headers
    ) as response:
        await response.read()
        cancel_status = response.status
    await _heard_by_all(recorder.closed, request_id, n_readers)
    ms = [round(s * 1000, 2) for s in latencies]
    row = {
        "status": status,
        "request_id": request_id,
        "post_ms": round(post_s * 1000, 2),
        "first_reader_ms": ms[0] if ms else None,
        "median_reader_ms": ms[len(ms) // 2] if ms else None,
        "last_reader_ms": ms[-1] if ms else None,
        "heard": len(ms),
        "missed": n_readers - len(ms),
        "cancel_status": cancel_status,
        "closed_missed": n_readers - len(recorder.closed.get(request_id, {})),
    }
    return row, latencies


def summarise(rows: list[dict[str, Any]], latencies_s: list[float]) -> dict:
    rung = [r for r in rows if r["status"] == 201]
    complete = [r for r in rung if r["missed"] == 0]
    errors: dict[str, int] = {}
    for row in rows:
        if row["status"] != 201:
            errors[str(row["status"])] = errors.get(str(row["status"]), 0) + 1
    last = percentiles([r["last_reader_ms"] / 1000 for r in complete])
    missed = sum(r["missed"] for r in rung)
    return {
        # Only requests every reader heard have a "last reader"; misses are counted apart.
        "last_reader_ms": last,
        "reader_ms": percentiles(latencies_s),
        "post_ms": percentiles([r["post_ms"] / 1000 for r in rung]),
        "requests_rung": len(rung),
        "requests_heard_by_all": len(complete),
        "missed": missed,
        "closed_missed": sum(r["closed_missed"] for r in rung),
        "errors": errors,
        "target_last_reader_p99_ms": TARGET_LAST_READER_P99_MS,
        "met": bool(complete)
        and len(complete) == len(rows)
        and last["p99"] <= TARGET_LAST_READER_P99_MS,
    }


async def siren_run(
    *, readers: int, requests: int, warmup: int = 1, port: int = 9104, cpu: int | None = 0
) -> dict:
    """Seed, start one Daphne process, connect the readers, ring `warmup + requests` times."""
    reader_people, clients = await asyncio.to_thread(
        seed_siren, readers, warmup + requests, prefix="siren"
    )
    server = stack.Server(port=port, cpu=cpu)
    server.start()
    try:
        recorder = SirenRecorder()
        started = time.monotonic()
        sockets = await open_sockets(reader_people, [server.ws_url], recorder=recorder)
        connect_s = time.monotonic() - started
        rows: list[dict[str, Any]] = []
        latencies: list[float] = []
        async with http_session(limit=4) as http:
            warm = [await ring(http, server.url, c, recorder, readers) for c in clients[:warmup]]
            await asyncio.sleep(GAP_S)
            cpu_before = server.cpu_seconds()
            for client in clients[warmup:]:
                row, heard = await ring(http, server.url, client, recorder, readers)
                rows.append(row)
                latencies.extend(heard)
                await asyncio.sleep(GAP_S)
            cpu_used = server.cpu_seconds() - cpu_before
        alive = sum(1 for s in sockets if s.closed_code is None)
        await close_sockets(sockets)
    finally:
        server.stop()
    return {
        "readers": readers,
        "requests": requests,
        "sockets_open": len(sockets),
        "sockets_alive_at_end": alive,
        "connect_seconds": round(connect_s, 2),
        **summarise(rows, latencies),
        "duplicates": recorder.duplicates,
        # Includes each request's cancel and its closing fan-out.
        "server_cpu_ms_per_request": round(cpu_used / max(1, len(rows)) * 1000, 1),
        "per_request": rows,
        "warmup": [row for row, _ in warm],
    }


def table(result: dict) -> str:
    lines = [
        f"siren fan-out: {result['readers']} on-call readers, {result['requests']} requests"
        f" ({len(result['warmup'])} warm-up not counted)",
        f"{'request':>8} {'POST':>9} {'first':>9} {'median':>9} {'last':>9} {'heard':>9}",
    ]
    for i, row in enumerate(result["per_request"], 1):
        if row["status"] != 201:
            lines.append(f"{i:>8} status {row['status']}: {row.get('error', '')}")
            continue
        lines.append(
            f"{i:>8} {row['post_ms']:>6.1f} ms {row['first_reader_ms'] or 0:>6.1f} ms"
            f" {row['median_reader_ms'] or 0:>6.1f} ms {row['last_reader_ms'] or 0:>6.1f} ms"
            f" {row['heard']:>5}/{result['readers']}"
        )
    lines.append(f"{'(ms)':<14} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    for label, key in (("last reader", "last_reader_ms"), ("every reader", "reader_ms")):
        p = result[key]
        lines.append(
            f"{label:<14} {p['n']:>5} {p.get('p50', 0):>8.1f} {p.get('p95', 0):>8.1f}"
            f" {p.get('p99', 0):>8.1f} {p.get('max', 0):>8.1f}"
        )
    lines.append(
        f"missed {result['missed']}, duplicates {result['duplicates']}, errors {result['errors'] or 0};"
        f" last reader p99 ≤ {TARGET_LAST_READER_P99_MS:g} ms: {'met' if result['met'] else 'MISSED'}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=1, help="requests rung first, not counted")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    stack.raise_fd_limit()
    stack.reset_database()
    stack.setup_django()
    # As in the harness: the server on core 0, this load generator on core 1.
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    started_at = datetime.now(UTC).isoformat()
    result = asyncio.run(
        siren_run(readers=args.readers, requests=args.requests, warmup=args.warmup)
    )
    print(table(result))
    if args.out:
        report = {"started_at": started_at, "versions": stack.versions(), **result}
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
