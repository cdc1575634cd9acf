"""The review queue in the JSON API, for reviewers' own tools (the Django admin and the
staff view use the same services)."""

from datetime import datetime
from typing import Literal

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from approvals import services
from approvals.events import review_dict
from approvals.models import Decision, MessageReview
from approvals.selectors import reviews_pending, reviews_pending_count
from chat.schemas import AttachmentOut, UserOut
from samia_chat.api import ErrorOut
from samia_chat.errors import Forbidden
from samia_chat.limits import rate_hit
from samia_chat.models import REVIEWER_ROLES, User

router = Router(tags=["approvals"])
ERRORS = {code: ErrorOut for code in (400, 401, 403, 404, 409, 429)}
LIST_MAX = 200


class ReviewOut(Schema):
    id: int
    status: Literal["pending", "approved", "rejected"]
    submitted_at: datetime
    decided_at: datetime | None
    decided_by: UserOut | None
    reason: str
    message_id: int
    session_id: int
    kind: str
    body: str
    sender: UserOut | None
    client: UserOut | None
    attachment: AttachmentOut | None = Field(
        description="The held file; fetching it is a staff download, audited."
    )


class ReviewListOut(Schema):
    pending_count: int
    reviews: list[ReviewOut]


class ReviewFilter(Schema):
    status: Literal["pending", "approved", "rejected"] = "pending"


class RejectIn(Schema):
    reason: str = Field(max_length=500)


def _reviewer(request: HttpRequest) -> User:
    user = request.auth
    if user.role not in REVIEWER_ROLES:
        raise Forbidden("Only monitors and admins review messages.", code="NOT_A_REVIEWER")
    rate_hit(
        group="approvals",
        key=f"user:{user.pk}",
        rate=settings.APPROVALS["RATE_DECISIONS"],
    )
    return user


def _with_members(reviews):
    return reviews.select_related("decided_by").prefetch_related(
        "message__session__memberships__user"
    )


@router.get("/approvals/voice-notes", response={200: ReviewListOut, **ERRORS})
def review_list(request: HttpRequest, filters: Query[ReviewFilter]):
    """Held messages: pending ones oldest first (the queue), decided ones newest first."""
    _reviewer(request)
    if filters.status == Decision.PENDING:
        reviews = reviews_pending()
    else:
        reviews = (
            MessageReview.objects.filter(status=filters.status)
            .select_related("message__sender", "message__session", "message__attachment")
            .order_by("-decided_at")
        )
    return {
        "pending_count": reviews_pending_count(),
        "reviews": [review_dict(r) for r in _with_members(reviews)[:LIST_MAX]],
    }


def _detail(review_id: int) -> dict:
    review = _with_members(
        MessageReview.objects.select_related(
            "message__sender", "message__session", "message__attachment"
        )
    ).get(pk=review_id)
    return review_dict(review)


@router.post("/approvals/voice-notes/{review_id}/approve", response={200: ReviewOut, **ERRORS})
def review_approve(request: HttpRequest, review_id: int):
    """Release the note: the client's placeholder becomes the player. 409 ALREADY_DECIDED
    if someone decided it first."""
    reviewer = _reviewer(request)
    services.voice_note_approve(review_id=review_id, reviewer=reviewer)
    return _detail(review_id)


@router.post("/approvals/voice-notes/{review_id}/reject", response={200: ReviewOut, **ERRORS})
def review_reject(request: HttpRequest, review_id: int, payload: RejectIn):
    """Withhold the note for good; its sender is told the reason and may record again."""
    reviewer = _reviewer(request)
    services.voice_note_reject(review_id=review_id, reviewer=reviewer, reason=payload.reason)
    return _detail(review_id)
