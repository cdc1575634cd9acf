"""Emergency readings, on-call status and safety alerts in the JSON API."""

from django.http import HttpRequest
from ninja import Router, Status

from chat import emergency, events, selectors
from chat.models import EmergencyRequest, ReaderAvailability
from chat.permissions import access_emergency, access_safety_alert, access_session
from chat.schemas import (
    AcceptedOut,
    AssignIn,
    EmergencyIn,
    EmergencyOut,
    OnCallIn,
    OnCallOut,
    ReaderOut,
    SafetyAlertIn,
    SafetyAlertOut,
)
from samia_chat.api import ErrorOut
from samia_chat.errors import Forbidden, Invalid
from samia_chat.limits import emergency_rate_hit, safety_alert_rate_hit
from samia_chat.models import STAFF_ROLES, Role, User

router = Router(tags=["emergency"])
ERRORS = {code: ErrorOut for code in (400, 401, 403, 404, 409, 429)}


def _no_body(request: HttpRequest) -> None:
    """These actions take no body; one that is not empty (or `{}`) is a mistake, refused."""
    if request.body.strip() not in (b"", b"{}", b"null"):
        raise Invalid("This action takes no body.", code="INVALID")


def _detail(request_id: int) -> dict:
    request = EmergencyRequest.objects.select_related("client", "accepted_by").get(pk=request_id)
    return events.emergency_dict(request, timeline=True)


@router.post("/emergencies", response={201: EmergencyOut, **ERRORS})
def emergency_create(request: HttpRequest, payload: EmergencyIn):
    """A client asks for an emergency reading: every on-call reader is rung at once."""
    user = request.auth
    if user.role != Role.CLIENT:
        raise Forbidden("Only clients ask for emergency readings.", code="NOT_A_CLIENT")
    emergency_rate_hit(user.pk)
    created = emergency.emergency_request_open(client=user, reason=payload.reason)
    return Status(201, _detail(created.pk))


@router.get("/emergencies", response={200: list[EmergencyOut], **ERRORS})
def emergency_list(request: HttpRequest):
    """Open requests that concern the caller (their own, those ringing for them, or all
    for staff)."""
    return selectors.emergencies_for(request.auth)


@router.get("/emergencies/{request_id}", response={200: EmergencyOut, **ERRORS})
def emergency_get(request: HttpRequest, request_id: int):
    found = access_emergency(request.auth, request_id)
    return events.emergency_dict(found, timeline=request.auth.role != Role.READER)


@router.post("/emergencies/{request_id}/cancel", response={200: EmergencyOut, **ERRORS})
def emergency_cancel(request: HttpRequest, request_id: int):
    _no_body(request)
    access_emergency(request.auth, request_id)
    emergency.emergency_cancel(client=request.auth, request_id=request_id)
    return _detail(request_id)


@router.post("/emergencies/{request_id}/accept", response={200: AcceptedOut, **ERRORS})
def emergency_accept(request: HttpRequest, request_id: int):
    """The first reader to accept gets the session; later ones get 409 ALREADY_TAKEN.

    No access_emergency here: a taken request is no longer visible to other readers, and
    they must hear "already taken", which tells them nothing else about it.
    """
    _no_body(request)
    accepted = emergency.emergency_accept(reader=request.auth, request_id=request_id)
    return {"request_id": accepted.pk, "session_id": accepted.session_id}


@router.post("/emergencies/{request_id}/decline", response={200: EmergencyOut, **ERRORS})
def emergency_decline(request: HttpRequest, request_id: int):
    _no_body(request)
    emergency.emergency_decline(reader=request.auth, request_id=request_id)
    return events.emergency_dict(access_emergency(request.auth, request_id))


@router.post("/emergencies/{request_id}/assign", response={200: AcceptedOut, **ERRORS})
def emergency_assign(request: HttpRequest, request_id: int, payload: AssignIn):
    """Staff give the request to a reader, or to themselves (`reader_id` = their own id)."""
    user = request.auth
    if user.role not in STAFF_ROLES:
        raise Forbidden("Only staff assign emergency requests.")
    access_emergency(user, request_id)
    reader = User.objects.filter(pk=payload.reader_id).first()
    if reader is None:
        raise Invalid("reader_id must name an active reader, or yourself.", code="INVALID_READER")
    assigned = emergency.emergency_assign(staff=user, request_id=request_id, reader=reader)
    return {"request_id": assigned.pk, "session_id": assigned.session_id}


@router.get("/readers", response={200: list[ReaderOut], **ERRORS})
def reader_list(request: HttpRequest):
    """Staff: active readers, on-call ones first, to assign an emergency to."""
    if request.auth.role not in STAFF_ROLES:
        raise Forbidden("Only staff list readers.")
    return selectors.readers_for_assignment()


@router.get("/readers/me/on-call", response={200: OnCallOut, **ERRORS})
def on_call_get(request: HttpRequest):
    """A reader's on-call state (a tab that reconnects asks again)."""
    user = request.auth
    if user.role != Role.READER:
        raise Forbidden("Only readers go on call.", code="NOT_A_READER")
    availability = ReaderAvailability.objects.filter(reader=user).first()
    if availability is None:
        return {"on_call": False, "changed_at": user.date_joined}
    return {"on_call": availability.on_call, "changed_at": availability.changed_at}


@router.post("/readers/me/on-call", response={200: OnCallOut, **ERRORS})
def on_call_update(request: HttpRequest, payload: OnCallIn):
    availability = emergency.on_call_set(reader=request.auth, on_call=payload.on_call)
    return {"on_call": availability.on_call, "changed_at": availability.changed_at}


@router.post("/sessions/{session_id}/safety-alerts", response={201: SafetyAlertOut, **ERRORS})
def safety_alert_create(request: HttpRequest, session_id: int, payload: SafetyAlertIn):
    """A client or reader in the session tells staff something is wrong."""
    user = request.auth
    access = access_session(user, session_id, write=True)
    safety_alert_rate_hit(user.pk)
    alert = emergency.safety_alert_raise(session=access.session, user=user, reason=payload.reason)
    return Status(201, events.safety_alert_dict(alert))


@router.get("/safety-alerts", response={200: list[SafetyAlertOut], **ERRORS})
def safety_alert_list(request: HttpRequest):
    """Staff: alerts not yet resolved, oldest first."""
    if request.auth.role not in STAFF_ROLES:
        raise Forbidden("Only staff see safety alerts.")
    return selectors.safety_alerts_open(request.auth)


@router.post("/safety-alerts/{alert_id}/{action}", response={200: SafetyAlertOut, **ERRORS})
def safety_alert_update(request: HttpRequest, alert_id: int, action: str):
    """Staff `acknowledge` an alert, then `resolve` it."""
    if action not in emergency.SAFETY_TRANSITIONS:
        raise Invalid("action must be acknowledge or resolve.", code="INVALID_ACTION")
    access_safety_alert(request.auth, alert_id)
    alert = emergency.safety_alert_change(staff=request.auth, alert_id=alert_id, action=action)
    return events.safety_alert_dict(alert)
