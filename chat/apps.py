from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from chat.models import ChatSession

        # Messages are a record of their own (tombstones keep who and when; redactions are
        # access events): logging every insert would double the write cost of a send.
        auditlog.register(ChatSession, include_fields=["status", "booking_ref", "kind"])
