"""Departments (委办局) and their staff."""

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

code_validator = RegexValidator(
    r"^[a-z][a-z0-9_-]{1,31}$", _("2-32 characters: lower-case letters, digits, '-' or '_', starting with a letter")
)


class Department(models.Model):
    """A city department that owns and uses shared data. 共享责任人 is its responsible person."""

    code = models.CharField(_("code"), max_length=32, unique=True, validators=[code_validator])
    name_zh = models.CharField(_("Chinese name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    responsible_person = models.CharField(_("responsible person (共享责任人)"), max_length=100, blank=True)
    contact = models.CharField(_("contact (phone or e-mail)"), max_length=200, blank=True)
    is_data_authority = models.BooleanField(
        _("data authority (政务数据主管部门)"),
        default=False,
        help_text=_("Checks applications for conformity and settles disputed refusals."),
    )
    webhook_url = models.URLField(_("webhook URL"), blank=True)
    webhook_secret = models.CharField(_("webhook secret (HMAC-SHA256)"), max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return f"{self.name_zh} ({self.code})"

    def display_name(self, language: str) -> str:
        return self.name_en if language.startswith("en") and self.name_en else self.name_zh


class User(AbstractUser):
    """A member of staff; belongs to exactly one department (none only for platform operators)."""

    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="users",
        verbose_name=_("department"),
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
