"""Geocoded rows become a vector layer owned by the department that geocoded them
(this is how a business register lands on the map). Unmatched rows are counted, not published."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable
from pathlib import Path


def publish_geocoded(rows: Iterable[list], header: list[str], owner, slug: str, *, title: str = "",
                     key: str | None = None, published_by: str = "") -> dict:
    """Publish the matched rows (lon/lat columns, EPSG:4490) as ``slug``'s new version; returns a report."""
    from geoplatform.layers.publish import PublishRequest, publish_version

    level_at = header.index("level")
    with tempfile.TemporaryDirectory(prefix="gp-geocoded-") as tmp:
        path = Path(tmp) / f"{slug}.csv"
        unmatched = 0
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for row in rows:
                if row[level_at] == "none":
                    unmatched += 1
                    continue
                writer.writerow(row)
        request = PublishRequest(owner=owner, slug=slug, title=title or slug, key=key or None, crs="EPSG:4490",
                                 published_by=published_by, source_name=path.name)
        version = publish_version(path, request)
    return {"layer": slug, "version": version.number, "published_features": version.feature_count,
            "not_published_unmatched": unmatched}
