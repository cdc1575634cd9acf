"""Consents: the terms, and voice recording and processing. Versioned and withdrawable.

Each change is a new row (with time, IP and user agent), so the history is the record a
data-protection officer asks for.
"""

from functools import wraps

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import redirect

from samia_chat.audit import audit_event, request_ip
from samia_chat.models import AccessEvent, Consent, User


def current_version(kind: str) -> str:
    if kind == Consent.Kind.TERMS:
        return settings.TERMS_VERSION
    return settings.VOICE_CONSENT_VERSION


def consent_record(
    *, user: User, kind: str, granted: bool, request: HttpRequest | None = None
) -> Consent:
    """Record that `user` gave (or withdrew) consent of `kind` to the current text."""
    consent = Consent.objects.create(
        user=user,
        kind=kind,
        version=current_version(kind),
        granted=granted,
        ip_address=request_ip(request),
        user_agent=(request.headers.get("User-Agent", "")[:300] if request else ""),
    )
    audit_event(
        actor=user,
        action=AccessEvent.Action.CONSENT,
        target=consent,
        request=request,
        detail={"kind": kind, "granted": granted, "version": consent.version},
    )
    return consent


def consent_current(user: User, kind: str) -> Consent | None:
    return user.consents.filter(kind=kind).order_by("-created_at", "-id").first()


def has_voice_consent(user: User) -> bool:
    """Whether the person may record and send voice notes now."""
    current = consent_current(user, Consent.Kind.VOICE)
    return current is not None and current.granted


def terms_outdated(user: User) -> bool:
    """Whether the person must accept the terms (again) before using the chat. Staff work
    under their employment terms, not these."""
    if user.is_staff_role:
        return False
    current = consent_current(user, Consent.Kind.TERMS)
    return current is None or not current.granted or current.version != settings.TERMS_VERSION


def terms_required(view):
    """Pages of the chat first ask a client or reader to accept the current terms."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if terms_outdated(request.user):
            return redirect(f"/privacy/terms/?next={request.path}")
        return view(request, *args, **kwargs)

    return wrapped
