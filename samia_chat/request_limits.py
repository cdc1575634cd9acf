"""A budget for every HTTP request, per user (per IP when anonymous), on top of the
per-action limits (messages, uploads, logins...).

It runs as middleware so no endpoint, page or download is left without one. The caller is
known from the browser session, or from a bearer token's signature alone (no database
read here: a forged or stale token only gets the IP budget, and the view refuses it).
Health checks, metrics and static files are exempt: they are for machines on the inside.
"""

import logging

import jwt
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from samia_chat.audit import request_ip
from samia_chat.errors import RateLimited
from samia_chat.limits import rate_hit
from samia_chat.tokens import ALGORITHM

logger = logging.getLogger(__name__)
EXEMPT_PREFIXES = ("/static/", "/healthz", "/readyz", "/metrics")
GROUP = "requests"


def _bearer_subject(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        claims = jwt.decode(header[7:], settings.SECRET_KEY, algorithms=[ALGORITHM])
    except jwt.InvalidTokenError:
        return None
    return str(claims.get("sub") or "") or None


def _budget(request: HttpRequest) -> tuple[str, str]:
    """(key, rate) for this request's caller."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}", settings.CHAT["RATE_REQUESTS"]
    subject = _bearer_subject(request)
    if subject is not None:
        return f"user:{subject}", settings.CHAT["RATE_REQUESTS"]
    return f"ip:{request_ip(request)}", settings.CHAT["RATE_ANONYMOUS_REQUESTS"]


def _refusal(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    if request.path.startswith(("/api/", "/files/")):
        response: HttpResponse = JsonResponse(
            {"error": {"code": exc.code, "message": exc.message}}, status=429
        )
    else:
        response = HttpResponse(exc.message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(exc.retry_after_seconds)
    return response


class RequestRateLimitMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(EXEMPT_PREFIXES):
            key, rate = _budget(request)
            try:
                rate_hit(group=GROUP, key=key, rate=rate)
            except RateLimited as exc:
                return _refusal(request, exc)
            except Exception:
                # The counters' store (Redis) is down: the request goes on uncounted, and
                # meets the outage where it matters (the API answers 503 UNAVAILABLE).
                logger.warning("request budget not counted: cache unavailable", exc_info=True)
        return self.get_response(request)
