"""Legal holds and the imported legacy audit trail in the staff console."""

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone

from chat.models import LegacyAuditEntry, LegalHold
from samia_chat.audit import audit_event
from samia_chat.models import ADMIN_ROLES, AccessEvent


@admin.register(LegalHold)
class LegalHoldAdmin(admin.ModelAdmin):
    """Admins place a hold on a person or a session (retention and erasure leave them
    alone) and lift it when the matter is closed. Holds are never deleted."""

    list_display = ("__str__", "reason", "placed_by", "placed_at", "lifted_by", "lifted_at")
    list_filter = ("lifted_at",)
    search_fields = ("user__username", "session__booking_ref", "reason")
    autocomplete_fields = ("user",)
    raw_id_fields = ("session",)
    fields = ("user", "session", "reason", "placed_by", "placed_at", "lifted_by", "lifted_at")
    readonly_fields = ("placed_by", "placed_at", "lifted_by", "lifted_at")
    actions = ["lift"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.role in ADMIN_ROLES

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # A hold is placed once and lifted by the action; its subject never changes.
        return request.user.role in ADMIN_ROLES and obj is None

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: LegalHold, form, change: bool) -> None:
        obj.placed_by = request.user
        super().save_model(request, obj, form, change)
        audit_event(
            actor=request.user,
            action=AccessEvent.Action.LEGAL_HOLD,
            target=obj,
            request=request,
            detail={"placed": True, "user": obj.user_id, "session": obj.session_id},
        )

    def has_lift_permission(self, request: HttpRequest) -> bool:
        return request.user.role in ADMIN_ROLES

    @admin.action(description="Lift selected holds", permissions=["lift"])
    def lift(self, request: HttpRequest, queryset) -> None:
        lifted = 0
        for hold in queryset.filter(lifted_at__isnull=True):
            hold.lifted_at, hold.lifted_by = timezone.now(), request.user
            hold.save(update_fields=["lifted_at", "lifted_by"])
            audit_event(
                actor=request.user,
                action=AccessEvent.Action.LEGAL_HOLD,
                target=hold,
                request=request,
                detail={"lifted": True},
            )
            lifted += 1
        self.message_user(request, f"Lifted {lifted} hold(s).", messages.SUCCESS)


@admin.register(LegacyAuditEntry)
class LegacyAuditEntryAdmin(admin.ModelAdmin):
    """The previous platform's audit trail, as imported: read only, for admins."""

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.role in ADMIN_ROLES

    list_display = ("at", "action", "table_name", "record_id", "user", "target_type", "target_id")
    list_filter = ("source_table", "action", "table_name")
    search_fields = ("record_id", "user__username")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
