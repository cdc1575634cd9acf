from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from approvals.selectors import reviews_pending_count
        from samia_chat.metrics import APPROVAL_QUEUE

        # Read from the database at scrape time: the queue is shared by every process, so
        # each reports the same figure.
        APPROVAL_QUEUE.set_function(reviews_pending_count)
