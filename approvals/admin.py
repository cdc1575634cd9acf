"""The approval queues in the Django admin: held messages, reader applications and
privileged changes.

Every decision goes through approvals.services, which checks the decider's role, locks the
row and refuses a second decision; the admin lists, asks for a reason and reports. Nothing
here is edited in place: rows are read-only and change only through the two actions.
"""

from datetime import datetime

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Prefetch, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from approvals import services
from approvals.forms import ChangeRequestForm, RejectForm
from approvals.models import Decision, MessageReview, PrivilegedChange, ReaderApplication
from approvals.selectors import review_time_stats, reviews_pending, reviews_pending_count
from chat.models import Membership
from samia_chat.errors import ServiceError
from samia_chat.models import ADMIN_ROLES, REVIEWER_ROLES, Role, User

REVIEW_STATS_DAYS = 7
DECISION_FIELDS = ("status", "submitted_at", "decided_by", "decided_at", "reason")


def _span(seconds: float | None) -> str:
    """A wait in words a reviewer reads at a glance: 45 s, 4 min, 2 h 5 min, 3 d 2 h."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _since(start: datetime, end: datetime | None = None) -> str:
    return _span(((end or timezone.now()) - start).total_seconds())


def _pending_first():
    return Case(When(status=Decision.PENDING, then=Value(0)), default=Value(1)).asc()


class DecisionAdmin(admin.ModelAdmin):
    """What the three queues share: read-only rows decided through two actions, each
    item on its own, so one refusal (someone else decided it first) leaves the rest."""

    actions = ["approve_selected", "reject_selected"]
    # The roles the services let decide; the actions are offered to these only.
    deciders: frozenset[str] = frozenset()

    def label(self, obj) -> str:
        raise NotImplementedError

    def decide(self, obj, user: User, *, approve: bool, reason: str = "") -> None:
        raise NotImplementedError

    def has_decide_permission(self, request: HttpRequest) -> bool:
        # Admin permissions are by app; deciding is by role, as the services check it.
        return request.user.role in self.deciders

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the detail page is read-only; decisions are the actions

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a decision is a record

    def _chosen(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """The rows the decider ticked. The changelist's filter would silently drop one
        that someone else decided since the page loaded; the service should refuse it
        out loud instead, so ticked rows are looked up without the filter."""
        if request.POST.get("select_across") == "1":
            return queryset
        ids = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        return self.get_queryset(request).filter(pk__in=ids)

    def _decide_each(
        self, request: HttpRequest, items: QuerySet, *, approve: bool, reason: str = ""
    ) -> None:
        done = 0
        for obj in items:
            try:
                self.decide(obj, request.user, approve=approve, reason=reason)
                done += 1
            except ServiceError as exc:
                self.message_user(request, f"{self.label(obj)}: {exc.message}", messages.WARNING)
        if done:
            verb = "Approved" if approve else "Rejected"
            noun = self.opts.verbose_name if done == 1 else self.opts.verbose_name_plural
            self.message_user(request, f"{verb} {done} {noun}.", messages.SUCCESS)

    @admin.action(description="Approve selected %(verbose_name_plural)s", permissions=["decide"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide_each(request, self._chosen(request, queryset), approve=True)

    @admin.action(
        description="Reject selected %(verbose_name_plural)s (with a reason)",
        permissions=["decide"],
    )
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        items = self._chosen(request, queryset)
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            self._decide_each(request, items, approve=False, reason=form.cleaned_data["reason"])
            return None
        return render(
            request,
            "admin/approvals/reject.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Reject {self.opts.verbose_name_plural}",
                "form": form,
                "items": [(obj.pk, self.label(obj)) for obj in items],
                "select_across": request.POST.get("select_across", "0"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": self.opts,
            },
        )


# --- held messages ----------------------------------------------------------------------------


class QueueFilter(admin.SimpleListFilter):
    """Status, with the queue (pending) as what an unfiltered page shows."""

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*Decision.choices, (self.ALL, "All")]

    def value(self) -> str:
        return super().value() or Decision.PENDING

    def choices(self, changelist):
        # No separate "All" entry for "no parameter": no parameter means the queue.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value == Decision.PENDING:
            # The selector's queue: a held message its sender deleted has left it.
            return queryset.filter(pk__in=reviews_pending().values("pk"))
        if value in Decision.values:
            return queryset.filter(status=value)
        return queryset


@admin.register(MessageReview)
class MessageReviewAdmin(DecisionAdmin):
    """The held-message queue, oldest first: who sent what to whom, a player to hear it,
    and how long reviewers take."""

    deciders = REVIEWER_ROLES
    list_display = ("age", "reader", "client", "session_link", "duration", "player", "status")
    list_filter = (QueueFilter,)
    search_fields = ("message__sender__username", "message__session__booking_ref")
    list_per_page = 50
    held_fields = ("reader", "client", "session_link", "body", "duration", "player")
    fieldsets = (
        ("Held message", {"fields": held_fields}),
        ("Decision", {"fields": ("age", *DECISION_FIELDS)}),
    )
    readonly_fields = (*held_fields, "age", *DECISION_FIELDS)

    def get_queryset(self, request: HttpRequest) -> QuerySet[MessageReview]:
        clients = Membership.objects.filter(user__role=Role.CLIENT).select_related("user")
        return (
            super()
            .get_queryset(request)
            .select_related(
                "message__sender", "message__session", "message__attachment", "decided_by"
            )
            .prefetch_related(
                Prefetch("message__session__memberships", queryset=clients, to_attr="clients")
            )
        )

    def get_ordering(self, request: HttpRequest):
        if request.GET.get(QueueFilter.parameter_name, Decision.PENDING) == Decision.PENDING:
            return ("submitted_at", "id")  # first come, first reviewed
        return ("-submitted_at", "-id")

    def label(self, review: MessageReview) -> str:
        return f"Held message #{review.message_id} from {review.message.sender}"

    def decide(self, review: MessageReview, user: User, *, approve: bool, reason: str = "") -> None:
        if approve:
            services.voice_note_approve(review_id=review.pk, reviewer=user)
        else:
            services.voice_note_reject(review_id=review.pk, reviewer=user, reason=reason)

    @admin.display(description="Age", ordering="submitted_at")
    def age(self, review: MessageReview) -> str:
        if review.is_pending:
            return _since(review.submitted_at)
        return f"waited {_since(review.submitted_at, review.decided_at)}"

    @admin.display(description="Reader")
    def reader(self, review: MessageReview) -> str:
        return str(review.message.sender or "-")

    @admin.display(description="Client")
    def client(self, review: MessageReview) -> str:
        clients = review.message.session.clients
        return str(clients[0].user) if clients else "-"

    @admin.display(description="Session")
    def session_link(self, review: MessageReview) -> str:
        session = review.message.session
        url = reverse("admin:chat_chatsession_change", args=[session.pk])
        return format_html('<a href="{}">{}</a>', url, session)

    @admin.display(description="Text")
    def body(self, review: MessageReview) -> str:
        return review.message.body or "-"

    @admin.display(description="Duration")
    def duration(self, review: MessageReview) -> str:
        attachment = review.message.attachment
        if attachment is None or attachment.duration_ms is None:
            return "-"
        seconds = (attachment.duration_ms + 500) // 1000
        return f"{seconds // 60}:{seconds % 60:02d}"

    @admin.display(description="Listen")
    def player(self, review: MessageReview) -> str:
        attachment = review.message.attachment
        if attachment is None:
            return "-"
        # Through the download view, which audits staff downloads and serves Range requests.
        url = reverse("chat:file", args=[attachment.public_id])
        if attachment.content_type.startswith("audio/"):
            # preload="none": a page of fifty notes must not fetch (and audit) fifty files.
            return format_html('<audio controls preload="none" src="{}"></audio>', url)
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>', url, attachment.name
        )

    def changelist_view(self, request: HttpRequest, extra_context=None):
        stats = review_time_stats(days=REVIEW_STATS_DAYS)
        pending = reviews_pending_count()
        context = {
            # The page <title> is plain text; the heading (change_list.html) carries the
            # count in <span data-approvals-pending>, which the console script keeps live.
            "title": f"Held messages: {pending} pending",
            "approvals_pending": pending,
            "review_days": REVIEW_STATS_DAYS,
            "review_median": _span(stats["median"]),
            "review_p90": _span(stats["p90"]),
            "review_count": stats["count"],
        }
        return super().changelist_view(request, {**(extra_context or {}), **context})


# --- reader applications ----------------------------------------------------------------------


@admin.register(ReaderApplication)
class ReaderApplicationAdmin(DecisionAdmin):
    deciders = ADMIN_ROLES
    list_display = ("user", "short_about", "status", "submitted_at", "decided_by", "decided_at")
    list_filter = ("status",)
    search_fields = ("user__username", "user__display_name", "user__email")
    list_select_related = ("user", "decided_by")
    readonly_fields = (
        "user",
        "about",
        "status",
        "submitted_at",
        "decided_by",
        "decided_at",
        "reason",
    )
    fields = readonly_fields

    def get_ordering(self, request: HttpRequest):
        return (_pending_first(), "submitted_at", "id")

    def label(self, application: ReaderApplication) -> str:
        return f"Application of {application.user}"

    def decide(
        self, application: ReaderApplication, user: User, *, approve: bool, reason: str = ""
    ) -> None:
        if approve:
            services.reader_application_approve(application_id=application.pk, admin=user)
        else:
            services.reader_application_reject(
                application_id=application.pk, admin=user, reason=reason
            )

    @admin.display(description="About")
    def short_about(self, application: ReaderApplication) -> str:
        return application.about[:80]


# --- privileged changes -----------------------------------------------------------------------


@admin.register(PrivilegedChange)
class PrivilegedChangeAdmin(DecisionAdmin):
    """Admins ask here (the add form); a different super admin approves or rejects."""

    deciders = frozenset({Role.SUPER_ADMIN})
    list_display = (
        "__str__",
        "kind",
        "target",
        "requested_by",
        "status",
        "submitted_at",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("target__username", "requested_by__username", "justification")
    list_select_related = ("target", "requested_by", "decided_by")
    readonly_fields = (
        "kind",
        "target",
        "new_role",
        "justification",
        "requested_by",
        *DECISION_FIELDS,
    )
    fields = readonly_fields

    def get_ordering(self, request: HttpRequest):
        return (_pending_first(), "submitted_at", "id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.role in ADMIN_ROLES and request.user.has_perm(
            "approvals.add_privilegedchange"
        )

    def label(self, change: PrivilegedChange) -> str:
        return f"Request #{change.pk} ({change.get_kind_display().lower()} of {change.target})"

    def decide(
        self, change: PrivilegedChange, user: User, *, approve: bool, reason: str = ""
    ) -> None:
        if approve:
            services.privileged_change_approve(change_id=change.pk, approver=user)
        else:
            services.privileged_change_reject(change_id=change.pk, approver=user, reason=reason)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        """The admin's add page, but the request is made by privileged_change_request, so
        its rules (roles, one open request per person and kind) show as form errors."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = ChangeRequestForm(request.POST, admin_site=self.admin_site)
            if form.is_valid():
                try:
                    change = services.privileged_change_request(
                        requester=request.user, **form.cleaned_data
                    )
                except ServiceError as exc:
                    form.add_error(None, exc.message)
                else:
                    self.log_addition(request, change, [{"added": {}}])
                    return self.response_add(request, change)
        else:
            # ?target=<user id> comes from the button on the user's page.
            initial = self.get_changeform_initial_data(request)
            form = ChangeRequestForm(initial=initial, admin_site=self.admin_site)
        fieldsets = [(None, {"fields": list(ChangeRequestForm.base_fields)})]
        admin_form = helpers.AdminForm(form, fieldsets, {}, model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "title": "Request a privileged change",
            "subtitle": None,
            "adminform": admin_form,
            "object_id": None,
            "original": None,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=True, form_url=form_url)
