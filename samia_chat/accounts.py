"""Signing in: the one login path for the browser form and the token API.

Failed logins are limited per username and per IP (PRODUCT.md: 5 failures per 15
minutes); every attempt is audited.
"""

from contextlib import suppress

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest

from samia_chat.audit import audit_event, request_ip
from samia_chat.errors import RateLimited, Unauthenticated
from samia_chat.limits import rate_exhausted, rate_hit
from samia_chat.models import AccessEvent, User

LOGIN_GROUP = "login-failures"


def _failure_keys(request: HttpRequest, username: str) -> list[str]:
    return [f"username:{username.lower()}", f"ip:{request_ip(request)}"]


def login_check(*, request: HttpRequest, username: str, password: str) -> User:
    """Return the user these credentials name, or raise RateLimited / Unauthenticated."""
    rate = settings.CHAT["RATE_LOGIN_FAILURES"]
    keys = _failure_keys(request, username)
    wait = max(rate_exhausted(group=LOGIN_GROUP, key=k, rate=rate) for k in keys)
    if wait:
        raise RateLimited(
            "Too many failed sign-in attempts. Please wait before trying again.",
            retry_after_seconds=wait,
        )
    user = authenticate(request, username=username, password=password)
    if user is None:
        for key in keys:
            # Counted either way; once over, the next attempt is refused above.
            with suppress(RateLimited):
                rate_hit(group=LOGIN_GROUP, key=key, rate=rate)
        audit_event(
            actor=None,
            action=AccessEvent.Action.LOGIN_FAILED,
            request=request,
            detail={"username": username[:150]},
        )
        raise Unauthenticated("Wrong username or password.", code="INVALID_CREDENTIALS")
    return user
