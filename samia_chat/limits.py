"""Rate limits on django-ratelimit's shared-cache counters, for HTTP and sockets alike."""

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from samia_chat.errors import RateLimited
from samia_chat.metrics import RATE_LIMITED


def client_key(request: HttpRequest) -> str:
    """Per user when signed in, per IP otherwise."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


def _usage(group: str, key: str, rate: str, increment: bool) -> dict | None:
    # get_usage only reads the request through the key callable (method=ALL), so the
    # same counters serve HTTP requests and socket frames.
    return get_usage(None, group=group, key=lambda _g, _r: key, rate=rate, increment=increment)


def rate_hit(*, group: str, key: str, rate: str) -> None:
    """Count one use; raise RateLimited once the count passes the rate."""
    usage = _usage(group, key, rate, increment=True)
    if usage and usage["should_limit"]:
        RATE_LIMITED.labels(group=group).inc()
        raise RateLimited(
            "Too many requests. Please slow down.", retry_after_seconds=usage["time_left"]
        )


def rate_exhausted(*, group: str, key: str, rate: str) -> int:
    """Seconds until the window resets if the budget is used up, else 0. Counts nothing."""
    usage = _usage(group, key, rate, increment=False)
    if usage and (usage["should_limit"] or usage["count"] >= usage["limit"]):
        return max(1, usage["time_left"])
    return 0


def message_rate_hit(user_id: int) -> None:
    """One message sent by this user, over any transport."""
    rate_hit(group="messages", key=f"user:{user_id}", rate=settings.CHAT["RATE_MESSAGES"])


def upload_rate_hit(user_id: int) -> None:
    """One upload (voice note or file) by this user."""
    rate_hit(group="uploads", key=f"user:{user_id}", rate=settings.CHAT["RATE_UPLOADS"])


def voice_note_rate_hit(user_id: int) -> None:
    rate_hit(group="voice", key=f"user:{user_id}", rate=settings.CHAT["RATE_VOICE_NOTES"])


def emergency_rate_hit(user_id: int) -> None:
    rate_hit(group="emergency", key=f"user:{user_id}", rate=settings.EMERGENCY["RATE"])


def safety_alert_rate_hit(user_id: int) -> None:
    rate_hit(group="safety", key=f"user:{user_id}", rate=settings.CHAT["RATE_SAFETY_ALERTS"])
