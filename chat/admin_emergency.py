"""Emergency requests (with their timeline and response times), safety alerts and who is
on call, in the staff console."""

from django.contrib import admin

from chat.admin import _service_action
from chat.emergency import safety_alert_change
from chat.models import EmergencyEvent, EmergencyRequest, ReaderAvailability, SafetyAlert
from chat.selectors import emergency_response_stats


class EmergencyEventInline(admin.TabularInline):
    model = EmergencyEvent
    extra = 0
    fields = ("created_at", "kind", "actor", "detail")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _seconds(ms: int | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.1f} s"


@admin.register(EmergencyRequest)
class EmergencyRequestAdmin(admin.ModelAdmin):
    """Requests, newest first (filter by status for the open ones); the timeline of each;
    the readers' response times."""

    list_display = ("id", "client", "status", "step", "created_at", "accepted_by", "response")
    list_filter = ("status", "step")
    search_fields = ("client__username", "accepted_by__username", "reason")
    list_select_related = ("client", "accepted_by")
    ordering = ("-created_at",)
    inlines = [EmergencyEventInline]
    readonly_fields = [f.name for f in EmergencyRequest._meta.fields]

    @admin.display(description="Response time")
    def response(self, obj: EmergencyRequest) -> str:
        return _seconds(obj.response_ms)

    def has_add_permission(self, request) -> bool:
        return False  # clients ask through the app; staff assign through the staff view

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        stats = emergency_response_stats(days=7)
        open_count = EmergencyRequest.objects.filter(
            status__in=EmergencyRequest.OPEN_STATUSES
        ).count()
        title = (
            f"Emergency requests: {open_count} open. Reader response over 7 days "
            f"({stats['count']} accepted): median {_seconds(stats['median_ms'])}, "
            f"P90 {_seconds(stats['p90_ms'])}."
        )
        return super().changelist_view(request, {**(extra_context or {}), "title": title})


def _alert_action(action: str, label: str):
    return _service_action(
        f"{action}_alerts",
        label,
        "alert",
        lambda alert, user: safety_alert_change(staff=user, alert_id=alert.pk, action=action),
    )


@admin.register(SafetyAlert)
class SafetyAlertAdmin(admin.ModelAdmin):
    list_display = ("id", "session", "raised_by", "reason", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("session__booking_ref", "raised_by__username", "reason")
    list_select_related = ("session", "raised_by")
    readonly_fields = [f.name for f in SafetyAlert._meta.fields]
    actions = [_alert_action("acknowledge", "Acknowledge"), _alert_action("resolve", "Resolve")]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        unresolved = SafetyAlert.objects.exclude(status=SafetyAlert.Status.RESOLVED).count()
        title = f"Safety alerts: {unresolved} not yet resolved"
        return super().changelist_view(request, {**(extra_context or {}), "title": title})


@admin.register(ReaderAvailability)
class ReaderAvailabilityAdmin(admin.ModelAdmin):
    list_display = ("reader", "on_call", "changed_at", "offline_since")
    list_filter = ("on_call",)
    readonly_fields = ("reader", "on_call", "changed_at", "offline_since")

    def has_add_permission(self, request) -> bool:
        return False
