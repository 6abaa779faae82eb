"""Downloads at the edges: mixed geometry types, no rows at all, a query that fails before the first byte."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter

import pyogrio
import pytest
import shapely
from django.db import DataError

from geoplatform.layers.views import downloads
from tests.layers.conftest import geojson
from tests.layers.test_serving import client_for


def feature(geometry: dict | None, name: str, n: int) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": {"name": name, "n": n}}


def point(x: float, y: float) -> dict:
    return {"type": "Point", "coordinates": [x, y]}


LINE = {"type": "LineString", "coordinates": [[116.30, 39.90], [116.40, 39.95]]}
SQUARE = [[[116.30, 39.90], [116.32, 39.90], [116.32, 39.92], [116.30, 39.92], [116.30, 39.90]]]
MIXED = [
    feature(point(116.30, 39.90), "路灯甲", 1),
    feature(point(116.31, 39.91), "路灯乙", 2),
    feature(LINE, "长安街", 3),
    feature({"type": "Polygon", "coordinates": SQUARE}, "街区一", 4),
    feature({"type": "MultiPolygon", "coordinates": [SQUARE]}, "街区二", 5),
    feature(None, "无坐标", 6),
]
COLLECTION = feature({"type": "GeometryCollection", "geometries": [point(116.35, 39.92), LINE]}, "组合", 7)


@pytest.fixture
def mixed(publish, tmp_path, department):
    """A published layer of points, a line, polygons (single and multi) and a feature without geometry."""
    version = publish(geojson(tmp_path / "mixed.geojson", MIXED), slug="mixed")
    assert version.geometry_type == "Geometry"
    return client_for(department)


def download(client, fmt: str, **params) -> bytes:
    response = client.get(f"/api/layers/mixed/download.{fmt}", params)
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content) if response.streaming else response.content


def unzip(raw: bytes, folder) -> list[str]:
    archive = zipfile.ZipFile(io.BytesIO(raw))
    archive.extractall(folder)
    return sorted(archive.namelist())


def read(path) -> tuple[dict, list[tuple]]:
    """(layer info, [(name, n, geometry type or None)]) as GDAL reads the file back."""
    frame = pyogrio.read_dataframe(path)
    kinds = [g.geom_type if g is not None else None for g in frame.geometry] if "geometry" in frame else [None] * len(
        frame)
    return pyogrio.read_info(path), sorted(zip(frame["name"], frame["n"], kinds, strict=True), key=lambda r: r[1])


def test_mixed_geometry_geopackage_is_one_table_with_a_generic_geometry_column(mixed, tmp_path):
    path = tmp_path / "mixed.gpkg"
    path.write_bytes(download(mixed, "gpkg"))
    info, rows = read(path)
    assert info["geometry_type"] == "Unknown" and info["features"] == 6  # OGR's name for GEOMETRY
    assert rows == [("路灯甲", 1, "Point"), ("路灯乙", 2, "Point"), ("长安街", 3, "LineString"),
                    ("街区一", 4, "MultiPolygon"), ("街区二", 5, "MultiPolygon"), ("无坐标", 6, None)]


def test_mixed_geometry_shapefile_zip_holds_one_shapefile_per_family(mixed, tmp_path):
    names = unzip(download(mixed, "shp"), tmp_path)
    for family in ("point", "line", "polygon"):
        assert {f"mixed-v1_{family}.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= set(names)
    assert {"mixed-v1_nogeometry.dbf", "mixed-v1_nogeometry.cpg"} <= set(names)
    point_info, points = read(tmp_path / "mixed-v1_point.shp")
    assert point_info["geometry_type"] == "Point" and point_info["crs"] == "EPSG:4490"
    assert points == [("路灯甲", 1, "Point"), ("路灯乙", 2, "Point")]
    assert read(tmp_path / "mixed-v1_line.shp")[1] == [("长安街", 3, "LineString")]
    polygons = read(tmp_path / "mixed-v1_polygon.shp")[1]
    assert [(name, n) for name, n, _ in polygons] == [("街区一", 4), ("街区二", 5)]
    assert {kind for *_, kind in polygons} <= {"Polygon", "MultiPolygon"}
    assert [(name, n) for name, n, _ in read(tmp_path / "mixed-v1_nogeometry.dbf")[1]] == [("无坐标", 6)]


def test_shapefile_of_a_mixed_layer_holds_only_the_families_selected(mixed, tmp_path):
    names = unzip(download(mixed, "shp", filter="n >= 4 AND n <= 5"), tmp_path)
    assert {n.rsplit(".", 1)[0] for n in names} == {"mixed-v1_polygon"}
    assert [n for _, n, _ in read(tmp_path / "mixed-v1_polygon.shp")[1]] == [4, 5]


def test_geometry_collection_parts_go_to_their_families_shapefiles(publish, tmp_path, department):
    publish(geojson(tmp_path / "mixed.geojson", [*MIXED, COLLECTION]), slug="mixed")
    names = unzip(download(client_for(department), "shp"), tmp_path)
    assert "mixed-v1_point.shp" in names and "mixed-v1_line.shp" in names
    point_info, points = read(tmp_path / "mixed-v1_point.shp")
    assert point_info["geometry_type"] == "MultiPoint"  # a collection's points are a MultiPoint: so are all
    assert [(name, n) for name, n, _ in points] == [("路灯甲", 1), ("路灯乙", 2), ("组合", 7)]
    assert [(name, n) for name, n, _ in read(tmp_path / "mixed-v1_line.shp")[1]] == [("长安街", 3), ("组合", 7)]
    gpkg = tmp_path / "mixed.gpkg"
    gpkg.write_bytes(download(client_for(department), "gpkg"))
    assert read(gpkg)[1][-1] == ("组合", 7, "GeometryCollection")


def test_mixed_layer_shapefile_of_no_rows_keeps_the_attribute_table(mixed, tmp_path):
    names = unzip(download(mixed, "shp", bbox="100,20,100.1,20.1"), tmp_path)
    assert names == ["mixed-v1_nogeometry.cpg", "mixed-v1_nogeometry.dbf"]
    info = pyogrio.read_info(tmp_path / "mixed-v1_nogeometry.dbf")
    assert info["features"] == 0 and list(info["fields"]) == ["name", "n"]


def test_csv_download_with_no_rows_still_has_its_header_line(mixed):
    raw = download(mixed, "csv", bbox="100,20,100.1,20.1")
    assert raw.decode("utf-8") == "\ufefffid,wkt,name,n\r\n"
    assert json.loads(download(mixed, "geojson", bbox="100,20,100.1,20.1")) == {
        "type": "FeatureCollection", "features": []}


def test_csv_download_of_a_mixed_layer_keeps_every_feature(mixed):
    lines = download(mixed, "csv").decode("utf-8-sig").splitlines()
    assert lines[0] == "fid,wkt,name,n" and len(lines) == 7
    kinds = Counter(shapely.from_wkt(line.split('"')[1] if '"' in line else line.split(",")[1]).geom_type
                    for line in lines[1:] if not line.endswith(",无坐标,6"))
    assert kinds == {"Point": 2, "LineString": 1, "MultiPolygon": 2}


def test_a_failing_download_query_raises_before_the_response_starts(db):
    """The query runs and its first batch is read when the stream is made, not when the server sends it."""
    failing = "SELECT 1 / (x - 3) FROM generate_series(1, 5) x"  # fails on the third row, at execution
    with pytest.raises(DataError, match="division by zero"):
        downloads._stream(None, failing, [], lambda rows, first: "", head="\ufeffheader\r\n")
