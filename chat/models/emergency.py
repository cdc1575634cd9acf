"""Emergency readings, who is on call, and safety alerts."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chat.models.conversations import ChatSession


class ReaderAvailability(models.Model):
    """Whether a reader takes emergency calls right now."""

    reader = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="availability"
    )
    on_call = models.BooleanField(default=False, db_index=True)
    changed_at = models.DateTimeField(auto_now_add=True)
    # Set by the worker when an on-call reader has no open socket; cleared when they return.
    offline_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "reader availability"

    def __str__(self) -> str:
        return f"{self.reader} {'on call' if self.on_call else 'off call'}"


class EmergencyRequest(models.Model):
    """A client's call for an emergency reading and where it stands on the ladder.

    `next_step_at` is the durable timer: the worker applies the step due at that time
    (alert staff, alert super_admins, expire), so a restart loses no escalation.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Ringing readers")
        ESCALATED = "escalated", _("Escalated to staff")
        ACCEPTED = "accepted", _("Accepted")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    class Step(models.IntegerChoices):
        READERS = 0, _("On-call readers")
        STAFF = 1, _("Monitors and admins")
        SUPER_ADMINS = 2, _("Super admins")
        CLOSED = 3, _("Closed")

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="emergency_requests"
    )
    reason = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    step = models.PositiveSmallIntegerField(choices=Step.choices, default=Step.READERS)
    next_step_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    session = models.OneToOneField(
        ChatSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="emergency"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    OPEN_STATUSES = (Status.PENDING, Status.ESCALATED)

    class Meta:
        constraints = [
            # One open request per client, enforced by the database under any race.
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(status__in=["pending", "escalated"]),
                name="chat_emergency_one_open_per_client",
            )
        ]

    def __str__(self) -> str:
        return f"Emergency #{self.pk} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class EmergencyEvent(models.Model):
    """One step on a request's timeline."""

    class Kind(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        DECLINED = "declined", _("Declined by a reader")
        ESCALATED_STAFF = "escalated_staff", _("Monitors and admins alerted")
        ESCALATED_SUPER = "escalated_super", _("Super admins alerted")
        ACCEPTED = "accepted", _("Accepted")
        ASSIGNED = "assigned", _("Assigned by staff")
        CANCELLED = "cancelled", _("Cancelled by the client")
        EXPIRED = "expired", _("Expired unanswered")

    request = models.ForeignKey(EmergencyRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.created_at:%H:%M:%S}"


class SafetyAlert(models.Model):
    """Raised by a client or reader inside a session; staff acknowledge, then resolve it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        RESOLVED = "resolved", _("Resolved")

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="safety_alerts")
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Safety alert #{self.pk} in {self.session} ({self.get_status_display()})"
