"""API keys: belong to a department and an application, stored hashed, shown once."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models.departments import Department


class ApiKey(models.Model):
    """A department application's key. Only ``prefix`` (public) and the SHA-256 of the whole key are kept."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="api_keys",
                                   verbose_name=_("department"))
    name = models.CharField(_("application name"), max_length=100)
    prefix = models.CharField(_("key id"), max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        ordering = ["department__code", "name"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.department.code}/{self.name} (gp_{self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())
