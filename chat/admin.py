from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, OuterRef, Prefetch, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from chat.models import (
    ChatSession,
    Membership,
    Message,
)
from chat.permissions import access_session
from chat.removal import message_redact
from chat.selectors import messages_page
from chat.services import TRANSITIONS, session_change_status
from samia_chat.audit import audit_event
from samia_chat.errors import ServiceError
from samia_chat.models import AccessEvent


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


LIVE_STATUSES = (ChatSession.Status.ACTIVE, ChatSession.Status.PAUSED)
STATUS_BUTTONS = (("pause", "Pause"), ("resume", "Resume"), ("lock", "Lock"), ("end", "End"))


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    """Live sessions first; each opens read-only as a conversation (an audited staff read)
    with the status changes as buttons."""

    list_display = (
        "id",
        "kind",
        "status",
        "participants",
        "last_activity_at",
        "message_count",
        "conversation",
    )
    list_filter = ("kind", "status")
    search_fields = ("booking_ref", "memberships__user__username")
    inlines = [MembershipInline]
    actions = [_status_action(action, label) for action, label in STATUS_BUTTONS]

    def get_queryset(self, request):
        message_count = (
            Message.objects.filter(session=OuterRef("pk"))
            .order_by()
            .values("session")
            .annotate(n=Count("id"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                # A subquery, not Count("messages"): the member search joins memberships,
                # which would multiply a joined count.
                message_total=Coalesce(Subquery(message_count), 0),
            )
            .prefetch_related(
                Prefetch(
                    "memberships", queryset=Membership.objects.select_related("user").order_by("id")
                )
            )
        )

    def changelist_view(self, request, extra_context=None):
        title = "Chat sessions, live ones first"
        return super().changelist_view(request, {**(extra_context or {}), "title": title})

    def get_ordering(self, request):
        # Live (active or paused) sessions first, then by last activity.
        live_first = Case(When(status__in=LIVE_STATUSES, then=Value(0)), default=Value(1))
        return (live_first.asc(), "-last_activity_at")

    @admin.display(description="Members")
    def participants(self, obj: ChatSession) -> str:
        return ", ".join(
            f"{m.user.public_name} ({m.user.get_role_display()})" for m in obj.memberships.all()
        )

    @admin.display(description="Messages", ordering="message_total")
    def message_count(self, obj: ChatSession) -> int:
        return obj.message_total

    @admin.display(description="Conversation")
    def conversation(self, obj: ChatSession) -> str:
        return format_html(
            '<a href="{}">Read</a>',
            reverse("admin:chat_chatsession_conversation", args=[obj.pk]),
        )

    def has_add_permission(self, request) -> bool:
        return False  # sessions open through the API or seed_demo (session_open)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a reading is a record

    def get_readonly_fields(self, request, obj=None):
        # Status changes go through the actions (session_change_status), which tell the
        # members and write the system message; nothing is edited in place.
        return ["conversation", *(f.name for f in ChatSession._meta.fields)]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:session_id>/conversation/",
                view(self.conversation_view),
                name="chat_chatsession_conversation",
            ),
            path(
                "<int:session_id>/conversation/status/",
                view(require_POST(self.conversation_status_view)),
                name="chat_chatsession_status",
            ),
            *super().get_urls(),
        ]

    def conversation_view(self, request, session_id: int) -> TemplateResponse:
        """The conversation, read-only: newest page (or the page before `?before=<id>`).
        Each view is a staff read, recorded by access_session."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            access = access_session(request.user, session_id, request=request)
        except ServiceError as exc:
            raise Http404(exc.message) from exc
        session = access.session
        before = request.GET.get("before", "")
        page = messages_page(
            session,
            viewer=request.user,
            before=int(before) if before.isdigit() else None,
            limit=settings.CHAT["PAGE_MAX"],
        )
        rows = [{**m, "created": parse_datetime(m["created_at"])} for m in page["messages"]]
        memberships = Membership.objects.filter(session=session).select_related("user")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Conversation: {session}",
            "session": session,
            "memberships": memberships.order_by("id"),
            "conversation": rows,
            "older_url": f"?before={rows[0]['id']}" if page["has_more"] and rows else None,
            "newest_url": "?" if before else None,
            "status_buttons": [
                (action, label)
                for action, label in STATUS_BUTTONS
                if session.status in TRANSITIONS[action][0]
            ],
            "is_member": access.is_member,
        }
        return TemplateResponse(request, "admin/chat/session_conversation.html", context)

    def conversation_status_view(self, request, session_id: int) -> HttpResponseRedirect:
        """Pause, resume, lock or end from the conversation page, then back to it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        session = get_object_or_404(ChatSession, pk=session_id)
        # Any staff member may change any session's status (chat.permissions); the admin
        # only lets staff in, and the service writes the system message and the audit.
        action = request.POST.get("action", "")
        try:
            session_change_status(session=session, user=request.user, action=action)
        except ServiceError as exc:
            self.message_user(request, exc.message, messages.WARNING)
        else:
            label = dict(STATUS_BUTTONS)[action]
            self.message_user(request, f"{label}: done for {session}.", messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:chat_chatsession_conversation", args=[session.pk])
        )


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

    # Message text is conversation content: staff reading it here is recorded like a read
    # of the conversation page (a list counts once, with what it was filtered on).
    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            audit_event(
                actor=request.user,
                action=AccessEvent.Action.STAFF_READ,
                request=request,
                detail={"messages_list": request.GET.urlencode()[:300]},
            )
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        message = Message.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if message is not None and request.method == "GET":
            audit_event(
                actor=request.user,
                action=AccessEvent.Action.STAFF_READ,
                target=message,
                request=request,
            )
        return super().change_view(request, object_id, form_url, extra_context)

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


# Emergencies, legal holds and the legacy audit trail register themselves beside these.
from chat import admin_emergency, admin_records  # noqa: E402, F401
