from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from approvals.selectors import reviews_pending_count
        from approvals.services import review_open
        from chat.models import Message
        from chat.signals import message_held
        from samia_chat.metrics import APPROVAL_QUEUE

        # Chat holds a message and says so; the review queue is ours.
        message_held.connect(review_open, sender=Message, dispatch_uid="approvals-review-open")

        # Read from the database at scrape time: the queue is shared by every process, so
        # each reports the same figure.
        APPROVAL_QUEUE.set_function(reviews_pending_count)
