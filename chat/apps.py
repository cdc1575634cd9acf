from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from chat.models import ChatSession, Message

        auditlog.register(ChatSession, include_fields=["status", "booking_ref", "kind"])
        auditlog.register(Message, include_fields=["status", "redaction_reason"])
