"""The gazetteer (地名地址库) in PostGIS: versions and their standard addresses.

Each load is a new ``GazetteerVersion``; exactly one is active. Loading writes the new
rows, then flips ``is_active`` in the same transaction, so readers see either the old
gazetteer or the new one, never half of each.
"""

from __future__ import annotations

from django.contrib.gis.db import models


class GazetteerVersion(models.Model):
    """One load of the gazetteer file; the alias table the owner maintains travels with it."""

    number = models.PositiveIntegerField(unique=True)
    source_name = models.CharField(max_length=300)
    row_count = models.PositiveIntegerField(default=0)
    aliases = models.JSONField(default=dict, blank=True)  # {"district": {alias: name}, "township": ..., "road": ...}
    loaded_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=False)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True),
                                               name="one_active_gazetteer_version")]

    def __str__(self) -> str:
        return f"gazetteer v{self.number} ({self.row_count} rows)"


class Address(models.Model):
    """A standard address: a door (门牌) or a building (号院…号楼) with its structured elements."""

    version = models.ForeignKey(GazetteerVersion, on_delete=models.CASCADE, related_name="addresses")
    address_id = models.CharField(max_length=40)
    standard_address = models.CharField(max_length=300)
    level = models.CharField(max_length=10)  # door | building
    district = models.CharField(max_length=40)
    district_code = models.CharField(max_length=12, blank=True)
    township = models.CharField(max_length=60, blank=True)
    township_code = models.CharField(max_length=12, blank=True)
    road = models.CharField(max_length=80)
    road_id = models.CharField(max_length=80, blank=True)
    house_number = models.PositiveIntegerField()
    number_prefix = models.CharField(max_length=4, blank=True)  # 甲 / 乙
    compound = models.BooleanField(default=False)  # 号院
    building = models.PositiveIntegerField(default=0)  # n号楼; 0 for a door
    poi = models.CharField(max_length=120, blank=True)  # landmark / estate name
    point = models.PointField(srid=4490)

    class Meta:
        indexes = [models.Index(fields=["version", "address_id"])]

    def __str__(self) -> str:
        return self.standard_address
