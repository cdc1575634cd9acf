"""Reads of the approvals: the review queue, its count and timings, reader standing.

Imports no chat service, so chat's services can ask whether a reader is approved.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from approvals.models import Decision, MessageReview, ReaderApplication
from samia_chat.models import Role, User
from samia_chat.stats import percentiles


def hold_applies(*, kind: str, sender: User) -> bool:
    """Whether a message of `kind` from `sender` waits for review before clients see it
    (settings.APPROVALS["HOLD"]; only sessions with a client are held, see the caller)."""
    return (kind, sender.role) in settings.APPROVALS["HOLD"]


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


def reader_is_approved(user: User) -> bool:
    """A reader may take sessions and emergency calls unless their application is open or
    was rejected. Readers created by staff have no application."""
    if user.role != Role.READER:
        return False
    return (
        not ReaderApplication.objects.filter(user=user).exclude(status=Decision.APPROVED).exists()
    )
