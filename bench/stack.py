"""The system under test: a scratch PostgreSQL database, a Redis db, Daphne processes.

Everything the harness creates goes through the project's own code (services, tokens),
in a database of its own that is dropped and made anew for each run.
"""

import base64
import contextlib
import os
import resource
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_DB = os.environ.get("BENCH_DB", "samia_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def database_url() -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + BENCH_DB


def server_env() -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "samia_chat.settings",
            "DEBUG": "0",
            "SECRET_KEY": BENCH_SECRET,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": database_url(),
            "REDIS_URL": REDIS_URL,
            "JWT_ACCESS_TTL_SECONDS": "7200",
            "LOG_LEVEL": "WARNING",
            "SAMIA_VAR_DIR": str(ROOT / "var" / "bench"),
            "FILE_MASTER_KEYS": BENCH_FILE_KEYS,
        }
    )
    return env


BENCH_SECRET = os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(50)
# Production settings refuse to start without file master keys; the bench's are throwaway.
BENCH_FILE_KEYS = "bench:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def reset_database() -> None:
    """Drop and recreate the bench database, migrate it, and empty the bench Redis db."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (BENCH_DB,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0", "--noinput"],
        cwd=ROOT,
        env=server_env(),
        check=True,
    )
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def setup_django() -> None:
    """Use the project's code in this process, against the bench database."""
    os.environ.update(server_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


@dataclass
class Server:
    port: int
    cpu: int | None
    proc: subprocess.Popen | None = None
    log: Path = field(default_factory=Path)
    env: dict[str, str] | None = None  # default: server_env()
    # "daphne" is what the project deploys; "uvicorn" only for the harness's comparison.
    kind: str = "daphne"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def start(self) -> None:
        binary = shutil.which(self.kind, path=str(Path(sys.executable).parent)) or self.kind
        if self.kind == "uvicorn":
            args = ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        else:
            args = ["-b", "127.0.0.1", "-p", str(self.port)]
        cmd = [binary, *args, "samia_chat.asgi:application"]
        if self.cpu is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", str(self.cpu), *cmd]
        self.log = ROOT / "var" / "bench" / f"{self.kind}-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env or server_env(),
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            preexec_fn=raise_fd_limit,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} on {self.port} exited; see {self.log}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.kind} on {self.port} did not start; see {self.log}")

    def stop(self, sig: int | None = None) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if sig is None:
            self.proc.terminate()
        else:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.proc.pid)

    def rss_bytes(self) -> int:
        return proc_rss_bytes(self.proc.pid)


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


def cpu_by_program(server_pids: set[int]) -> dict[str, float]:
    """CPU-seconds used so far by every process on the machine, grouped: the servers under
    test, PostgreSQL, Redis, this load generator, and the rest. On a box where all of them
    share two cores, this is what shows which of them a workload is waiting for."""
    used = {"servers": 0.0, "postgresql": 0.0, "redis": 0.0, "load generator": 0.0, "other": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, tail = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue  # gone meanwhile
        pid, comm, fields = int(entry.name), head.split("(", 1)[1], tail.split()
        if pid in server_pids:
            group = "servers"
        elif comm.startswith("postgres"):
            group = "postgresql"
        elif comm.startswith("redis-server"):
            group = "redis"
        elif pid == os.getpid():
            group = "load generator"
        else:
            group = "other"
        used[group] += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return used


def box_busy_seconds() -> float:
    """CPU-seconds the whole machine has been busy (all cores, idle and iowait excluded)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in (
        "django",
        "channels",
        "daphne",
        "channels-redis",
        "redis",
        "psycopg",
        "websockets",
        "uvicorn",
    ):
        with contextlib.suppress(PackageNotFoundError):  # uvicorn: bench/requirements.txt only
            out[name] = version(name)
    for cmd, key in (
        (["psql", "--version"], "postgresql"),
        (["redis-server", "--version"], "redis-server"),
    ):
        with contextlib.suppress(OSError):
            out[key] = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    out["cpus"] = str(os.cpu_count())
    return out
