""" "My privacy": consents, the terms, "download my data" and "delete my account".

Pages for the person themselves; every change goes through a service that records and
audits it.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from approvals.models import Decision, PrivilegedChange
from approvals.services import erasure_request_by_user
from chat.export import data_export_download, data_export_request
from chat.models import DataExport
from samia_chat.consent import consent_current, consent_record
from samia_chat.errors import ServiceError
from samia_chat.limits import rate_hit
from samia_chat.models import Consent
from samia_chat.tokens import sign_out_everywhere


def terms(request: HttpRequest) -> HttpResponse:
    """The terms of service, readable before signing up."""
    return render(
        request, "privacy/terms.html", {"accepting": False, "version": settings.TERMS_VERSION}
    )


@login_required
def terms_accept(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    if request.method == "POST" and request.POST.get("accept") == "yes":
        consent_record(user=request.user, kind=Consent.Kind.TERMS, granted=True, request=request)
        return redirect(next_url)
    context = {"accepting": True, "next": next_url, "version": settings.TERMS_VERSION}
    return render(request, "privacy/terms.html", context)


@login_required
def privacy_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    erasure = (
        PrivilegedChange.objects.filter(
            target=user, kind=PrivilegedChange.Kind.ERASURE, status=Decision.PENDING
        )
        .order_by("-submitted_at")
        .first()
    )
    context = {
        "terms": consent_current(user, Consent.Kind.TERMS),
        "voice": consent_current(user, Consent.Kind.VOICE),
        "history": user.consents.order_by("-created_at", "-id")[:50],
        "exports": user.data_exports.order_by("-created_at")[:5],
        "erasure": erasure,
    }
    return render(request, "privacy/privacy.html", context)


@login_required
@require_POST
def voice_consent_change(request: HttpRequest) -> HttpResponse:
    granted = request.POST.get("granted") == "yes"
    consent_record(user=request.user, kind=Consent.Kind.VOICE, granted=granted, request=request)
    if granted:
        messages.success(request, _("Thank you. You can send voice notes again."))
    else:
        messages.success(
            request, _("Consent withdrawn. Your recorder is off; you can still write.")
        )
    return redirect("privacy")


@login_required
@require_POST
def export_request(request: HttpRequest) -> HttpResponse:
    try:
        rate_hit(
            group="exports",
            key=f"user:{request.user.pk}",
            rate=settings.PRIVACY["RATE_EXPORTS"],
        )
        export = data_export_request(user=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("privacy")
    if export.status == DataExport.Status.READY:
        messages.success(request, _("Your data is ready to download."))
    elif export.status == DataExport.Status.FAILED:
        messages.error(request, _("Your data could not be prepared. Please try again later."))
    else:
        messages.info(request, _("Your data is being prepared. This page will offer it soon."))
    return redirect("privacy")


@login_required
def export_download(request: HttpRequest, export_id: int) -> HttpResponse:
    export = DataExport.objects.filter(
        pk=export_id, user=request.user, status=DataExport.Status.READY
    ).first()
    if export is None:
        return HttpResponse(_("No such export."), status=404, content_type="text/plain")
    chunks = data_export_download(export=export, request=request)
    response = StreamingHttpResponse(chunks, content_type="application/zip")
    response["Content-Disposition"] = (
        f'attachment; filename="samia-data-{export.created_at:%Y%m%d}.zip"'
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def sign_out_everywhere_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    sign_out_everywhere(user=user)
    logout(request)
    return redirect("login")


@login_required
@require_POST
def erasure_request(request: HttpRequest) -> HttpResponse:
    if request.POST.get("confirm") != "DELETE":
        messages.error(request, _("Type DELETE to confirm."))
        return redirect("privacy")
    try:
        erasure_request_by_user(user=request.user, note=request.POST.get("note", ""))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Your request is with our team. Your account is deleted once it is approved."),
        )
    return redirect("privacy")
