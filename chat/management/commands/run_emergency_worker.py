"""Apply due emergency escalations and take offline readers off call, every second."""

import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from chat.emergency import emergency_steps_apply, on_call_offline_sweep

logger = logging.getLogger(__name__)
SWEEP_EVERY_S = 10.0


class Command(BaseCommand):
    help = (
        "Run the emergency ladder: apply escalations when they fall due (the deadlines are "
        "rows in the database, so a restart loses none) and take readers who went offline "
        "off call. Several workers may run at once; each step is applied exactly once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, once: bool, **options) -> None:
        self.running = True
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        interval = settings.EMERGENCY["WORKER_INTERVAL_SECONDS"]
        last_sweep = 0.0
        while self.running:
            try:
                applied = emergency_steps_apply()
                if applied:
                    logger.info("emergency steps applied: %d", applied)
                if time.monotonic() - last_sweep >= SWEEP_EVERY_S:
                    on_call_offline_sweep()
                    last_sweep = time.monotonic()
            except Exception:
                # The database or Redis may be away for a moment; the deadlines wait in
                # the database, so the next pass catches up.
                logger.exception("emergency worker pass failed")
            finally:
                close_old_connections()
            if once:
                return
            time.sleep(interval)

    def _stop(self, *_args) -> None:
        self.running = False
