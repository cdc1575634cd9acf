from django.urls import path

from chat import privacy, views

app_name = "chat"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("s/<int:session_id>/", views.thread, name="thread"),
    path("files/<str:public_id>", views.file_download, name="file"),
    path("terms/", privacy.terms, name="terms"),
    path("privacy/", privacy.privacy_page, name="privacy"),
    path("privacy/terms/", privacy.terms_accept, name="terms-accept"),
    path("privacy/voice-consent", privacy.voice_consent_change, name="voice-consent"),
    path("privacy/export", privacy.export_request, name="export"),
    path("privacy/exports/<int:export_id>", privacy.export_download, name="export-download"),
    path("privacy/delete-account", privacy.erasure_request, name="erasure-request"),
    path(
        "privacy/sign-out-everywhere",
        privacy.sign_out_everywhere_view,
        name="sign-out-everywhere",
    ),
]
