"""The services the fault suite breaks on purpose, and what it reads from the machine.

A private Redis and (when this machine can make one) a private PostgreSQL cluster, so
that killing, pausing or restarting them harms nothing else; the committed rows the
invariant is checked against; and the kernel's view of one TCP connection.
"""

import os
import shutil
import signal
import subprocess
import time


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


def db_reader(database_url: str):
    """`read(session_id) -> [(id, client_msg_id)]`: the committed rows, in id order."""
    import psycopg

    def read(session_id: int) -> list[tuple[int, str | None]]:
        with psycopg.connect(database_url) as conn:
            return conn.execute(
                "SELECT id, client_msg_id FROM chat_message WHERE session_id = %s ORDER BY id",
                (session_id,),
            ).fetchall()

    return read


TCP_ESTABLISHED = 1


def tcp_connection(local_port: int, remote_port: int) -> tuple[int, int, int] | None:
    """(state, send queue bytes, receive queue bytes) of the loopback IPv4 connection from
    local_port to remote_port as the kernel holds it (/proc/net/tcp), or None once gone."""
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
            if (
                int(local.rsplit(":", 1)[1], 16) == local_port
                and int(remote.rsplit(":", 1)[1], 16) == remote_port
            ):
                tx, rx = queues.split(":")
                return int(state, 16), int(tx, 16), int(rx, 16)
    return None
