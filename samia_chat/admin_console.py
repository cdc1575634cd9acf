"""The staff console's own pages in the Django admin: a dashboard of the work waiting for
staff, and one audit log that merges access events with django-auditlog's change history.

The default admin site is extended in place (its index gets the dashboard figures, and a
few URLs go in front of its own) rather than replaced, so every app's `admin.register`
keeps working unchanged. Like `urls.py`, this module gathers the apps together.
"""

import csv
import json
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone

from approvals.models import Decision, PrivilegedChange, ReaderApplication
from approvals.selectors import review_time_stats, reviews_pending_count
from chat.models import ChatSession, EmergencyRequest, SafetyAlert
from chat.selectors import emergency_response_stats
from samia_chat.audit_log import (
    ACTION_LABELS,
    AUDIT_PAGE_SIZE,
    CSV_COLUMNS,
    EXPORT_CHUNK,
    SESSION_TYPE,
    SOURCE_LABELS,
    AuditFilterForm,
    audit_rows,
)
from samia_chat.models import ADMIN_ROLES, User

# --- the dashboard ----------------------------------------------------------------------


def dashboard_counts() -> dict[str, int]:
    """What waits for staff, keyed as the dashboard's live counters are. Six queries."""
    sessions = ChatSession.objects.aggregate(
        active=Count("pk", filter=Q(status=ChatSession.Status.ACTIVE)),
        paused=Count("pk", filter=Q(status=ChatSession.Status.PAUSED)),
    )
    return {
        "approvals-pending": reviews_pending_count(),
        "reader-applications": ReaderApplication.objects.filter(status=Decision.PENDING).count(),
        "privileged-changes": PrivilegedChange.objects.filter(status=Decision.PENDING).count(),
        "open-emergencies": EmergencyRequest.objects.filter(
            status__in=EmergencyRequest.OPEN_STATUSES
        ).count(),
        "safety-alerts": SafetyAlert.objects.exclude(status=SafetyAlert.Status.RESOLVED).count(),
        "sessions-active": sessions["active"],
        "sessions-paused": sessions["paused"],
    }


def _admin_url(name: str, query: str = "") -> str | None:
    # Some of these admins belong to other apps: a missing one leaves its card unlinked.
    try:
        url = reverse(f"admin:{name}")
    except NoReverseMatch:
        return None
    return f"{url}?{query}" if query else url


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# key, label, admin URL name, query string, urgent (highlighted while not zero)
_CARDS = (
    (
        "approvals-pending",
        "Voice notes awaiting review",
        "approvals_messagereview_changelist",
        "",
        False,
    ),
    (
        "reader-applications",
        "Reader applications",
        "approvals_readerapplication_changelist",
        "",
        False,
    ),
    (
        "privileged-changes",
        "Privileged changes awaiting a super admin",
        "approvals_privilegedchange_changelist",
        "",
        False,
    ),
    (
        "open-emergencies",
        "Open emergencies",
        "chat_emergencyrequest_changelist",
        "status__in=pending,escalated",
        True,
    ),
    (
        "safety-alerts",
        "Unresolved safety alerts",
        "chat_safetyalert_changelist",
        "status__in=open,acknowledged",
        True,
    ),
)


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    counts = dashboard_counts()
    cards = [
        {
            "key": key,
            "label": label,
            "count": counts[key],
            "url": _admin_url(url_name, query),
            "urgent": urgent,
        }
        for key, label, url_name, query, urgent in _CARDS
    ]
    reviews = review_time_stats(days=7)
    responses = emergency_response_stats(days=7)
    return {
        "console_cards": cards,
        "console_sessions": {
            "active": counts["sessions-active"],
            "paused": counts["sessions-paused"],
            "url": _admin_url("chat_chatsession_changelist", "status__in=active,paused"),
        },
        "console_review_times": {
            "count": reviews["count"],
            "median": duration_text(reviews["median"]),
            "p90": duration_text(reviews["p90"]),
        },
        "console_response_times": {
            "count": responses["count"],
            "median": duration_text(_seconds(responses["median_ms"])),
            "p90": duration_text(_seconds(responses["p90_ms"])),
        },
        "console_counts_url": reverse("admin:console_counts"),
        "console_audit_url": (
            reverse("admin:audit_log") if request.user.role in ADMIN_ROLES else None
        ),
    }


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


_site_index = admin.site.index


