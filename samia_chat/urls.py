from django.contrib import admin
from django.urls import include, path

from approvals.api import router as approvals_router
from audio.api import router as audio_router
from chat.api import router as chat_router
from chat.emergency_api import router as emergency_router
from samia_chat import health, password_reset, privacy_pages, signup, views
from samia_chat.api import api
from samia_chat.metrics import metrics_view

api.add_router("/", chat_router)
api.add_router("/", audio_router)
api.add_router("/", emergency_router)
api.add_router("/", approvals_router)

admin.site.site_header = "SAMIA Chat staff console"
admin.site.site_title = "SAMIA Chat"
admin.site.index_title = "Moderation and operations"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("login/", views.SamiaLoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("signup/", signup.signup_view, name="signup"),
    *password_reset.urlpatterns,
    path("terms/", privacy_pages.terms, name="terms"),
    path("privacy/", privacy_pages.privacy_page, name="privacy"),
    path("privacy/terms/", privacy_pages.terms_accept, name="terms-accept"),
    path("privacy/voice-consent", privacy_pages.voice_consent_change, name="voice-consent"),
    path("privacy/export", privacy_pages.export_request, name="export"),
    path("privacy/exports/<int:export_id>", privacy_pages.export_download, name="export-download"),
    path("privacy/delete-account", privacy_pages.erasure_request, name="erasure-request"),
    path(
        "privacy/sign-out-everywhere",
        privacy_pages.sign_out_everywhere_view,
        name="sign-out-everywhere",
    ),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("chat.urls")),
]
