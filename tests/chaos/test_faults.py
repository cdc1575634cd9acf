"""The short fault suite: Redis restarted and paused, a server killed and another rolled,
PostgreSQL restarted, every send retried, all under traffic, each checked against the
invariant in bench/chaos.py. Runs in the PostgreSQL + Redis configuration."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")),
    reason="the fault suite runs in the PostgreSQL + Redis configuration",
)


def test_every_acknowledged_message_reaches_every_member_once_whatever_fails():
    run = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--duration", "5", "--rate", "15", "--sessions", "6"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = run.stdout + run.stderr[-3000:]
    assert run.returncode == 0, report
    scenarios = [line for line in run.stdout.splitlines() if line.startswith("ok ")]
    assert len(scenarios) >= 6, report
