from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from samia_chat.models import ADMIN_ROLES, AccessEvent, Role, User
from samia_chat.views import SamiaAdminLoginForm

# Admin sign-in goes through the same limited, audited check as the site.
admin.site.login_form = SamiaAdminLoginForm


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """People and their role. The role is read-only here: a staff role (or an erasure) is
    an approvals.PrivilegedChange that a different super admin approves, and the button
    next to the role opens that request."""

    list_display = ("username", "display_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    search_fields = ("username", "display_name", "email")
    fieldsets = (*BaseUserAdmin.fieldsets, ("SAMIA", {"fields": ("role", "display_name")}))
    add_fieldsets = (*BaseUserAdmin.add_fieldsets, ("SAMIA", {"fields": ("role",)}))
    # Roles a new account may be given directly; staff roles need a second super admin.
    direct_roles = (Role.CLIENT, Role.READER)

    def _may_request_changes(self, request: HttpRequest) -> bool:
        return request.user.role in ADMIN_ROLES and request.user.has_perm(
            "approvals.add_privilegedchange"
        )

    def _fieldsets_with_request_button(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not self._may_request_changes(request):
            return fieldsets
        return (
            *fieldsets[:-1],
            ("SAMIA", {"fields": ("role", "privileged_change", "display_name")}),
        )

    def get_fieldsets(self, request: HttpRequest, obj=None):
        # Explicit permissions and groups would grant what roles govern: they are not
        # offered (the role decides everything, see User.has_perm).
        fieldsets = self._fieldsets_with_request_button(request, obj)
        return tuple(
            (
                name,
                {
                    **options,
                    "fields": tuple(
                        f for f in options["fields"] if f not in ("groups", "user_permissions")
                    ),
                },
            )
            for name, options in fieldsets
        )

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # is_superuser would make the account a super admin on save (User.save), and
            # is_staff follows the role: neither may bypass the role change request.
            readonly += ["role", "is_staff", "is_superuser", "privileged_change"]
        return readonly

    def formfield_for_choice_field(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "role":
            kwargs["choices"] = [(role.value, role.label) for role in self.direct_roles]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    @admin.display(description="Role or erasure")
    def privileged_change(self, obj: User) -> str:
        url = reverse("admin:approvals_privilegedchange_add")
        return format_html(
            '<a class="button" href="{}?{}">Request a role change / erasure</a>',
            url,
            urlencode({"target": obj.pk}),
        )


@admin.register(AccessEvent)
class AccessEventAdmin(admin.ModelAdmin):
    """Read-only; for admins (addresses and browsers are in it), like the audit log page."""

    list_display = ("created_at", "action", "actor", "target_type", "target_id", "ip_address")
    list_filter = ("action", "target_type", "created_at")
    search_fields = ("actor__username", "target_id")
    date_hierarchy = "created_at"

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.role in ADMIN_ROLES

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# The staff console pages (dashboard, audit log) register themselves on this admin site.
from samia_chat import admin_console  # noqa: E402, F401
