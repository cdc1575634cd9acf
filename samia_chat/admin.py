from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from samia_chat.models import AccessEvent, User
from samia_chat.views import SamiaAdminLoginForm

# Admin sign-in goes through the same limited, audited check as the site.
admin.site.login_form = SamiaAdminLoginForm


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    search_fields = ("username", "display_name", "email")
    fieldsets = (*BaseUserAdmin.fieldsets, ("SAMIA", {"fields": ("role", "display_name")}))
    add_fieldsets = (*BaseUserAdmin.add_fieldsets, ("SAMIA", {"fields": ("role",)}))


@admin.register(AccessEvent)
class AccessEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "actor", "target_type", "target_id", "ip_address")
    list_filter = ("action", "target_type", "created_at")
    search_fields = ("actor__username", "target_id")
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# The staff console pages (dashboard, audit log) register themselves on this admin site.
from samia_chat import admin_console  # noqa: E402, F401
