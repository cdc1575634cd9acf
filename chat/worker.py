"""The worker loop, run as its own process (`run_emergency_worker`) or, in the embedded
default, inside the server: the emergency ladder, readers gone offline, and data exports
too large to build during a request.

Without Redis each process has its own in-memory channel layer, so alerts applied by a
separate process would reach no browser: there the server runs the loop itself, as a task
on its event loop (started by the first connection), and the command refuses to run.
"""

import asyncio
import logging
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from chat.emergency import emergency_steps_apply, on_call_offline_sweep
from chat.export import data_exports_build_pending, data_exports_expire

logger = logging.getLogger(__name__)
SWEEP_EVERY_S = 5.0
EXPIRE_EVERY_S = 600.0


class WorkerPass:
    """One pass: apply the escalations that are due; now and then, take readers who went
    offline off call. Errors are logged and the next pass tries again: deadlines wait in
    the database meanwhile."""

    def __init__(self) -> None:
        self.last_sweep = 0.0

    def __call__(self) -> int:
        applied = 0
        try:
            applied = emergency_steps_apply()
            if applied:
                logger.info("emergency steps applied: %d", applied)
            if time.monotonic() - self.last_sweep >= SWEEP_EVERY_S:
                on_call_offline_sweep()
                self.last_sweep = time.monotonic()
        except Exception:
            logger.exception("emergency worker pass failed")
        finally:
            close_old_connections()
        return applied


class ExportPass:
    """Build pending data exports; now and then, remove expired ones. Kept apart from the
    ladder so a large archive never delays an escalation."""

    def __init__(self) -> None:
        self.last_expiry = 0.0

    def __call__(self) -> int:
        built = 0
        try:
            built = data_exports_build_pending()
            if time.monotonic() - self.last_expiry >= EXPIRE_EVERY_S:
                data_exports_expire()
                self.last_expiry = time.monotonic()
        except Exception:
            logger.exception("data export pass failed")
        finally:
            close_old_connections()
        return built


async def run_in_server() -> None:
    """The loop as a task of the server's event loop (embedded default only).

    Each pass runs in the thread Django keeps for sync code, so its broadcasts reach the
    in-memory layer on this loop.
    """
    worker_pass = sync_to_async(WorkerPass())
    # Exports run off the shared sync thread: building one must not hold up requests.
    export_pass = sync_to_async(ExportPass(), thread_sensitive=False)
    exporting: asyncio.Task | None = None
    while True:
        await worker_pass()
        if exporting is None or exporting.done():
            exporting = asyncio.ensure_future(export_pass())
        await asyncio.sleep(settings.EMERGENCY["WORKER_INTERVAL_SECONDS"])


class InServerWorker:
    """ASGI wrapper that starts run_in_server on the first connection, when configured."""

    def __init__(self, app) -> None:
        self.app = app
        self.task: asyncio.Task | None = None

    async def __call__(self, scope, receive, send) -> None:
        if settings.EMERGENCY["IN_SERVER_WORKER"]:
            loop = asyncio.get_running_loop()
            # One task per event loop (a server has one; each test has its own).
            if self.task is None or self.task.done() or self.task.get_loop() is not loop:
                self.task = loop.create_task(run_in_server())
        await self.app(scope, receive, send)
