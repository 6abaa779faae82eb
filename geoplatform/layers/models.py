"""A layer (one per catalog entry of kind "layer") and its versions; the features live in one table per layer.

The feature table ``layer_data.l<id>`` holds every version's rows: ``gp_vfrom``/``gp_vto``
are the version numbers a row is valid in (``gp_vto`` NULL while current), so an update
closes the rows it changes and inserts their successors, and any version can be read back.
Attribute columns are named ``a1, a2, ...``; each version's ``fields`` maps public names to them.
"""

from django.db import models

from catalog.models import Department


class Layer(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    owner = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="layers")
    title = models.CharField(max_length=200)
    key_field = models.CharField(max_length=200, blank=True,
                                 help_text="attribute identifying a feature across versions (e.g. 统一社会信用代码)")
    columns = models.JSONField(default=dict, help_text="physical attribute columns ever created: {column: sql type}")
    current_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def table(self) -> str:
        """The feature table's qualified name (generated from the id, never from user input)."""
        return f"layer_data.l{int(self.pk)}"


class LayerVersion(models.Model):
    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    published_at = models.DateTimeField()
    published_by = models.CharField(max_length=200, blank=True)
    source_name = models.CharField(max_length=300, blank=True)
    fields = models.JSONField(default=list, help_text='[{"name", "column", "type"}]')
    geometry_type = models.CharField(max_length=40, blank=True)
    feature_count = models.BigIntegerField(default=0)
    extent = models.JSONField(null=True, blank=True, help_text="[west, south, east, north] in EPSG:4490")
    report = models.JSONField(default=dict, help_text="repairs, empty geometries, schema changes, diff counts")
    restored_from = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["layer", "number"]
        constraints = [models.UniqueConstraint(fields=["layer", "number"], name="layer_version_unique")]
        indexes = [models.Index(fields=["layer", "published_at"])]

    def __str__(self) -> str:
        return f"{self.layer.slug} v{self.number}"
