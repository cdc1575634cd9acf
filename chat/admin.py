from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html

from chat.emergency import safety_alert_change
from chat.models import (
    ChatSession,
    EmergencyEvent,
    EmergencyRequest,
    Membership,
    Message,
    ReaderAvailability,
    SafetyAlert,
)
from chat.selectors import emergency_response_stats
from chat.services import message_redact, session_change_status
from samia_chat.errors import ServiceError


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("user", "last_read_message_id", "joined_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _service_action(name: str, label: str, noun: str, apply):
    """An admin action that runs a service on each selected object, reporting refusals."""

    def run(modeladmin, request, queryset):
        done = 0
        for obj in queryset:
            try:
                apply(obj, request.user)
                done += 1
            except ServiceError as exc:
                modeladmin.message_user(request, f"{obj}: {exc.message}", messages.WARNING)
        if done:
            modeladmin.message_user(request, f"{label}: {done} {noun}(s).", messages.SUCCESS)

    run.__name__ = name
    run.short_description = f"{label} selected {noun}s"
    return run


def _status_action(action: str, label: str):
    return _service_action(
        f"{action}_sessions",
        label,
        "session",
        lambda session, user: session_change_status(session=session, user=user, action=action),
    )


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "booking_ref", "service_name", "last_activity_at")
    list_filter = ("kind", "status")
    search_fields = ("booking_ref", "memberships__user__username")
    inlines = [MembershipInline]
    actions = [
        _status_action("pause", "Pause"),
        _status_action("resume", "Resume"),
        _status_action("lock", "Lock"),
        _status_action("end", "End"),
    ]

    def has_add_permission(self, request) -> bool:
        return False  # sessions open through the API or seed_demo (session_open)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a reading is a record

    def get_readonly_fields(self, request, obj=None):
        # Status changes go through the actions (session_change_status), which tell the
        # members and write the system message; nothing is edited in place.
        return [f.name for f in ChatSession._meta.fields]


class RedactForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "session", "sender", "kind", "status", "short_body", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("session__booking_ref", "sender__username", "body")
    list_select_related = ("session", "sender")
    readonly_fields = [
        *(f.name for f in Message._meta.fields if f.name != "attachment"),
        "attachment_file",
    ]
    actions = ["redact"]

    @admin.display(description="Attachment")
    def attachment_file(self, obj: Message) -> str:
        attachment = obj.attachment
        if attachment is None:
            return "-"
        length = f", {attachment.duration_ms / 1000:.1f} s" if attachment.duration_ms else ""
        # The link goes through the download view: the staff download is audited there.
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a> ({}, {}{})',
            reverse("chat:file", args=[attachment.public_id]),
            attachment.name,
            attachment.content_type,
            filesizeformat(attachment.size_bytes),
            length,
        )

    @admin.display(description="Body")
    def short_body(self, obj: Message) -> str:
        return obj.body[:80]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Redact selected messages (with a reason)")
    def redact(self, request, queryset):
        if "apply" in request.POST:
            form = RedactForm(request.POST)
            if form.is_valid():
                done = 0
                for message in queryset:
                    try:
                        message_redact(
                            message=message, user=request.user, reason=form.cleaned_data["reason"]
                        )
                        done += 1
                    except ServiceError as exc:
                        self.message_user(
                            request, f"#{message.pk}: {exc.message}", messages.WARNING
                        )
                self.message_user(request, f"Redacted {done} message(s).", messages.SUCCESS)
                return None
        else:
            form = RedactForm()
        return render(
            request,
            "admin/chat/redact.html",
            {
                "form": form,
                "messages_to_redact": queryset,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )


# --- Emergencies and safety alerts ----------------------------------------------------------


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
