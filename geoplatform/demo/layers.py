"""Publish the demo city's layers through the same pipeline owners use (geoplatform.layers.publish)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from catalog.models import Department
from geoplatform.demo import city
from geoplatform.layers.models import Layer
from geoplatform.layers.publish import PublishRequest, publish_version


def demo_layers() -> list[tuple[str, str, str, dict, str | None]]:
    """(slug, owner code, title, FeatureCollection, key field) for each demo layer."""
    districts, townships = city.districts_and_townships()
    return [
        ("districts", "mzj", "区级行政区划", districts, "code"),
        ("townships", "mzj", "街道乡镇界线", townships, "code"),
        ("roads", "jtw", "城市道路中心线", city.roads(), "road_id"),
        ("businesses", "scjgj", "市场主体登记信息", city.businesses(), "credit_code"),
    ]


def load_demo_gazetteer(say=print) -> None:
    """Load the demo city's address gazetteer unless one is loaded already."""
    from geoplatform.demo.gazetteer import write_gazetteer_csv
    from geoplatform.geocoding.loading import load_gazetteer
    from geoplatform.geocoding.models import GazetteerVersion

    if GazetteerVersion.objects.filter(is_active=True).exists():
        return
    with tempfile.TemporaryDirectory(prefix="gp-demo-") as tmp:
        path = write_gazetteer_csv(Path(tmp) / "gazetteer.csv")
        version = load_gazetteer(path, owner=Department.objects.get(code="ghzrzyw"), loaded_by="demo")
    say(f"loaded the address gazetteer: {version.row_count} addresses")


def publish_demo_layers(say=print) -> None:
    """Publish each demo layer that has no version yet."""
    with tempfile.TemporaryDirectory(prefix="gp-demo-") as tmp:
        for slug, owner, title, collection, key in demo_layers():
            if Layer.objects.filter(slug=slug, current_version__gt=0).exists():
                continue
            path = Path(tmp) / f"{slug}.geojson"
            path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
            request = PublishRequest(owner=Department.objects.get(code=owner), slug=slug, title=title, key=key,
                                     published_by="demo", source_name=path.name)
            version = publish_version(path, request)
            say(f"published {slug}: {version.feature_count} features")
