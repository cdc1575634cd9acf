"""The physical floor: minimal WebSocket servers with the same payload and fan-out shape.

B1  raw `websockets`: ack and deliver straight from the handler, in process.
B2  B1 plus one Redis publish/subscribe hop before delivery.
B3  B2 plus one PostgreSQL INSERT, committed, before publishing and acknowledging.

Run one with `python -m bench.baselines --mode b1|b2|b3 --port 9300`. Frames mimic the
project's: the client sends {"k": key, "s": session, "b": body} after a {"hello": user,
"s": session} frame; the sender gets {"type":"ack","k":key}; the other member gets
{"type":"message.created","message":{"client_msg_id":key}}.
"""

import argparse
import asyncio
import contextlib
import json
import os

from websockets.asyncio.server import serve

members: dict[int, dict[int, object]] = {}  # session -> user -> socket


def deliver_frame(key: str) -> str:
    return json.dumps({"type": "message.created", "message": {"client_msg_id": key}})


async def fan_out(session: int, sender: int, key: str) -> None:
    frame = deliver_frame(key)
    for user, ws in list(members.get(session, {}).items()):
        if user != sender:
            with contextlib.suppress(Exception):
                await ws.send(frame)


class Floor:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.redis = None
        self.pg: asyncio.Queue | None = None

    async def start(self) -> None:
        if self.mode in ("b2", "b3"):
            import redis.asyncio as aioredis

            url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
            self.redis = aioredis.Redis.from_url(url)
            self.subscriber = asyncio.create_task(self.subscribe(aioredis.Redis.from_url(url)))
        if self.mode == "b3":
            import psycopg

            self.pg = asyncio.Queue()
            for _ in range(8):
                conn = await psycopg.AsyncConnection.connect(
                    os.environ["BENCH_DATABASE_URL"], autocommit=True
                )
                await self.pg.put(conn)
            conn = await self.pg.get()
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS floor_message (id bigserial PRIMARY KEY, session int,"
                " sender int, key text UNIQUE, body text, created_at timestamptz DEFAULT now())"
            )
            await self.pg.put(conn)

    async def subscribe(self, client) -> None:
        pubsub = client.pubsub()
        await pubsub.psubscribe("floor:*")
        async for item in pubsub.listen():
            if item["type"] != "pmessage":
                continue
            session, sender, key = item["data"].decode().split(":")
            await fan_out(int(session), int(sender), key)

    async def handle(self, ws) -> None:
        hello = json.loads(await ws.recv())
        user, session = hello["hello"], hello["s"]
        members.setdefault(session, {})[user] = ws
        try:
            async for raw in ws:
                frame = json.loads(raw)
                key = frame["k"]
                if self.mode == "b3":
                    conn = await self.pg.get()
                    try:
                        await conn.execute(
                            "INSERT INTO floor_message (session, sender, key, body) VALUES (%s, %s, %s, %s)",
                            (session, user, key, frame["b"]),
                        )
                    finally:
                        await self.pg.put(conn)
                if self.redis is not None:
                    await self.redis.publish(f"floor:{session}", f"{session}:{user}:{key}")
                await ws.send(json.dumps({"type": "ack", "k": key}))
                if self.redis is None:
                    await fan_out(session, user, key)
        finally:
            members.get(session, {}).pop(user, None)


async def main(mode: str, port: int) -> None:
    floor = Floor(mode)
    await floor.start()
    async with serve(
        floor.handle, "127.0.0.1", port, compression=None, ping_interval=None, max_queue=None
    ):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["b1", "b2", "b3"], required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(args.mode, args.port))
