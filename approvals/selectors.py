"""Reads of the approvals: the review queue, its length and its review times."""

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from approvals.models import Decision, MessageReview
from samia_chat.stats import percentiles


def reviews_pending() -> QuerySet[MessageReview]:
    """The review queue, oldest first. A held message its sender deleted leaves it."""
    return (
        MessageReview.objects.filter(status=Decision.PENDING, message__status="pending_review")
        .select_related("message__sender", "message__session", "message__attachment")
        .order_by("submitted_at", "id")
    )


def reviews_pending_count() -> int:
    return reviews_pending().count()


def review_time_stats(*, days: int = 7) -> dict[str, int | None]:
    """Seconds from submission to decision for reviews decided in the last `days`."""
    since = timezone.now() - timedelta(days=days)
    pairs = MessageReview.objects.filter(decided_at__gte=since).values_list(
        "submitted_at", "decided_at"
    )
    return percentiles(
        [round((decided - submitted).total_seconds()) for submitted, decided in pairs]
    )
