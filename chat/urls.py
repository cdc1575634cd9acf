from django.urls import path

from chat import views

app_name = "chat"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("s/<int:session_id>/", views.thread, name="thread"),
    path("files/<str:public_id>", views.file_download, name="file"),
]
