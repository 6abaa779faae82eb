"""Every input format publishes; CRS transforms land in CGCS2000; versions diff by key, read as of a date, restore."""

from __future__ import annotations

import zipfile

import numpy as np
import pyogrio
import pytest
import shapely
from django.db import connection

from geoplatform.layers.importing.errors import ImportRejected
from geoplatform.layers.publish import restore_version
from geoplatform.layers.serving.access import parse_moment
from tests.layers.conftest import POINTS, write_points


def flat(points) -> list[float]:
    return [c for point in points for c in point]


def stored_points(version) -> list[float]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ST_X(gp_geom), ST_Y(gp_geom) FROM {version.layer.table} "
                       "WHERE gp_vto IS NULL ORDER BY gp_fid")
        return flat(cursor.fetchall())


def test_zipped_shapefile_geojson_flatgeobuf(publish, tmp_path):
    write_points(tmp_path / "s.shp", driver="ESRI Shapefile")
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as zf:
        for part in tmp_path.glob("s.*"):
            if part.suffix != ".zip":
                zf.write(part, f"folder/{part.name}")
    shp = publish(tmp_path / "s.zip", slug="from-shp")
    assert shp.report["driver"] == "ESRI Shapefile" and shp.feature_count == 3
    for driver, suffix in [("GeoJSON", "geojson"), ("FlatGeobuf", "fgb")]:
        version = publish(write_points(tmp_path / f"p.{suffix}", driver=driver), slug=f"from-{suffix}")
        assert version.report["driver"] == driver
        assert sorted(stored_points(version)) == pytest.approx(sorted(flat(POINTS)))


def test_geopackage_with_several_layers_needs_a_choice(publish, tmp_path):
    path = write_points(tmp_path / "multi.gpkg", layer="first")
    write_points(path, layer="second", append=False)
    with pytest.raises(ImportRejected, match="has 2 layers .*choose one with --layer"):
        publish(path)
    assert publish(path, layer_name="second").feature_count == 3


def test_csv_with_lon_lat_and_with_wkt(publish, tmp_path):
    lonlat = tmp_path / "a.csv"
    lonlat.write_text("code,经度,纬度\nA1,116.3,39.9\nA2,116.4,39.95\n", encoding="utf-8")
    assert stored_points(publish(lonlat, slug="csv-lonlat", crs="EPSG:4326")) == pytest.approx(flat(POINTS[:2]), abs=1e-6)
    wkt = tmp_path / "b.csv"
    wkt.write_text('code,wkt\nA1,"POLYGON((116 39,116.1 39,116.1 39.1,116 39))"\n', encoding="utf-8")
    assert publish(wkt, slug="csv-wkt", crs="EPSG:4490").geometry_type == "Polygon"


def test_gauss_kruger_zone_is_transformed_to_cgcs2000(publish, tmp_path):
    from pyproj import Transformer

    to_gk = Transformer.from_crs(4490, 4527, always_xy=True)  # CGCS2000 3° zone 39 (with zone prefix)
    projected = [to_gk.transform(x, y) for x, y in POINTS]
    version = publish(write_points(tmp_path / "gk.gpkg", crs="EPSG:4527", points=projected), slug="gk")
    assert version.report["source_crs"] == "EPSG:4527"
    assert stored_points(version) == pytest.approx(flat(POINTS), abs=1e-7)


def test_gauss_kruger_without_zone_prefix_is_named(publish, tmp_path):
    from pyproj import Transformer

    to_cm = Transformer.from_crs(4490, 4546, always_xy=True)  # the CM 117E variant, no zone prefix
    projected = [to_cm.transform(x, y) for x, y in POINTS]
    with pytest.raises(ImportRejected, match="without the Gauss-Krüger zone number"):
        publish(write_points(tmp_path / "cm.gpkg", crs="EPSG:4527", points=projected), slug="cm")


def test_mixed_single_and_multi_are_unified(publish, tmp_path):
    square = shapely.box(116.0, 39.0, 116.1, 39.1)
    geoms = np.array([square, shapely.MultiPolygon([square.buffer(-0.01)])], dtype=object)
    pyogrio.raw.write(str(tmp_path / "m.gpkg"), shapely.to_wkb(geoms), [np.array([1, 2], np.int32)], ["n"],
                      driver="GPKG", geometry_type="Unknown", crs="EPSG:4490")
    version = publish(tmp_path / "m.gpkg", slug="mixed")
    assert version.geometry_type == "MultiPolygon" and version.report["promoted_to_multi"] == 1


def test_keyed_update_diffs_and_history_reads_as_of_and_restores(published, publish, tmp_path):
    layer = published.layer
    v2 = publish(write_points(tmp_path / "v2.gpkg", codes=("A1", "A2", "A4"), names=("甲公司", "乙公司改", "丁公司")))
    assert v2.report["diff"] == {"added": 1, "changed": 1, "removed": 1}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {layer.table}")
        assert cursor.fetchone()[0] == 5  # 3 of v1 + the changed A2 and the added A4: unchanged A1 not rewritten
    from geoplatform.layers.publish import version_at

    assert version_at(layer, published.published_at).number == 1
    assert version_at(layer, v2.published_at).number == 2
    v3 = restore_version(layer, 1)
    assert v3.number == 3 and v3.restored_from == 1
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT gp_key, a2 FROM {layer.table} WHERE gp_vto IS NULL ORDER BY gp_key")
        assert cursor.fetchall() == [("A1", "甲公司"), ("A2", "乙公司"), ("A3", "丙公司")]


def test_schema_changes_are_reported(published, publish, tmp_path):
    path = tmp_path / "v2.geojson"
    path.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"A1",'
                    '"staff":"ten","phone":"123"},"geometry":{"type":"Point","coordinates":[116.3,39.9]}}]}')
    v2 = publish(path)
    assert v2.report["schema_changes"] == {"added": ["phone"], "removed": ["name", "id_number"],
                                           "retyped": [{"name": "staff", "from": "integer", "to": "text"}]}


def test_failed_import_keeps_previous_version(published, publish, tmp_path):
    bad = write_points(tmp_path / "bad.gpkg", codes=("A1", "A2", None))
    with pytest.raises(ImportRejected, match="feature 3 has no value in the key field"):
        publish(bad)
    layer = published.layer
    layer.refresh_from_db()
    assert layer.current_version == 1 and layer.versions.count() == 1
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {layer.table}")
        assert cursor.fetchone()[0] == 3


def test_as_of_dates_parse():
    assert parse_moment("2025-01-31").day == 31
    assert parse_moment("../2025-02-01T08:00:00+08:00").hour == 8
    assert parse_moment("..") is None
