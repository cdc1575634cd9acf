from django.apps import AppConfig


class SamiaChatConfig(AppConfig):
    name = "samia_chat"
    verbose_name = "Accounts and audit"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from samia_chat.models import User

        auditlog.register(User, exclude_fields=["password", "last_login"])

        from django.contrib.auth.signals import user_logged_in, user_logged_out

        # Every browser sign-in and sign-out (site, admin, sign-up) is recorded here, once.
        user_logged_in.connect(_audit_login, dispatch_uid="samia-audit-login")
        user_logged_out.connect(_audit_logout, dispatch_uid="samia-audit-logout")


def _audit_login(sender, request, user, **kwargs) -> None:
    from samia_chat.audit import audit_event
    from samia_chat.models import AccessEvent

    audit_event(actor=user, action=AccessEvent.Action.LOGIN, request=request)


def _audit_logout(sender, request, user, **kwargs) -> None:
    from samia_chat.audit import audit_event
    from samia_chat.models import AccessEvent

    if user is not None:
        audit_event(actor=user, action=AccessEvent.Action.LOGOUT, request=request)
