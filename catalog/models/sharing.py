"""Sharing on application (依申请提供): applications, the owners' decisions, and the grants they make."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models.departments import Department
from catalog.models.entries import Entry
from catalog.models.keys import ApiKey


class Application(models.Model):
    """A department's request for one or more entries, with its purpose and the function it serves.

    Flow: submitted -> the data authority's conformity check (合规性审核) -> each owner decides its entries.
    """

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("awaiting conformity check")
        CHECKED = "checked", _("awaiting the owners' decision")
        NONCONFORMING = "nonconforming", _("returned: not conforming")
        DECIDED = "decided", _("decided")
        WITHDRAWN = "withdrawn", _("withdrawn")

    applicant = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="applications",
                                  verbose_name=_("applicant"))
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    purpose = models.TextField(_("purpose"))
    legal_basis = models.TextField(_("function or legal basis served"), blank=True)
    fields = models.JSONField(_("fields wanted"), default=list, blank=True)
    days = models.PositiveIntegerField(_("duration (days)"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SUBMITTED)
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    conformity_due_at = models.DateTimeField(_("conformity check due"))
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    check_note = models.TextField(_("conformity note"), blank=True)
    answer_due_at = models.DateTimeField(_("answer due"), null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        verbose_name = _("application")
        verbose_name_plural = _("applications")

    def __str__(self) -> str:
        return f"#{self.pk} {self.applicant.code}: {self.purpose[:40]}"


class ApplicationItem(models.Model):
    """One entry of an application and its owner's answer."""

    class Decision(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        DISPUTED = "disputed", _("refusal disputed")
        WITHDRAWN = "withdrawn", _("withdrawn")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="items")
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="application_items")
    decision = models.CharField(max_length=16, choices=Decision.choices, default=Decision.PENDING)
    reason = models.TextField(_("reason"), blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    dispute_note = models.TextField(blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        unique_together = [("application", "entry")]

    def __str__(self) -> str:
        return f"#{self.application_id} {self.entry.slug}: {self.decision}"


class Grant(models.Model):
    """What a department may use: one entry, which fields, how masked (灵活处理), from when to when, which keys."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="grants")
    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="grants")
    item = models.OneToOneField(ApplicationItem, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="grant")
    fields = models.JSONField(_("visible fields"), null=True, blank=True,
                              help_text=_("field names; empty means every field of the schema"))
    transforms = models.JSONField(_("field transforms"), default=dict, blank=True)
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    valid_to = models.DateTimeField(_("valid to"))
    api_keys = models.ManyToManyField(ApiKey, blank=True, related_name="grants",
                                      help_text=_("only these keys; none means any key of the department"))
    purpose = models.TextField(_("purpose"), blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoke_reason = models.TextField(blank=True)
    expiry_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        indexes = [models.Index(fields=["department", "entry"])]

    def __str__(self) -> str:
        return f"grant #{self.pk}: {self.entry.slug} -> {self.department.code}"
