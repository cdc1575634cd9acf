"""Apply due emergency escalations, take offline readers off call and build large data
exports, every second."""

import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat.worker import ExportPass, WorkerPass


class Command(BaseCommand):
    help = (
        "Run the emergency ladder: apply escalations when they fall due (the deadlines are "
        "rows in the database, so a restart loses none) and take readers who went offline "
        "off call. Several workers may run at once; each step is applied exactly once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, once: bool, **options) -> None:
        if settings.EMERGENCY["IN_SERVER_WORKER"]:
            raise CommandError(
                "Without REDIS_URL the server runs the emergency ladder itself: alerts sent "
                "from a separate process would reach no browser. Set REDIS_URL (or "
                "EMERGENCY_IN_SERVER_WORKER=0 if you know why) to run it here."
            )
        self.running = True
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        worker_pass = WorkerPass()
        if once:
            worker_pass()
            ExportPass()()
            return
        # Exports are built on a thread of their own: a large archive must not hold up an
        # escalation that falls due meanwhile.
        threading.Thread(target=self._exports, daemon=True, name="exports").start()
        while self.running:
            worker_pass()
            time.sleep(settings.EMERGENCY["WORKER_INTERVAL_SECONDS"])

    def _exports(self) -> None:
        export_pass = ExportPass()
        while self.running:
            export_pass()
            time.sleep(settings.EMERGENCY["WORKER_INTERVAL_SECONDS"])

    def _stop(self, *_args) -> None:
        self.running = False
