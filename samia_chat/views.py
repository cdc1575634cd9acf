"""Browser sign-in and sign-out, through the same rate-limited login check as the API."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import logout
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from samia_chat.accounts import login_check
from samia_chat.errors import RateLimited, Unauthenticated


class LimitedLoginMixin:
    """Replaces AuthenticationForm's authenticate() call with the limited, audited check."""

    rate_limited: RateLimited | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = login_check(
                    request=self.request, username=username, password=password
                )
            except RateLimited as exc:
                self.rate_limited = exc
                raise forms.ValidationError(exc.message, code="rate_limited") from None
            except Unauthenticated:
                raise self.get_invalid_login_error() from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class SamiaLoginForm(LimitedLoginMixin, AuthenticationForm):
    pass


class SamiaAdminLoginForm(LimitedLoginMixin, AdminAuthenticationForm):
    pass


class SamiaLoginView(LoginView):
    form_class = SamiaLoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.rate_limited is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.rate_limited.retry_after_seconds)
        return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)  # recorded by the user_logged_out receiver (samia_chat/apps.py)
    return redirect("login")
