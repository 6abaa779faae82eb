"""Bad input: each case is a clear error naming the problem, and the published version stays as it was."""

from __future__ import annotations

import zipfile

import pytest
from django.db import connection

from geoplatform.layers.importing.errors import ImportRejected, PublishForbidden
from geoplatform.layers.models import Layer
from tests.layers.conftest import geojson, write_points


def current_rows(layer: Layer) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT gp_key, ST_AsText(gp_geom) FROM {layer.table} WHERE gp_vto IS NULL ORDER BY 1")
        return cursor.fetchall()


@pytest.fixture
def rejected(published, publish):
    """rejected(path, match, **kw): the publish fails with ``match`` and version 1 is untouched."""
    layer = published.layer
    before = current_rows(layer)

    def check(path, match: str, error=ImportRejected, **kw):
        with pytest.raises(error, match=match):
            publish(path, **kw)
        layer.refresh_from_db()
        assert layer.current_version == 1
        assert current_rows(layer) == before

    return check


def test_corrupt_zip(rejected, tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 10)
    rejected(path, "not a readable zip archive")


@pytest.mark.parametrize("missing", [".shx", ".dbf"])
def test_shapefile_without_part(rejected, tmp_path, missing):
    write_points(tmp_path / "pts.shp", driver="ESRI Shapefile")
    path = tmp_path / "pts.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for part in tmp_path.glob("pts.*"):
            if part.suffix not in (missing, ".zip"):
                zf.write(part, part.name)
    rejected(path, f"incomplete: {missing} missing")


def test_invalid_json(rejected, tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature",')
    rejected(path, "bad.geojson cannot be read.*Unterminated object")


def test_geojson_latitude_200(rejected, tmp_path):
    path = geojson(tmp_path / "lat.geojson", [
        {"type": "Feature", "properties": {"code": "A1"}, "geometry": {"type": "Point", "coordinates": [116.4, 39.9]}},
        {"type": "Feature", "properties": {"code": "A2"}, "geometry": {"type": "Point", "coordinates": [116.4, 200]}}])
    rejected(path, "feature 2: latitude 200 out of range")


def test_empty_file(rejected, tmp_path):
    path = tmp_path / "empty.gpkg"
    path.write_bytes(b"")
    rejected(path, "is empty")


def test_zero_features(rejected, tmp_path):
    path = geojson(tmp_path / "none.geojson", [])
    rejected(path, "no features|no geometry")


def test_zip_entry_with_parent_path(rejected, tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../../etc/evil.shp", b"x")
    rejected(path, "points outside the archive folder")
    assert not (tmp_path.parent / "etc").exists()


def test_zip_bomb(rejected, tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.geojson", b" " * 50_000_000)
    rejected(path, "zip bomb guard")


def test_csv_without_coordinate_columns(rejected, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("code,name\nA1,甲\n", encoding="utf-8")
    rejected(path, "no geometry column.*lon/lat", crs="EPSG:4326")


def test_unknown_epsg_code(rejected, tmp_path):
    rejected(write_points(tmp_path / "p.gpkg"), "EPSG:99999 is not an accepted CRS", crs="EPSG:99999")


def test_file_crs_outside_allow_list(rejected, tmp_path):
    rejected(write_points(tmp_path / "p.gpkg", crs="EPSG:32650"), "EPSG:32650 is not an accepted CRS")


def test_missing_crs_is_an_error_unless_overridden(rejected, publish, tmp_path):
    """A WKT column says nothing about its CRS (a lon/lat CSV is read as CGCS2000: see test_csv_rows)."""
    csv = tmp_path / "p.csv"
    csv.write_text('code,name,wkt\nA1,甲,"POINT (116.3 39.9)"\nA2,乙,"POINT (116.4 39.95)"\n', encoding="utf-8")
    rejected(csv, "declares no CRS: name it with --crs")
    assert publish(csv, slug="other", crs="EPSG:4490").feature_count == 2


def test_xy_swapped_is_named(rejected, tmp_path):
    swapped = [(y, x) for x, y in [(116.30, 39.90), (116.40, 39.95), (116.50, 40.00)]]
    rejected(write_points(tmp_path / "p.gpkg", crs="EPSG:4326", points=swapped), "x/y swapped")


def test_projected_coordinates_declared_as_degrees(rejected, tmp_path):
    metres = [(39_500_000.0, 4_420_000.0), (39_500_100.0, 4_420_100.0), (39_500_200.0, 4_420_200.0)]
    rejected(write_points(tmp_path / "p.gpkg", crs="EPSG:4490", points=metres),
             "projected coordinates .metres. declared as degrees")


def test_duplicate_keys_are_refused(rejected, tmp_path):
    rejected(write_points(tmp_path / "dup.gpkg", codes=("A1", "A1", "A3")), "key field is not unique: 'A1' ×2")


def test_department_that_is_not_the_owner_gets_403(rejected, tmp_path, other_department):
    rejected(write_points(tmp_path / "p.gpkg"), "only its owner may publish", error=PublishForbidden,
             owner=other_department)
    assert PublishForbidden.status == 403


def test_self_intersecting_polygon_is_repaired_and_reported(publish, tmp_path):
    bowtie = {"type": "Polygon", "coordinates": [[[116.0, 39.0], [116.1, 39.1], [116.1, 39.0], [116.0, 39.1],
                                                  [116.0, 39.0]]]}
    square = {"type": "Polygon", "coordinates": [[[116.2, 39.0], [116.3, 39.0], [116.3, 39.1], [116.2, 39.0]]]}
    version = publish(geojson(tmp_path / "bowtie.geojson", [
        {"type": "Feature", "properties": {"n": 1}, "geometry": bowtie},
        {"type": "Feature", "properties": {"n": 2}, "geometry": square}]), slug="parcels")
    assert version.report["repaired"] == 1
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT bool_and(ST_IsValid(gp_geom)), count(*) FROM {version.layer.table}")
        assert cursor.fetchone() == (True, 2)
    assert version.geometry_type == "MultiPolygon"  # the repaired bowtie is a multipolygon: singles unified


def test_gbk_dbf_without_cpg_imports_without_mojibake(publish, tmp_path):
    write_points(tmp_path / "gbk.shp", driver="ESRI Shapefile", encoding="GBK")
    (tmp_path / "gbk.cpg").unlink(missing_ok=True)
    dbf = tmp_path / "gbk.dbf"
    raw = bytearray(dbf.read_bytes())
    raw[29] = 0  # no language driver id either: nothing in the files names the encoding
    dbf.write_bytes(bytes(raw))
    assert "甲公司".encode("gbk") in raw
    path = tmp_path / "gbk.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for part in tmp_path.glob("gbk.*"):
            if part.suffix != ".zip":
                zf.write(part, part.name)
    version = publish(path, slug="gbk")
    assert version.report["encoding"] == "GB18030"
    with connection.cursor() as cursor:
        column = next(f["column"] for f in version.fields if f["name"] == "name")
        cursor.execute(f"SELECT {column} FROM {version.layer.table} ORDER BY gp_fid")
        assert [r[0] for r in cursor.fetchall()] == ["甲公司", "乙公司", "丙公司"]
