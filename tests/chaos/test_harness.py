"""The load harness itself still runs end to end (`python -m bench.harness --quick`: every
workload, small and short), so `make bench` works on a fresh clone. Its figures are
benchmarks, not asserted here; what is asserted is that nothing acknowledged was lost."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")),
    reason="the harness runs in the PostgreSQL + Redis configuration",
)


def test_the_quick_harness_run_completes_and_loses_nothing():
    run = subprocess.run(
        [sys.executable, "-m", "bench.harness", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = run.stdout[-3000:] + run.stderr[-3000:]
    assert run.returncode == 0, report
    path = Path(run.stdout.split("results: ")[-1].split()[0])
    results = json.loads(path.read_text())
    chat = results["w_chat"]
    assert chat["acked"] == chat["sent"] > 0, report
    assert (chat["lost_push"], chat["acked_missing_in_db"], chat["duplicated_rows"]) == (0, 0, 0)
    assert results["w_idle"]["alive_after_3s"] == results["w_idle"]["sockets"]
    assert results["siren"]["missed"] == 0
