from django.apps import AppConfig


class SamiaChatConfig(AppConfig):
    name = "samia_chat"
    verbose_name = "Accounts and audit"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from samia_chat.models import User

        auditlog.register(User, exclude_fields=["password", "last_login"])
