"""Traffic for one fault-suite scenario, and the invariant it is checked against.

Every acknowledged message reaches every member exactly once after catch-up, in the same
order for everyone; nothing is shown that was not committed; a retried send creates no
second row.
"""

import asyncio
import random
import time
from dataclasses import dataclass

import aiohttp

from bench.chaos_clients import Member, Send, Traffic, final_catch_up, follow
from bench.seed import Person


@dataclass
class Outcome:
    scenario: str
    sent: int
    acked: int
    acked_ws: int
    acked_http: int
    members: int
    reconnects: int
    catch_ups: int
    problems: list[str]
    notes: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_invariant(members: list[Member], sends: list[Send], db_messages) -> list[str]:
    problems: list[str] = []
    by_session: dict[int, list[Member]] = {}
    for member in members:
        by_session.setdefault(member.person.session_id, []).append(member)
        if member.order_violations:
            problems.append(
                f"member {member.person.username} saw {member.order_violations} out of order"
            )
        if member.close_codes.get(4408):
            problems.append(f"member {member.person.username}: socket closed 4408 (frame budget)")
    problems += [send.problem for send in sends if send.problem]
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
                and send.acked_id is not None
                and send.key not in session_keys
            ):
                problems.append(f"acked message {send.key} is not in the database")
    return problems


async def run_traffic(
    pairs: list[tuple[Person, Person]],
    bases: list[str],
    *,
    scenario: str,
    duration_s: float,
    rate: float,
    fault,
    db_messages,
    copies: int = 1,
    burst: int = 1,
    ws_share: float = 0.5,
    give_up_s: float = 30.0,
    http_timeout: float = 5.0,
    answer_timeout: float = 3.0,
    after=None,
) -> Outcome:
    """Drive traffic while `fault(traffic)` runs, then check the invariant against the database.

    `db_messages(session_id) -> list[(id, client_msg_id)]` reads the database (committed rows).
    `after(traffic)`, if given, runs once every send of the main traffic has finished.
    """
    members = [Member(p, bases) for pair in pairs for p in pair]
    stop = asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=http_timeout)
    connector = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        t = Traffic(members, http, bases, give_up_s, answer_timeout)
        followers = [asyncio.create_task(follow(m, http, stop)) for m in members]
        await asyncio.sleep(1.0)
        rng = random.Random(11)
        fault_task = asyncio.create_task(fault(t))
        t0 = time.monotonic()
        bursts = i = 0
        while time.monotonic() - t0 < duration_s:
            a, b = pairs[rng.randrange(len(pairs))]
            for _ in range(burst):  # `burst` sends into one session at the same instant
                t.send(a if i % 2 else b, via_ws=rng.random() < ws_share, copies=copies)
                i += 1
            bursts += 1  # on schedule: a late loop catches up rather than offering less
            await asyncio.sleep(max(0.0, t0 + bursts * burst / rate - time.monotonic()))
        offered_s = time.monotonic() - t0
        await asyncio.gather(*t.tasks)
        t.notes.append(
            f"offered {len(t.sends) / offered_s:.0f}/s for {offered_s:.1f} s;"
            f" every send settled {time.monotonic() - t0:.1f} s after the first"
        )
        t.done.set()
        if after is not None:
            await after(t)
        await fault_task
        # Let every client settle, then one last catch-up each (what a client does on focus).
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*followers)
        for member in members:
            if not await final_catch_up(http, member, bases[0]):
                t.problems.append(f"member {member.person.username} could not catch up")

    acked = [s for s in t.sends if s.acked_id is not None]
    return Outcome(
        scenario=scenario,
        sent=len(t.sends),
        acked=len(acked),
        acked_ws=sum(s.acked_via == "ws" for s in acked),
        acked_http=sum(s.acked_via == "http" for s in acked),
        members=len(members),
        reconnects=sum(m.reconnects for m in members),
        catch_ups=sum(m.catch_ups for m in members),
        problems=t.problems + check_invariant(members, t.sends, db_messages),
        notes=t.notes,
    )
