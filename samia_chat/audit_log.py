"""The audit log's data: access events and django-auditlog's change history merged into
one queryset (a UNION in the database, so paging and counting stay cheap), with the
filters staff use. The pages that show it live in admin_console.py."""

from datetime import date, datetime, time, timedelta
from typing import Any

from auditlog.models import LogEntry
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, CharField, F, Q, QuerySet, Value, When
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from chat.models import ChatSession, Message
from samia_chat.models import AccessEvent

AUDIT_PAGE_SIZE = 50
EXPORT_CHUNK = 1000
CSV_COLUMNS = (
    "time",
    "source",
    "action",
    "actor",
    "target_type",
    "target_id",
    "ip",
    "detail",
)
# django-auditlog's actions, as the log shows them (its own numbers mean nothing to staff).
CHANGE_ACTIONS = {
    "create": LogEntry.Action.CREATE,
    "update": LogEntry.Action.UPDATE,
    "delete": LogEntry.Action.DELETE,
    "access": LogEntry.Action.ACCESS,
}
CHANGE_LABELS = {
    "create": "Record created",
    "update": "Record changed",
    "delete": "Record deleted",
    "access": "Record accessed",
}
ACTION_LABELS = {**dict(AccessEvent.Action.choices), **CHANGE_LABELS}
SOURCE_LABELS = {"access": "Access event", "change": "Change history"}
SESSION_TYPE = "chat.chatsession"


class AuditFilterForm(forms.Form):
    user = forms.CharField(required=False, max_length=150, label="User (username)")
    session = forms.IntegerField(required=False, min_value=1, label="Chat session id")
    action = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any action"),
            ("Access events", AccessEvent.Action.choices),
            ("Change history", list(CHANGE_LABELS.items())),
        ],
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _access_rows(filters: dict[str, Any]) -> QuerySet:
    rows = AccessEvent.objects.order_by()
    if filters.get("user"):
        username = filters["user"]
        # A failed sign-in has no actor, only the name someone typed.
        rows = rows.filter(
            Q(actor__username__iexact=username)
            | Q(action=AccessEvent.Action.LOGIN_FAILED, detail__username__iexact=username)
        )
    if filters.get("session"):
        session_id = filters["session"]
        message_ids = (
            Message.objects.filter(session_id=session_id)
            .order_by()
            .annotate(ref=Cast("id", CharField()))
            .values("ref")
        )
        # The session itself, its files' downloads, and its messages (redactions, reviews).
        rows = rows.filter(
            Q(target_type=SESSION_TYPE, target_id=str(session_id))
            | Q(detail__session=session_id)
            | Q(target_type="chat.message", target_id__in=message_ids)
        )
    action = filters.get("action")
    if action in CHANGE_ACTIONS:
        rows = rows.none()
    elif action:
        rows = rows.filter(action=action)
    if filters.get("date_from"):
        rows = rows.filter(created_at__gte=_day_start(filters["date_from"]))
    if filters.get("date_to"):
        rows = rows.filter(created_at__lt=_day_start(filters["date_to"] + timedelta(days=1)))
    # The same columns, in the same order, as _change_rows: the two are one UNION.
    return rows.values(
        at=F("created_at"),
        row_id=F("id"),
        source=Value("access", output_field=CharField()),
        verb=F("action"),
        actor_name=F("actor__username"),
        target_kind=F("target_type"),
        target_ref=F("target_id"),
        ip=F("ip_address"),
        info=F("detail"),
    )


def _change_rows(filters: dict[str, Any]) -> QuerySet:
    rows = LogEntry.objects.order_by()
    if filters.get("user"):
        rows = rows.filter(actor__username__iexact=filters["user"])
    if filters.get("session"):
        rows = rows.filter(
            content_type=ContentType.objects.get_for_model(ChatSession),
            object_pk=str(filters["session"]),
        )
    action = filters.get("action")
    if action in CHANGE_ACTIONS:
        rows = rows.filter(action=CHANGE_ACTIONS[action])
    elif action:
        rows = rows.none()
    if filters.get("date_from"):
        rows = rows.filter(timestamp__gte=_day_start(filters["date_from"]))
    if filters.get("date_to"):
        rows = rows.filter(timestamp__lt=_day_start(filters["date_to"] + timedelta(days=1)))
    return rows.values(
        at=F("timestamp"),
        row_id=F("id"),
        source=Value("change", output_field=CharField()),
        verb=Case(
            *(When(action=number, then=Value(name)) for name, number in CHANGE_ACTIONS.items()),
            default=Value("update"),
            output_field=CharField(),
        ),
        actor_name=F("actor__username"),
        target_kind=Concat(
            "content_type__app_label", Value("."), "content_type__model", output_field=CharField()
        ),
        target_ref=F("object_pk"),
        ip=F("remote_addr"),
        info=F("changes"),
    )


def audit_rows(filters: dict[str, Any]) -> QuerySet:
    """Access events and change history as one list of dicts, newest first.

    One UNION query, so paging and counting happen in the database whatever the sizes of
    the two tables. `filters` are AuditFilterForm's cleaned data (any subset).
    """
    return (
        _access_rows(filters)
        .union(_change_rows(filters), all=True)
        .order_by("-at", "source", "-row_id")
    )
