"""Loading a gazetteer CSV into PostGIS as a new version, all or nothing.

The rows go in with COPY inside one transaction that also activates the new version and
drops all but the previous one, so a failed load (a bad line 200,000) leaves the
gazetteer users see unchanged. The gazetteer is a catalog entry ("gazetteer") owned by
one department (一数一源): only that department may load new versions.
"""

from __future__ import annotations

from pathlib import Path

from django.db import connection, transaction
from django.db.models import Max
from tqdm import tqdm

from geoplatform.geocoding.gazetteer_csv import read_alias_csv, read_gazetteer_rows
from geoplatform.geocoding.models import GazetteerVersion

ENTRY_SLUG = "gazetteer"
_COPY = ("COPY geocoding_address (version_id, address_id, standard_address, level, district, district_code, "
         "township, township_code, road, road_id, house_number, number_prefix, compound, building, poi, point) "
         "FROM STDIN")
_LOCK = 5_000_005  # advisory lock: one load at a time


def load_gazetteer(path: str | Path, owner=None, column_map: dict[str, str] | None = None,
                   aliases_csv: str | Path | None = None, loaded_by: str = "",
                   progress: bool = False) -> GazetteerVersion:
    """Load ``path`` as the new active version; the owner department registers the catalog entry."""
    aliases = read_alias_csv(aliases_csv) if aliases_csv else {}
    total = _count_lines(path) if progress else None
    with transaction.atomic():
        entry = None
        if owner is not None:
            from catalog.entries import register_entry

            entry = register_entry(ENTRY_SLUG, "gazetteer", owner, "标准地名地址库", "Standard address gazetteer",
                                   sharing="open")
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        number = (GazetteerVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        version = GazetteerVersion.objects.create(number=number, source_name=Path(path).name, aliases=aliases,
                                                  loaded_by=loaded_by)
        count = 0
        lon_min = lat_min = float("inf")
        lon_max = lat_max = float("-inf")
        with connection.cursor() as cur, cur.cursor.copy(_COPY) as copy:
            for r in tqdm(read_gazetteer_rows(path, column_map), total=total, disable=not progress,
                          unit=" rows", desc="loading"):
                copy.write_row((version.pk, r.address_id, r.standard_address, r.level, r.district,
                                r.district_code, r.township, r.township_code, r.road, r.road_id, r.house_number,
                                r.number_prefix, r.compound, r.building, r.poi,
                                f"SRID=4490;POINT({r.lon!r} {r.lat!r})"))
                count += 1
                lon_min, lon_max = min(lon_min, r.lon), max(lon_max, r.lon)
                lat_min, lat_max = min(lat_min, r.lat), max(lat_max, r.lat)
        keep = list(GazetteerVersion.objects.order_by("-number").values_list("pk", flat=True)[:2])
        with connection.cursor() as cur:
            cur.execute("DELETE FROM geocoding_address WHERE NOT (version_id = ANY(%s))", [keep])
        GazetteerVersion.objects.exclude(pk__in=keep).delete()
        GazetteerVersion.objects.filter(is_active=True).update(is_active=False)
        version.row_count, version.is_active = count, True
        version.save(update_fields=["row_count", "is_active"])
        if entry is not None and count:
            from catalog.entries import mark_published

            mark_published(entry, feature_count=count, extent=(lon_min, lat_min, lon_max, lat_max))
    with connection.cursor() as cur:
        cur.execute("ANALYZE geocoding_address")
    return version


def _count_lines(path: str | Path) -> int:
    with open(path, "rb") as fh:
        return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b"")) - 1)
