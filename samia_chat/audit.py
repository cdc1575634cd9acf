"""Explicit access events, next to django-auditlog's record of model changes."""

from typing import Any

from django.db import models
from django.http import HttpRequest

from samia_chat.models import AccessEvent, User


def request_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_event(
    *,
    actor: User | None,
    action: str,
    target: models.Model | None = None,
    request: HttpRequest | None = None,
    detail: dict[str, Any] | None = None,
) -> AccessEvent:
    return AccessEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        detail=detail or {},
        ip_address=request_ip(request),
        user_agent=(request.headers.get("User-Agent", "")[:300] if request else ""),
    )
