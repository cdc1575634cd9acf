"""The forms of the approval queues: a decision's reason, and an admin's request for a
privileged change."""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect

from approvals import services
from approvals.models import PrivilegedChange
from samia_chat.models import Role, User


class RejectForm(forms.Form):
    reason = forms.CharField(
        max_length=services.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Shown to the person the decision concerns, and kept in the audit log.",
    )


class ChangeRequestForm(forms.Form):
    """What an admin fills in; privileged_change_request validates the rest."""

    kind = forms.ChoiceField(choices=PrivilegedChange.Kind.choices)
    target = forms.ModelChoiceField(queryset=User.objects.all(), label="Person")
    new_role = forms.ChoiceField(
        choices=[("", "---------"), *Role.choices],
        required=False,
        help_text="For a role change only.",
    )
    justification = forms.CharField(
        max_length=services.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why this is needed. The super admin who decides reads it.",
    )

    def __init__(self, *args, admin_site: admin.AdminSite, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        target = self.fields["target"]
        # Searching beats a select of every account; the widget needs the field's choices
        # to render the prefilled person.
        target.widget = AutocompleteSelect(PrivilegedChange._meta.get_field("target"), admin_site)
        target.widget.choices = target.choices
