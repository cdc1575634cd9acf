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

        from django.contrib.auth.signals import user_logged_out

        # Signing out is an event of the auth framework, which the kernel cannot route to
        # chat without importing it: a reader who signs out stops taking emergency calls.
        user_logged_out.connect(_off_call_on_logout, dispatch_uid="chat-off-call-on-logout")

        from prometheus_client import REGISTRY

        from chat.metrics import EmergencyCollector

        REGISTRY.register(EmergencyCollector())


def _off_call_on_logout(sender, request, user, **kwargs) -> None:
    from chat.emergency import on_call_set
    from samia_chat.models import Role

    if user is not None and user.role == Role.READER:
        on_call_set(reader=user, on_call=False)
