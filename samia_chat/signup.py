"""Creating an account in the browser: a client, or a reader who applies.

A reader who signs up is an applicant (approvals.ReaderApplication): they can sign in and
see the app, but take no sessions and no emergency calls until an admin approves them.
Staff accounts are never made here: staff roles are granted through a privileged change.
"""

from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from approvals.services import reader_application_submit
from samia_chat.audit import request_ip
from samia_chat.consent import consent_record
from samia_chat.errors import RateLimited
from samia_chat.limits import rate_hit
from samia_chat.models import Consent, Role, User


class SignupForm(UserCreationForm):
    role = forms.ChoiceField(
        label=_("I am"),
        choices=[
            (Role.CLIENT, _("a client, looking for readings")),
            (Role.READER, _("a reader, applying to give readings")),
        ],
        initial=Role.CLIENT,
        widget=forms.RadioSelect,
    )
    about = forms.CharField(
        label=_("About your practice (readers)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    accept_terms = forms.BooleanField(
        label=_("I accept the terms of service"),
        error_messages={"required": _("Accept the terms to create an account.")},
    )
    voice_consent = forms.BooleanField(
        label=_("I agree that my voice notes are recorded and processed to deliver them"),
        required=False,
        help_text=_("Optional. Without it you can write, but not send voice notes."),
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "display_name", "email")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("role") == Role.READER and not (cleaned.get("about") or "").strip():
            self.add_error("about", _("Tell us briefly about your practice."))
        return cleaned


@transaction.atomic
def account_register(form: SignupForm, request: HttpRequest) -> User:
    """Create the account from a valid form with its consents (each with its version, time,
    IP and user agent); a reader's application goes in the queue."""
    user = form.save(commit=False)
    user.role = form.cleaned_data["role"]
    user.save()
    consent_record(user=user, kind=Consent.Kind.TERMS, granted=True, request=request)
    consent_record(
        user=user,
        kind=Consent.Kind.VOICE,
        granted=form.cleaned_data["voice_consent"],
        request=request,
    )
    if user.role == Role.READER:
        reader_application_submit(user=user, about=form.cleaned_data["about"].strip())
    return user


def signup_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("chat:inbox")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        try:
            rate_hit(group="signup", key=f"ip:{request_ip(request)}", rate=settings.RATE_SIGNUP)
        except RateLimited as exc:
            response = render(request, "registration/signup.html", {"form": form, "limited": exc})
            response.status_code = 429
            response["Retry-After"] = str(exc.retry_after_seconds)
            return response
        if form.is_valid():
            user = account_register(form, request)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("chat:inbox")
    return render(request, "registration/signup.html", {"form": form})
