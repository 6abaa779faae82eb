"""Catalog entries: one per shared resource, with exactly one owner department (一数一源)."""

from django.contrib.gis.db import models as gis
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _

from catalog.models.departments import Department


class Category(models.Model):
    """A two-level classification (e.g. 自然资源 > 土地利用): a city has 1,000+ kinds of information."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")

    class Meta:
        ordering = ["code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return f"{self.parent.name_zh} / {self.name_zh}" if self.parent else self.name_zh


class Entry(models.Model):
    """A shared resource's catalog record, after GB/T 21063's core elements (name, code, provider,
    abstract, format, sharing type and conditions, update cycle, publication date)."""

    class Kind(models.TextChoices):
        LAYER = "layer", _("vector layer")
        IMAGERY = "imagery", _("imagery collection")
        GRIDSET = "gridset", _("grid set")
        GAZETTEER = "gazetteer", _("address gazetteer")

    class Sharing(models.TextChoices):
        OPEN = "open", _("shared unconditionally (无条件共享)")
        APPLICATION = "application", _("shared on application (有条件共享)")
        UNLISTED = "unlisted", _("not shared (不予共享)")

    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    resource_code = models.CharField(_("resource code (资源代码)"), max_length=64, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.LAYER)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    abstract = models.TextField(_("abstract"), blank=True)
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="entries", verbose_name=_("category"))
    owner = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="entries",
                              verbose_name=_("owner department"))
    steward = models.CharField(_("data steward"), max_length=100, blank=True)
    cadence = models.CharField(_("update cadence"), max_length=32, default="on_change",
                               help_text=_("monthly:DAY, quarterly, yearly, weekly or on_change"))
    last_published_at = models.DateTimeField(_("last published at"), null=True, blank=True)
    next_due_at = models.DateTimeField(_("next update due"), null=True, blank=True)
    sharing = models.CharField(_("sharing type"), max_length=16, choices=Sharing.choices,
                               default=Sharing.APPLICATION)
    sharing_conditions = models.TextField(_("sharing conditions"), blank=True)
    legal_basis = models.TextField(_("legal basis for not sharing"), blank=True)
    format = models.CharField(_("format"), max_length=100, blank=True)
    fields = models.JSONField(_("field schema"), default=list, blank=True,
                              help_text=_('[{"name", "type", "title", "sensitivity": public|masked|coarsened}]'))
    extent = gis.PolygonField(_("extent"), srid=4490, null=True, blank=True)
    crs = models.CharField(_("CRS"), max_length=32, default="EPSG:4490")
    feature_count = models.BigIntegerField(_("feature count"), null=True, blank=True)
    terms_of_use = models.TextField(_("terms of use"), blank=True)
    search_text = models.TextField(editable=False, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("catalog entry")
        verbose_name_plural = _("catalog entries")
        indexes = [
            GinIndex(fields=["search_text"], opclasses=["gin_trgm_ops"], name="entry_search_trgm"),
            models.Index(fields=["owner", "kind"]),
            models.Index(fields=["updated_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.title_zh} ({self.slug})"

    def save(self, *args, **kwargs):
        """Keep the search document (lower-cased text of every searchable element) in step."""
        parts = [self.slug, self.title_zh, self.title_en, self.abstract, " ".join(self.keywords or []),
                 self.owner.name_zh, self.owner.name_en, self.owner.code]
        if self.category_id:
            parts.append(str(self.category))
        self.search_text = " ".join(p for p in parts if p).lower()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_text", "updated_at"}
        super().save(*args, **kwargs)

    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]

    def sensitivity(self, field: str) -> str:
        return next((f.get("sensitivity", "public") for f in self.fields if f["name"] == field), "public")


class Subscription(models.Model):
    """A department asks to be told when an entry is updated."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="subscriptions")
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="subscriptions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = [("department", "entry")]

    def __str__(self) -> str:
        return f"{self.department.code} -> {self.entry.slug}"


class Demand(models.Model):
    """需求目录: a department's need for data nobody shares yet; an owner may answer it with an entry."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        ANSWERED = "answered", _("answered")
        CLOSED = "closed", _("closed")

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="demands")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    purpose = models.TextField(_("purpose and legal basis"), blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    answered_by = models.ForeignKey(Entry, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="answers")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title
