"""Setting a password by email: Django's reset views, open also to accounts that never had
a usable password (people imported from the previous platform, whose passwords stayed
with its auth service)."""

from collections.abc import Iterator

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.urls import path

from samia_chat.models import User


class SetPasswordByEmailForm(PasswordResetForm):
    def get_users(self, email: str) -> Iterator[User]:
        # Django leaves out accounts with unusable passwords; imported ones need exactly
        # this way in. Inactive accounts stay out.
        return iter(User.objects.filter(email__iexact=email, is_active=True))


urlpatterns = [
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(form_class=SetPasswordByEmailForm),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