def index(request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
    """The admin's index with the dashboard above its list of models."""
    return _site_index(request, {**dashboard_context(request), **(extra_context or {})})


def counts_view(request: HttpRequest) -> JsonResponse:
    """The dashboard's counters, fetched again by staff-console.js whenever its socket
    (re)connects or an event says one may have changed: the database is the truth."""
    return JsonResponse(dashboard_counts(), headers={"Cache-Control": "no-store"})


# --- the audit log ----------------------------------------------------------------------


def _detail_text(info: Any) -> str:
    if info in (None, "", {}):
        return ""
    if isinstance(info, str):
        return info
    return json.dumps(info, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


TARGET_PAGES = {
    SESSION_TYPE: "admin:chat_chatsession_conversation",
    "chat.message": "admin:chat_message_change",
    User._meta.label_lower: "admin:samia_chat_user_change",
}


def _target_url(row: dict[str, Any]) -> str | None:
    page = TARGET_PAGES.get(row["target_kind"])
    if page is None or not row["target_ref"].isdigit():
        return None
    return reverse(page, args=[row["target_ref"]])


DETAIL_PREVIEW_CHARS = 160


def _row_display(row: dict[str, Any]) -> dict[str, Any]:
    detail = _detail_text(row["info"])
    # A record's creation lists every field: the table shows the start, the rest on demand.
    preview = detail[:DETAIL_PREVIEW_CHARS] + "…" if len(detail) > DETAIL_PREVIEW_CHARS else ""
    return {
        **row,
        "source_label": SOURCE_LABELS[row["source"]],
        "action_label": ACTION_LABELS.get(row["verb"], row["verb"]),
        "detail": detail,
        "detail_preview": preview,
        "target_url": _target_url(row),
    }


def _audit_filters(request: HttpRequest) -> tuple[AuditFilterForm, dict[str, Any]]:
    form = AuditFilterForm(request.GET)
    # Every field is optional: an invalid one is reported on the form and left out, and
    # the valid ones (in cleaned_data either way) still apply.
    form.is_valid()
    return form, form.cleaned_data


def _require_audit_reader(request: HttpRequest) -> None:
    if request.user.role not in ADMIN_ROLES:
        raise PermissionDenied("The audit log is for admins and super admins.")


def audit_log_view(request: HttpRequest) -> TemplateResponse:
    _require_audit_reader(request)
    form, filters = _audit_filters(request)
    page = Paginator(audit_rows(filters), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        **admin.site.each_context(request),
        "title": "Audit log",
        "form": form,
        "page": page,
        "rows": [_row_display(row) for row in page.object_list],
        "query": query.urlencode(),
        "csv_url": f"{reverse('admin:audit_log_csv')}?{query.urlencode()}",
    }
    return TemplateResponse(request, "admin/samia_chat/audit_log.html", context)


class _Echo:
    """csv.writer writes each row here and gets the line back, so rows can be yielded."""

    def write(self, value: str) -> str:
        return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a typed-in username such as "=HYPERLINK(...)" as a formula.
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _csv_row(row: dict[str, Any]) -> list[str]:
    return [
        _cell(value)
        for value in (
            row["at"].isoformat(),
            row["source"],
            row["verb"],
            row["actor_name"],
            row["target_kind"],
            row["target_ref"],
            row["ip"],
            _detail_text(row["info"]),
        )
    ]


async def _csv_lines(rows: QuerySet) -> AsyncIterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    offset = 0
    while True:
        # Chunks are read from a thread (an async iterator keeps Daphne streaming instead
        # of collecting the whole file first); the order is total, so offsets are stable.
        chunk = await sync_to_async(list)(rows[offset : offset + EXPORT_CHUNK])
        for row in chunk:
            yield writer.writerow(_csv_row(row))
        if len(chunk) < EXPORT_CHUNK:
            return
        offset += EXPORT_CHUNK


def audit_csv_view(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered rows as CSV, streamed. (There is no access-event action for exports
    yet, so an export is not itself recorded.)"""
    _require_audit_reader(request)
    _form, filters = _audit_filters(request)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        _csv_lines(audit_rows(filters)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="samia-audit-{stamp}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- wiring into the admin site ---------------------------------------------------------

_site_get_urls = admin.site.get_urls


def get_urls() -> list:
    # In front of the site's own: its last pattern catches every other address.
    console = [
        path("console/counts/", admin.site.admin_view(counts_view), name="console_counts"),
        path("audit/", admin.site.admin_view(audit_log_view), name="audit_log"),
        path("audit/export.csv", admin.site.admin_view(audit_csv_view), name="audit_log_csv"),
    ]
    return console + _site_get_urls()


admin.site.index = index
admin.site.get_urls = get_urls
