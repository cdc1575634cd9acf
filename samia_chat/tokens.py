"""JWT access tokens and rotating, hashed refresh tokens for API and socket clients.

Access tokens are short-lived and stateless. Each carries a fingerprint of the user's
password hash (Django's session auth hash), so a password change invalidates every token
at once, just as it ends browser sessions. Refresh tokens are opaque random strings stored
only as SHA-256; each use replaces it, and presenting a used one revokes its whole family
(someone copied it).
"""

import hashlib
import secrets
import time
from datetime import timedelta

import jwt
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from samia_chat.audit import audit_event
from samia_chat.errors import Unauthenticated
from samia_chat.models import AccessEvent, RefreshToken, User
from samia_chat.realtime import CLOSE_SIGNED_OUT, user_sockets_close_on_commit

ALGORITHM = "HS256"


def _fingerprint(user: User) -> str:
    return user.get_session_auth_hash()[:24]


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def access_token_issue(*, user: User) -> str:
    now = int(time.time())
    payload = {
        "sub": str(user.pk),
        "typ": "access",
        "iat": now,
        "exp": now + settings.JWT_ACCESS_TTL_SECONDS,
        "fp": _fingerprint(user),
    }
    return jwt.encode(payload, settings.SECRET_KEY, algorithm=ALGORITHM)


def user_from_access_token(token: str) -> User:
    """Return the active user the token names; raise Unauthenticated otherwise."""
    try:
        payload = jwt.decode(
            token,
            settings.SECRET_KEY,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "typ", "fp"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The access token has expired.", code="TOKEN_EXPIRED") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("The access token is not valid.", code="TOKEN_INVALID") from None
    if payload["typ"] != "access":
        raise Unauthenticated("This is not an access token.", code="TOKEN_INVALID")
    user = User.objects.filter(pk=payload["sub"], is_active=True).first()
    if user is None or not secrets.compare_digest(payload["fp"], _fingerprint(user)):
        raise Unauthenticated("The access token is no longer valid.", code="TOKEN_INVALID")
    return user


def _refresh_issue(*, user: User, family: str) -> str:
    raw = secrets.token_urlsafe(32)
    RefreshToken.objects.create(
        user=user,
        token_hash=_hash(raw),
        family=family,
        fingerprint=_fingerprint(user),
        expires_at=timezone.now() + timedelta(seconds=settings.JWT_REFRESH_TTL_SECONDS),
    )
    return raw


def token_pair_issue(*, user: User) -> dict[str, str]:
    return {
        "access": access_token_issue(user=user),
        "refresh": _refresh_issue(user=user, family=secrets.token_hex(16)),
    }


def token_pair_refresh(*, refresh: str) -> dict[str, str]:
    """Trade a refresh token for a new pair. The old one can never be used again.

    A refusal that revokes tokens (reuse, password change) commits the revocation before
    raising; raising inside the transaction would roll it back.
    """
    result = _refresh_rotate(refresh)
    if isinstance(result, Unauthenticated):
        raise result
    return result


@transaction.atomic
def _refresh_rotate(refresh: str) -> dict[str, str] | Unauthenticated:
    now = timezone.now()
    row = (
        RefreshToken.objects.select_for_update()
        .select_related("user")
        .filter(token_hash=_hash(refresh))
        .first()
    )
    if row is None or row.revoked_at is not None:
        return Unauthenticated("The refresh token is not valid.", code="TOKEN_INVALID")
    if row.used_at is not None:
        # A rotated token came back: whoever holds the family is not to be trusted.
        RefreshToken.objects.filter(family=row.family, revoked_at__isnull=True).update(
            revoked_at=now
        )
        audit_event(
            actor=row.user,
            action=AccessEvent.Action.TOKEN_REUSED,
            target=row.user,
            detail={"family": row.family},
        )
        return Unauthenticated("The refresh token was already used.", code="TOKEN_REUSED")
    if not row.user.is_active:
        return Unauthenticated("The account is not active.", code="TOKEN_INVALID")
    if row.expires_at <= now:
        return Unauthenticated("The refresh token has expired.", code="TOKEN_EXPIRED")
    if not secrets.compare_digest(row.fingerprint, _fingerprint(row.user)):
        # The password changed since this token was issued.
        row.revoked_at = now
        row.save(update_fields=["revoked_at"])
        return Unauthenticated("The refresh token is no longer valid.", code="TOKEN_INVALID")
    row.used_at = now
    row.save(update_fields=["used_at"])
    audit_event(
        actor=row.user,
        action=AccessEvent.Action.TOKEN_REFRESHED,
        target=row.user,
        detail={"family": row.family},
    )
    return {
        "access": access_token_issue(user=row.user),
        "refresh": _refresh_issue(user=row.user, family=row.family),
    }


def token_revoke(*, refresh: str) -> User | None:
    """Log out a token family (the device that holds `refresh`). Returns its user."""
    row = RefreshToken.objects.select_related("user").filter(token_hash=_hash(refresh)).first()
    if row is None:
        return None
    RefreshToken.objects.filter(family=row.family, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    audit_event(
        actor=row.user,
        action=AccessEvent.Action.TOKEN_REVOKED,
        target=row.user,
        detail={"family": row.family},
    )
    return row.user


def tokens_revoke_all(*, user: User) -> None:
    """Revoke every refresh token of a user (password change, erasure)."""
    revoked = RefreshToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    audit_event(
        actor=user,
        action=AccessEvent.Action.TOKEN_REVOKED,
        target=user,
        detail={"all": True, "refresh_tokens": revoked},
    )


def sign_out_everywhere(*, user: User) -> None:
    """End every browser session and every token of the user, on every device.

    Raising the auth epoch changes the session auth hash that browser sessions and access
    tokens carry, so they stop working on their next request; refresh tokens are revoked.
    """
    User.objects.filter(pk=user.pk).update(auth_epoch=models.F("auth_epoch") + 1)
    user.refresh_from_db(fields=["auth_epoch"])
    tokens_revoke_all(user=user)
    # Open sockets were authenticated before: close them too.
    user_sockets_close_on_commit(user.pk, CLOSE_SIGNED_OUT)
