"""The escalation worker as a real process: killed and restarted, or run twice at once, it
applies every step exactly once."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from chat import emergency
from chat.models import EmergencyRequest
from tests.processes import child_process_env

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _worker(**ladder: int) -> subprocess.Popen:
    env = child_process_env()
    # The embedded default runs the ladder in the server; here the process is under test.
    env["EMERGENCY_IN_SERVER_WORKER"] = "0"
    env.update({f"EMERGENCY_{name}": str(value) for name, value in ladder.items()})
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_emergency_worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(request: EmergencyRequest, kinds: list[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(request.events.values_list("kind", flat=True)) == kinds:
            return
        time.sleep(0.2)
    raise AssertionError(f"timeline is {list(request.events.values_list('kind', flat=True))}")


def test_a_killed_worker_loses_nothing_and_two_workers_apply_each_step_once(client_user):
    # Created 29 s ago: the first step falls due in about a second.
    request = emergency.emergency_request_open(
        client=client_user, now=timezone.now() - timedelta(seconds=29)
    )
    first = _worker()
    try:
        _wait_for(request, ["requested", "escalated_staff"])
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)

    # While no worker runs, the next step falls due: it waits in the database.
    EmergencyRequest.objects.filter(pk=request.pk).update(next_step_at=timezone.now())
    time.sleep(0.5)
    assert request.events.count() == 2

    # Two workers from now on; the request expires 4 s after the restart.
    expire_after = int((timezone.now() - request.created_at).total_seconds()) + 4
    workers = [_worker(EXPIRE_SECONDS=expire_after) for _ in range(2)]
    try:
        _wait_for(request, ["requested", "escalated_staff", "escalated_super", "expired"])
        time.sleep(1.5)  # both workers keep polling: still nothing twice
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
            worker.wait(10)
    request.refresh_from_db()
    assert request.status == "expired"
    assert list(request.events.values_list("kind", flat=True)) == [
        "requested",
        "escalated_staff",
        "escalated_super",
        "expired",
    ]
