"""Decisions someone must take before a thing happens: held messages, reader applications,
privileged changes. Each row is decided once; services lock it so two reviewers deciding
at the same moment produce one decision."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from samia_chat.models import Role


class Decision(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class Decided(models.Model):
    """Who decided, when and why: common to every approval."""

    status = models.CharField(
        max_length=16, choices=Decision.choices, default=Decision.PENDING, db_index=True
    )
    submitted_at = models.DateTimeField(default=timezone.now, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Shown to the person the decision concerns (a rejected reader, a rejected applicant).
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        abstract = True

    @property
    def is_pending(self) -> bool:
        return self.status == Decision.PENDING


class MessageReview(Decided):
    """A message held until a reviewer releases it (by default: a reader's voice note to a
    client). While pending or rejected, only its sender and staff can reach its content."""

    message = models.OneToOneField("chat.Message", on_delete=models.CASCADE, related_name="review")

    class Meta:
        verbose_name = "held message"
        indexes = [models.Index(fields=["status", "submitted_at"], name="approvals_review_queue")]

    def __str__(self) -> str:
        return f"Review of message #{self.message_id} ({self.get_status_display()})"


class ReaderApplication(Decided):
    """A person who signed up as a reader. Until approved they take no sessions and no
    emergency calls. Readers made by staff directly have no application and are approved."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reader_application"
    )
    about = models.TextField(max_length=2000, blank=True)

    def __str__(self) -> str:
        return f"Reader application of {self.user} ({self.get_status_display()})"


class PrivilegedChange(Decided):
    """A change an admin asks for and a different super_admin must approve."""

    class Kind(models.TextChoices):
        ROLE_CHANGE = "role_change", _("Change a role")
        ERASURE = "erasure", _("Erase an account")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="privileged_changes"
    )
    new_role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    justification = models.CharField(max_length=500)

    class Meta:
        constraints = [
            # One open request per person and kind: a second one would race the first.
            models.UniqueConstraint(
                fields=["target", "kind"],
                condition=Q(status="pending"),
                name="approvals_one_pending_change",
            )
        ]

    def __str__(self) -> str:
        what = f"{self.get_kind_display()}"
        if self.kind == self.Kind.ROLE_CHANGE:
            what = f"Make {self.target} {self.get_new_role_display()}"
        elif self.target_id:
            what = f"Erase {self.target}"
        return f"{what} ({self.get_status_display()})"
