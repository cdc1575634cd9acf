"""Emergency readings: on-call readers, the request, its escalation ladder, the accept.

The ladder is durable: each request carries `next_step_at`, and the worker
(`manage.py run_emergency_worker`) applies what is due with the row locked and skipped by
any other worker, so a restart loses no step and two workers never apply one twice.
Every change is a row on the request's timeline and an event after commit.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import events
from chat.models import (
    ChatSession,
    EmergencyEvent,
    EmergencyRequest,
    ReaderAvailability,
    SafetyAlert,
)
from chat.presence import online_user_ids
from chat.selectors import is_on_call
from chat.services import session_open
from samia_chat.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited
from samia_chat.models import STAFF_ROLES, Role, User
from samia_chat.realtime import (
    ON_CALL_GROUP,
    STAFF_GROUP,
    SUPER_ADMIN_GROUP,
    broadcast_on_commit,
    on_call_set_on_commit,
    user_group,
)

Status = EmergencyRequest.Status
Step = EmergencyRequest.Step
REASON_MAX_CHARS = 500
SAFETY_REASON_MAX_CHARS = 300


def _config(name: str) -> int:
    return settings.EMERGENCY[name]


# --- on call ------------------------------------------------------------------------------


def on_call_set(*, reader: User, on_call: bool, now: datetime | None = None) -> ReaderAvailability:
    """Put a reader on or off call; their open tabs join or leave the siren group."""
    if reader.role != Role.READER:
        raise Forbidden("Only readers go on call.", code="NOT_A_READER")
    if on_call and not reader.is_active:
        raise Forbidden("This account cannot take emergency calls.", code="CANNOT_BE_ON_CALL")
    if on_call and not reader.reader_approved:
        raise Forbidden(
            "Your reader application has not been approved yet.", code="READER_NOT_APPROVED"
        )
    now = now or timezone.now()
    with transaction.atomic():
        availability, _ = ReaderAvailability.objects.select_for_update().get_or_create(
            reader=reader
        )
        if on_call and _in_emergency_session(reader):
            raise Conflict(
                "You are in an emergency reading; go on call again once it is locked.",
                code="IN_EMERGENCY",
            )
        if availability.on_call != on_call:
            availability.on_call = on_call
            availability.changed_at = now
            availability.offline_since = None
            availability.save(update_fields=["on_call", "changed_at", "offline_since"])
            on_call_set_on_commit(
                reader.pk, on_call, events.on_call_event(on_call=on_call, changed_at=now)
            )
    return availability


def _in_emergency_session(reader: User) -> bool:
    return ChatSession.objects.filter(
        kind=ChatSession.Kind.EMERGENCY,
        status__in=[ChatSession.Status.ACTIVE, ChatSession.Status.PAUSED],
        memberships__user=reader,
    ).exists()


def on_call_reader_ids() -> list[int]:
    return list(
        ReaderAvailability.objects.filter(on_call=True, reader__is_active=True).values_list(
            "reader_id", flat=True
        )
    )


def on_call_offline_sweep(*, now: datetime | None = None) -> int:
    """Take readers off call who have had no open socket for the grace period.

    Returns how many were taken off. Run by the worker every few seconds.
    """
    now = now or timezone.now()
    grace = timedelta(seconds=_config("OFFLINE_GRACE_SECONDS"))
    availabilities = list(ReaderAvailability.objects.filter(on_call=True).select_related("reader"))
    online = online_user_ids(a.reader_id for a in availabilities)
    taken_off = 0
    for availability in availabilities:
        if availability.reader_id in online:
            if availability.offline_since is not None:
                ReaderAvailability.objects.filter(pk=availability.pk).update(offline_since=None)
        elif availability.offline_since is None:
            ReaderAvailability.objects.filter(pk=availability.pk).update(offline_since=now)
        elif now - availability.offline_since >= grace:
            on_call_set(reader=availability.reader, on_call=False, now=now)
            taken_off += 1
    return taken_off


# --- the request ----------------------------------------------------------------------------


def _timeline(
    request: EmergencyRequest, kind: str, *, actor: User | None = None, now: datetime, **detail
) -> None:
    EmergencyEvent.objects.create(
        request=request, kind=kind, actor=actor, detail=detail, created_at=now
    )


def _tell_client_and_staff(request: EmergencyRequest) -> None:
    event = events.emergency_updated_event(request)
    broadcast_on_commit(user_group(request.client_id), event)
    broadcast_on_commit(STAFF_GROUP, event)


def _daily_limit_check(client: User, now: datetime) -> None:
    day_ago = now - timedelta(days=1)
    recent = list(
        EmergencyRequest.objects.filter(client=client, created_at__gt=day_ago)
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    limit = _config("DAILY_LIMIT")
    if len(recent) >= limit:
        retry = recent[-limit] + timedelta(days=1) - now
        raise RateLimited(
            f"You can ask for at most {limit} emergency readings a day.",
            retry_after_seconds=int(retry.total_seconds()) + 1,
        )


def emergency_request_open(
    *, client: User, reason: str = "", now: datetime | None = None
) -> EmergencyRequest:
    """Ring every on-call reader for the client; the ladder starts now."""
    if client.role != Role.CLIENT:
        raise Forbidden("Only clients ask for emergency readings.", code="NOT_A_CLIENT")
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_CHARS:
        raise Invalid(
            f"The reason can be at most {REASON_MAX_CHARS} characters.", code="REASON_TOO_LONG"
        )
    now = now or timezone.now()
    _daily_limit_check(client, now)
    open_conflict = Conflict(
        "You already have an emergency request waiting.", code="EMERGENCY_OPEN"
    )
    if EmergencyRequest.objects.filter(
        client=client, status__in=EmergencyRequest.OPEN_STATUSES
    ).exists():
        raise open_conflict
    readers = on_call_reader_ids()
    try:
        with transaction.atomic():
            request = EmergencyRequest.objects.create(
                client=client,
                reason=reason,
                created_at=now,
                next_step_at=now + timedelta(seconds=_config("ESCALATE_STAFF_SECONDS")),
            )
            _timeline(
                request, EmergencyEvent.Kind.REQUESTED, actor=client, now=now, rung=len(readers)
            )
            broadcast_on_commit(ON_CALL_GROUP, events.emergency_requested_event(request))
            _tell_client_and_staff(request)
    except IntegrityError:
        # Lost a race with another request of the same client (the partial unique index).
        raise open_conflict from None
    return request


def _locked(request_id: int) -> EmergencyRequest:
    request = (
        # Lock only the request row (PostgreSQL refuses to lock the outer-joined side).
        EmergencyRequest.objects.select_for_update(of=("self",))
        .select_related("client", "accepted_by")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise NotFound("No such emergency request.")
    return request


def _open_check(request: EmergencyRequest) -> None:
    if request.status == Status.ACCEPTED:
        raise Conflict("This request has already been taken.", code="ALREADY_TAKEN")
    if not request.is_open:
        raise Conflict(
            f"This request is {request.get_status_display().lower()}.", code="EMERGENCY_CLOSED"
        )


def _close(request: EmergencyRequest, status: str, now: datetime) -> None:
    request.status = status
    request.step = Step.CLOSED
    request.next_step_at = None
    request.closed_at = now


@transaction.atomic
def emergency_cancel(*, client: User, request_id: int, now: datetime | None = None):
    """The client withdraws a waiting request; every siren closes."""
    now = now or timezone.now()
    request = _locked(request_id)
    if request.client_id != client.pk:
        raise NotFound("No such emergency request.")
    _open_check(request)
    _close(request, Status.CANCELLED, now)
    request.save(update_fields=["status", "step", "next_step_at", "closed_at"])
    _timeline(request, EmergencyEvent.Kind.CANCELLED, actor=client, now=now)
    broadcast_on_commit(ON_CALL_GROUP, events.emergency_closed_event(request))
    _tell_client_and_staff(request)
    return request


@transaction.atomic
def emergency_accept(*, reader: User, request_id: int, now: datetime | None = None):
    """The first on-call reader to accept gets the client; everyone else's siren closes.

    The request row is locked, so of two readers accepting at once exactly one opens the
    session; the other gets ALREADY_TAKEN.
    """
    if reader.role != Role.READER:
        raise Forbidden("Only readers accept emergency requests.", code="NOT_A_READER")
    request = _locked(request_id)
    if request.status == Status.ACCEPTED and request.accepted_by_id == reader.pk:
        return request  # a double click, or a retry after a lost response: already theirs
    _open_check(request)
    if not is_on_call(reader):
        raise Forbidden("Go on call to accept emergency requests.", code="NOT_ON_CALL")
    return _hand_over(request, to=reader, actor=reader, now=now or timezone.now())


@transaction.atomic
def emergency_assign(
    *, staff: User, request_id: int, reader: User, now: datetime | None = None
) -> EmergencyRequest:
    """Staff give the request to a reader of their choosing, or take the chat themselves."""
    if staff.role not in STAFF_ROLES:
        raise Forbidden("Only staff assign emergency requests.")
    takes_it_themselves = reader.pk == staff.pk
    if not takes_it_themselves and (not reader.may_give_readings):
        raise Invalid(
            "reader_id must name an active, approved reader, or yourself.", code="INVALID_READER"
        )
    request = _locked(request_id)
    _open_check(request)
    return _hand_over(request, to=reader, actor=staff, now=now or timezone.now())


def _hand_over(
    request: EmergencyRequest, *, to: User, actor: User, now: datetime
) -> EmergencyRequest:
    session = session_open(
        opened_by=actor,
        client=request.client,
        reader=to,
        booking_ref="",
        service_name="Emergency reading",
        kind=ChatSession.Kind.EMERGENCY,
    )
    _close(request, Status.ACCEPTED, now)
    request.accepted_by = to
    request.accepted_at = now
    reader_answered = actor == to and to.role == Role.READER
    if reader_answered:
        # The readers' response time; a staff assignment is not one.
        request.response_ms = int((now - request.created_at).total_seconds() * 1000)
    request.session = session
    request.save()
    kind = EmergencyEvent.Kind.ACCEPTED if reader_answered else EmergencyEvent.Kind.ASSIGNED
    _timeline(request, kind, actor=actor, now=now, to=to.pk, session=session.pk)
    if to.role == Role.READER:
        # A reader in an emergency reading takes no other call until it is over.
        on_call_set(reader=to, on_call=False, now=now)
    broadcast_on_commit(ON_CALL_GROUP, events.emergency_taken_event(request))
    broadcast_on_commit(user_group(request.client_id), events.emergency_accepted_event(request))
    _tell_client_and_staff(request)
    return request


def emergency_decline(*, reader: User, request_id: int, now: datetime | None = None) -> None:
    """A reader says no; the request keeps ringing the others. Recorded on the timeline."""
    if reader.role != Role.READER:
        raise Forbidden("Only readers decline emergency requests.", code="NOT_A_READER")
    now = now or timezone.now()
    with transaction.atomic():
        request = _locked(request_id)
        _open_check(request)
        if not is_on_call(reader):
            raise Forbidden("Only on-call readers decline requests.", code="NOT_ON_CALL")
        _timeline(request, EmergencyEvent.Kind.DECLINED, actor=reader, now=now)
        # Staff follow the timeline; the client is not told of each reader who says no.
        broadcast_on_commit(STAFF_GROUP, events.emergency_updated_event(request))


# --- the ladder -----------------------------------------------------------------------------


def emergency_steps_apply(*, now: datetime | None = None, batch_size: int = 50) -> int:
    """Apply every escalation step that is due. Returns how many were applied.

    Rows another worker holds are skipped (SKIP LOCKED), and a step moves `next_step_at`
    in the same transaction, so no step is applied twice whoever runs this.
    """
    now = now or timezone.now()
    applied = 0
    while True:
        with transaction.atomic():
            due = list(
                EmergencyRequest.objects.select_for_update(skip_locked=True)
                .filter(status__in=EmergencyRequest.OPEN_STATUSES, next_step_at__lte=now)
                .order_by("next_step_at")[:batch_size]
            )
            for request in due:
                _step_apply(request, now)
        applied += len(due)
        if len(due) < batch_size:
            return applied


def _step_apply(request: EmergencyRequest, now: datetime) -> None:
    if request.step == Step.READERS:
        request.status = Status.ESCALATED
        request.step = Step.STAFF
        request.next_step_at = request.created_at + timedelta(
            seconds=_config("ESCALATE_SUPER_ADMINS_SECONDS")
        )
        _timeline(request, EmergencyEvent.Kind.ESCALATED_STAFF, now=now)
        broadcast_on_commit(STAFF_GROUP, events.emergency_escalated_event(request, "staff"))
    elif request.step == Step.STAFF:
        request.step = Step.SUPER_ADMINS
        request.next_step_at = request.created_at + timedelta(seconds=_config("EXPIRE_SECONDS"))
        _timeline(request, EmergencyEvent.Kind.ESCALATED_SUPER, now=now)
        broadcast_on_commit(
            SUPER_ADMIN_GROUP, events.emergency_escalated_event(request, "super_admins")
        )
    else:
        _close(request, Status.EXPIRED, now)
        _timeline(request, EmergencyEvent.Kind.EXPIRED, now=now)
        broadcast_on_commit(ON_CALL_GROUP, events.emergency_closed_event(request))
    request.save(update_fields=["status", "step", "next_step_at", "closed_at"])
    _tell_client_and_staff(request)


# --- safety alerts --------------------------------------------------------------------------


def safety_alert_raise(*, session: ChatSession, user: User, reason: str) -> SafetyAlert:
    """A participant raises an alert; staff see it at once. Callers check membership."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("Say briefly what is wrong.", code="REASON_REQUIRED")
    if len(reason) > SAFETY_REASON_MAX_CHARS:
        raise Invalid(
            f"The reason can be at most {SAFETY_REASON_MAX_CHARS} characters.",
            code="REASON_TOO_LONG",
        )
    with transaction.atomic():
        alert = SafetyAlert.objects.create(session=session, raised_by=user, reason=reason)
        broadcast_on_commit(STAFF_GROUP, events.safety_alert_event(alert))
    return alert


SAFETY_TRANSITIONS = {
    "acknowledge": ({SafetyAlert.Status.OPEN}, SafetyAlert.Status.ACKNOWLEDGED),
    "resolve": (
        {SafetyAlert.Status.OPEN, SafetyAlert.Status.ACKNOWLEDGED},
        SafetyAlert.Status.RESOLVED,
    ),
}


@transaction.atomic
def safety_alert_change(*, staff: User, alert_id: int, action: str) -> SafetyAlert:
    """Acknowledge or resolve an alert, with the row locked against a second decision."""
    if staff.role not in STAFF_ROLES:
        raise NotFound("No such alert.")
    alert = SafetyAlert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise NotFound("No such alert.")
    allowed_from, target = SAFETY_TRANSITIONS[action]
    if alert.status not in allowed_from:
        raise Conflict(f"This alert is already {alert.status}.", code="ALREADY_DECIDED")
    now = timezone.now()
    alert.status = target
    if action == "acknowledge":
        alert.acknowledged_by, alert.acknowledged_at = staff, now
    else:
        alert.resolved_by, alert.resolved_at = staff, now
    alert.save()
    broadcast_on_commit(STAFF_GROUP, events.safety_alert_event(alert))
    return alert
