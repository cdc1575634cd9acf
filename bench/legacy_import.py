"""The legacy import at scale: `python -m bench.legacy_import [--scale 100] [--out f.json]`.

Builds a copy of the old platform (tests/legacy/builder.py) with about 100,000 message rows
and 2,000 file references at scale 100, imports it into a fresh PostgreSQL database with
`manage.py import_legacy` in a child process, and reports messages per second and the
child's peak resident memory. Needs PostgreSQL (and Redis for the project's settings).
"""

import argparse
import json
import os
import platform
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
TARGET_MESSAGES_PER_S = 2000


def _psql(sql: str) -> None:
    subprocess.run(["psql", f"{SERVER}/postgres", "-qc", sql], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "samia_chat.settings")
    sys.path.insert(0, str(ROOT))
    from tests.legacy.builder import legacy_world_build, legacy_world_drop

    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    database = f"samia_bench_import_{secrets.token_hex(4)}"
    print(f"building the legacy world at scale {args.scale} ...", flush=True)
    world = legacy_world_build(work, scale=args.scale, server_dsn=f"{SERVER}/postgres")
    env = {
        **os.environ,
        "DATABASE_URL": f"{SERVER}/{database}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "SAMIA_VAR_DIR": str(work / "var"),
        "FILES_DIR": str(work / "chat-files"),
    }
    _psql(f"CREATE DATABASE {database}")
    try:
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
        command = [
            *manage,
            "import_legacy",
            "--source",
            world.dsn,
            "--files",
            str(world.files_dir),
            "--report-dir",
            str(work / "reports"),
            "--no-progress",
        ]
        print("importing ...", flush=True)
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        report = json.loads(next((work / "reports").glob("import-*.json")).read_text())
    finally:
        legacy_world_drop(world)
        _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    rows_read = sum(t["read"] for t in report["tables"].values())
    messages = report["made"]["messages"]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "scale": args.scale,
        "source_message_rows": sum(
            world.expected["rows"][t]
            for t in ("messages", "messages_backup", "chat_messages_backup", "chat_messages")
        ),
        "rows_read": rows_read,
        "messages_created": messages,
        "attachments": report["made"].get("attachments", 0),
        "files_stored": report["made"].get("files_stored", 0),
        "wall_s": round(wall, 1),
        "messages_per_s": round(messages / wall),
        "rows_per_s": round(rows_read / wall),
        "peak_rss_mb": round(peak_mb),
        "balanced": report["balanced"],
        "target_messages_per_s": TARGET_MESSAGES_PER_S,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
