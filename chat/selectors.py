"""Reads: the inbox, one session, a page of messages (each with a fixed query budget);
open emergencies and safety alerts."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from chat import events
from chat.events import message_dict, session_dict
from chat.models import (
    ChatSession,
    EmergencyEvent,
    EmergencyRequest,
    Membership,
    Message,
    ReaderAvailability,
    SafetyAlert,
)
from chat.presence import online_user_ids
from samia_chat.models import STAFF_ROLES, Role, User
from samia_chat.stats import percentiles

STAFF_INBOX_SIZE = 100


def _unread_subquery(user: User) -> Subquery:
    """Messages after the member's read pointer, sent by someone else (system ones aside)."""
    unread = (
        Message.objects.filter(
            session=OuterRef("session_id"),
            id__gt=OuterRef("last_read_message_id"),
            status=Message.Status.SENT,
        )
        .exclude(sender=user)
        .exclude(kind=Message.Kind.SYSTEM)
        .order_by()
        .values("session")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Subquery(unread, output_field=IntegerField())


def _with_members(sessions: QuerySet[ChatSession]) -> QuerySet[ChatSession]:
    return sessions.select_related(
        "last_message__sender", "last_message__attachment", "last_message__reply_to__sender"
    ).prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("user").order_by("id"))
    )


def _online_for(sessions: list[ChatSession]) -> set[int]:
    return online_user_ids({m.user_id for s in sessions for m in s.memberships.all()})


def sessions_for_inbox(user: User) -> list[dict[str, Any]]:
    """The caller's sessions, most recent activity first, with unread counts.

    Participants see their own sessions; staff see the most recently active sessions.
    Three queries whatever the number of sessions.
    """
    if user.role in STAFF_ROLES:
        return _staff_inbox(user)
    memberships = list(
        Membership.objects.filter(user=user)
        .annotate(unread=_unread_subquery(user))
        .order_by("-session__last_activity_at")
    )
    unread_by_session = {m.session_id: m.unread or 0 for m in memberships}
    sessions = {
        s.pk: s for s in _with_members(ChatSession.objects.filter(pk__in=unread_by_session))
    }
    ordered = [sessions[m.session_id] for m in memberships]
    online = _online_for(ordered)
    return [session_dict(s, online=online, unread_count=unread_by_session[s.pk]) for s in ordered]


def _staff_inbox(user: User) -> list[dict[str, Any]]:
    """The most recently active sessions, plus any the staff member takes part in (an
    emergency they took), with unread counts for their own."""
    unread_by_session = {
        m.session_id: m.unread or 0
        for m in Membership.objects.filter(user=user).annotate(unread=_unread_subquery(user))
    }
    sessions = list(
        _with_members(ChatSession.objects.order_by("-last_activity_at"))[:STAFF_INBOX_SIZE]
    )
    missing = set(unread_by_session) - {s.pk for s in sessions}
    if missing:
        sessions += list(_with_members(ChatSession.objects.filter(pk__in=missing)))
        sessions.sort(key=lambda s: s.last_activity_at, reverse=True)
    online = _online_for(sessions)
    return [
        session_dict(s, online=online, unread_count=unread_by_session.get(s.pk, 0))
        for s in sessions
    ]


def session_detail(session: ChatSession, *, viewer: User) -> dict[str, Any]:
    session = _with_members(ChatSession.objects.filter(pk=session.pk)).get()
    unread = 0
    membership = next((m for m in session.memberships.all() if m.user_id == viewer.pk), None)
    if membership is not None:
        unread = (
            Message.objects.filter(
                session=session,
                id__gt=membership.last_read_message_id,
                status=Message.Status.SENT,
            )
            .exclude(Q(sender=viewer) | Q(kind=Message.Kind.SYSTEM))
            .count()
        )
    return session_dict(session, online=_online_for([session]), unread_count=unread)


def messages_page(
    session: ChatSession,
    *,
    viewer: User | None = None,
    after: int | None = None,
    before: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """A page of a session's messages in ascending order.

    Shaped for `viewer` (held messages show their content to their sender and staff only).
    `after`: the oldest messages newer than that id (catch-up). Otherwise the newest
    messages, older than `before` when given (scrolling back). `has_more` says whether
    another page lies in the direction asked for. One query.
    """
    limit = min(max(1, limit or settings.CHAT["PAGE_SIZE"]), settings.CHAT["PAGE_MAX"])
    qs = Message.objects.filter(session=session).select_related(
        "sender", "attachment", "reply_to__sender"
    )
    if after is not None:
        qs = qs.filter(id__gt=after)
    if before is not None:
        qs = qs.filter(id__lt=before)
    if after is not None:
        rows = list(qs.order_by("id")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
    else:
        rows = list(qs.order_by("-id")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit][::-1]
    return {"messages": [message_dict(m, viewer) for m in rows], "has_more": has_more}


def followed_session_ids(user: User) -> list[int]:
    """Sessions a user's sockets follow: the ones they take part in that have not ended."""
    return list(
        Membership.objects.filter(user=user)
        .exclude(session__status=ChatSession.Status.ENDED)
        .values_list("session_id", flat=True)
    )


def emergencies_for(user: User) -> list[dict[str, Any]]:
    """The open emergency requests that concern the user, oldest first.

    A client sees their own; staff see all; an on-call reader sees those ringing for them.
    """
    requests = EmergencyRequest.objects.filter(
        status__in=EmergencyRequest.OPEN_STATUSES
    ).select_related("client", "accepted_by")
    if user.role == Role.CLIENT:
        requests = requests.filter(client=user)
    elif user.role == Role.READER:
        if not is_on_call(user):
            return []
        # A request this reader declined no longer rings for them.
        requests = requests.exclude(events__kind=EmergencyEvent.Kind.DECLINED, events__actor=user)
    elif user.role not in STAFF_ROLES:
        return []
    with_timeline = user.role != Role.READER
    return [
        events.emergency_dict(r, timeline=with_timeline) for r in requests.order_by("created_at")
    ]


def safety_alerts_open(user: User) -> list[dict[str, Any]]:
    if user.role not in STAFF_ROLES:
        return []
    alerts = (
        SafetyAlert.objects.exclude(status=SafetyAlert.Status.RESOLVED)
        .select_related("raised_by", "acknowledged_by", "resolved_by")
        .order_by("created_at")
    )
    return [events.safety_alert_dict(alert) for alert in alerts]


def is_on_call(user: User) -> bool:
    return ReaderAvailability.objects.filter(reader=user, on_call=True).exists()


def readers_for_assignment() -> list[dict[str, Any]]:
    readers = (
        User.objects.filter(role=Role.READER, is_active=True, reader_approved=True)
        .select_related("availability")
        .order_by("username")
    )
    found = []
    for reader in readers:
        availability = getattr(reader, "availability", None)
        found.append(
            {**events.user_dict(reader), "on_call": bool(availability and availability.on_call)}
        )
    return sorted(found, key=lambda r: not r["on_call"])


def emergency_response_stats(*, days: int = 7) -> dict[str, int | None]:
    """Median and 90th percentile of reader response times (ms) over the last `days`."""
    since = timezone.now() - timedelta(days=days)
    times = EmergencyRequest.objects.filter(
        accepted_at__gte=since, response_ms__isnull=False
    ).values_list("response_ms", flat=True)
    stats = percentiles(list(times))
    return {"count": stats["count"], "median_ms": stats["median"], "p90_ms": stats["p90"]}
