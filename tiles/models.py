"""The imagery registry: one catalog entry (kind "imagery") per collection, one dataset per year.

The database holds only the registry; the pixels are COG files under the imagery folder
(``tiles.conf.imagery_dir``) or objects in an S3-compatible bucket (``tiles.storage``). The tile
service resolves (collection slug, year) to a file through this table and nothing else, so no
caller-supplied path or URL is ever opened.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ImageryDataset(models.Model):
    """One year of a collection: a validated COG, its footprint in CGCS2000 lon/lat and what a client needs."""

    entry = models.ForeignKey("catalog.Entry", on_delete=models.PROTECT, related_name="imagery_datasets",
                              verbose_name=_("collection"))
    year = models.PositiveSmallIntegerField(_("year"))
    # a location (tiles.storage): a path relative to the imagery folder, or s3://bucket/key; never a credential
    path = models.CharField(_("COG location (relative to the imagery folder, or s3://bucket/key)"),
                            max_length=1100)
    # the same pixels in a second COG aligned to the CGCS2000 grid c: a c tile read from it costs what a Web
    # Mercator tile costs, where reprojecting from the first costs ~27 times as much (bench/imagery_grids.py)
    path_c = models.CharField(_("COG aligned to the CGCS2000 grid c (location)"), max_length=1100, blank=True)
    # a 16-bit or 4-band scene is converted for display (tiles.display); the file as delivered is kept here
    source_path = models.CharField(_("ingested file as delivered (location)"), max_length=1100, blank=True)
    west = models.FloatField()
    south = models.FloatField()
    east = models.FloatField()
    north = models.FloatField()
    crs = models.CharField(_("CRS of the COG"), max_length=200)
    source_crs = models.CharField(_("CRS of the ingested file"), max_length=200)
    resolution_x = models.FloatField(_("pixel width (CRS units)"))
    resolution_y = models.FloatField(_("pixel height (CRS units)"))
    band_count = models.PositiveSmallIntegerField(_("bands"))
    dtype = models.CharField(max_length=16)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.BigIntegerField(_("file size"))
    compression = models.CharField(max_length=16)
    minzoom = models.PositiveSmallIntegerField()
    maxzoom = models.PositiveSmallIntegerField()
    source_name = models.CharField(_("ingested file"), max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["entry__slug", "year"]
        constraints = [models.UniqueConstraint(fields=["entry", "year"], name="imagery_one_dataset_per_year")]
        verbose_name = _("imagery dataset")
        verbose_name_plural = _("imagery datasets")

    def __str__(self) -> str:
        return f"{self.entry.slug}/{self.year}"

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.west, self.south, self.east, self.north)

    @property
    def tile_format(self) -> str:
        """The format a client is offered by default: JPEG for 8-bit RGB (no transparency), PNG otherwise."""
        return "jpg" if self.band_count == 3 and self.dtype == "uint8" and self.compression == "JPEG" else "png"

    def stored_files(self) -> list[str]:
        """Every location this year's files occupy (removed together when the year is replaced)."""
        return [p for p in (self.path, self.path_c, self.source_path) if p]

    @property
    def storage(self) -> str:
        """Where the COG lives: "s3" (an object in a bucket) or "local" (under the imagery folder)."""
        from tiles.storage import is_remote

        return "s3" if is_remote(self.path) else "local"
