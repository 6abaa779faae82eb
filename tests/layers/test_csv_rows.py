"""Imports never corrupt silently: bad rows are refused by line (or skipped on request and reported), a lon/lat CSV
is read as CGCS2000 and says so; every refusal leaves the published version as it was (CLI and HTTP alike)."""

from __future__ import annotations

import json

import numpy as np
import pyogrio
import pytest
import shapely
from django.core.management import CommandError, call_command
from django.db import connection
from pyproj import Transformer
from rest_framework.test import APIClient

from catalog.keys import create_api_key
from geoplatform.layers.importing import csv_rows
from geoplatform.layers.importing.errors import ImportRejected
from tests.layers.conftest import geojson
from tests.layers.test_publish_bad_input import current_rows, rejected  # noqa: F401 - the fixture is used by name

# the issue's file: line 3 has a longitude that is not a number, line 5 a NUL character in the name
BAD_CSV = "code,name,lon,lat\nA1,甲,116.40,39.92\nA2,坏行,abc,\nA3,乙,116.5,39.9\nA4,A\x00B,116.40,39.92\n"


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def stored(version) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT gp_fid, a2, ST_X(gp_geom), ST_Y(gp_geom), ST_SRID(gp_geom) "
                       f"FROM {version.layer.table} WHERE gp_vto IS NULL ORDER BY gp_fid")
        return cursor.fetchall()


def test_coordinate_that_is_not_a_number_and_nul_are_refused_naming_the_lines(rejected, tmp_path):  # noqa: F811
    rejected(write(tmp_path / "bad.csv", BAD_CSV),
             "2 bad rows, nothing was published: line 3: longitude 'abc' is not a number; "
             "line 5: NUL character in field name. Correct them, or leave them out with --skip-bad-rows")


def test_skip_bad_rows_leaves_them_out_and_reports_count_and_lines(publish, tmp_path):
    version = publish(write(tmp_path / "bad.csv", BAD_CSV), slug="skipping", skip_bad_rows=True)
    assert version.feature_count == 2 and version.geometry_type == "Point"
    assert version.report["skipped_bad_rows"] == {
        "count": 2, "lines": [3, 5],
        "details": ["line 3: longitude 'abc' is not a number", "line 5: NUL character in field name"]}
    assert version.report["empty"] == 0 and version.report["no_geometry"] == 0
    rows = stored(version)
    assert [r[1] for r in rows] == ["甲", "乙"]  # neither "坏行" without a point nor a truncated "A"
    assert all(r[2] is not None for r in rows)


def test_more_than_twenty_bad_rows_are_named_up_to_twenty_and_counted(publish, tmp_path):
    lines = ["code,name,lon,lat", "A0,好,116.4,39.9"] + [f"B{i},坏,116.4,北{i}" for i in range(30)]
    path = write(tmp_path / "many.csv", "\n".join(lines) + "\n")
    with pytest.raises(ImportRejected, match="30 bad rows") as caught:
        publish(path, slug="many")
    message = str(caught.value)
    assert "line 3: latitude '北0' is not a number" in message and "line 22: latitude '北19'" in message
    assert "line 23" not in message and "and 10 more" in message


def test_line_numbers_count_quoted_newlines_and_blank_lines(publish, tmp_path):
    text = 'code,name,lon,lat\nA1,"two\nlines",116.1,39.1\n\nA2,坏行,abc,39.2\nA3,"x",,\n'
    version = publish(write(tmp_path / "multi.csv", text), slug="multi", skip_bad_rows=True)
    assert version.report["skipped_bad_rows"]["details"] == [
        "line 5: longitude 'abc' is not a number", "line 6: no coordinates (longitude and latitude are empty)"]
    assert [r[1] for r in stored(version)] == ["two\nlines"]


def test_column_and_row_checks_name_the_same_rows(tmp_path):
    """A plain file is checked column by column, one with a blank line row by row: same rows, same reasons."""
    text = "code,lon,lat\nA1,116.4,39.9\nA2,,39.9\nA3,1e2,x\nA4, 116.4 ,39.9\nA5,inf,39\nA6,1E2,-5\n"
    plain = csv_rows.scan_csv(write(tmp_path / "a.csv", text), None, ",", False)
    blank = csv_rows.scan_csv(write(tmp_path / "b.csv", text + "\n"), None, ",", False)
    assert plain.lines is None and blank.lines is not None  # the two paths were taken
    assert plain.bad == blank.bad == [1, 2, 4]
    assert plain.reasons == blank.reasons == {1: "longitude is empty", 2: "latitude 'x' is not a number",
                                              4: "longitude 'inf' is not a number"}
    assert plain.x_range == blank.x_range == (100.0, 116.4) and plain.y_range == blank.y_range == (-5.0, 39.9)


def test_row_with_more_fields_than_the_header_is_a_bad_row(rejected, tmp_path):  # noqa: F811
    rejected(write(tmp_path / "ragged.csv", "code,name,lon,lat\nA1,北京市,海淀区,116.3,39.9\nA2,甲,116.4,39.9\n"),
             "line 2: 5 fields where the header has 4 .a value containing the separator ',' must be quoted.")


def test_separator_is_found_as_gdal_finds_it():
    assert csv_rows.detect_separator("a;b;c") == ";"
    assert csv_rows.detect_separator("a\tb") == "\t"
    assert csv_rows.detect_separator('"a,b";c') == ";"
    assert csv_rows.detect_separator("a;b,c") == ","
    assert csv_rows.detect_separator("a b") == " "


def test_semicolon_csv_with_decimal_commas_publishes(publish, tmp_path):
    version = publish(write(tmp_path / "semi.csv", "code;name;lon;lat\nA1;甲;116,4;39,9\nA2;乙;116,5;abc\n"),
                      slug="semi", skip_bad_rows=True)
    assert version.report["skipped_bad_rows"]["details"] == ["line 3: latitude 'abc' is not a number"]
    assert stored(version)[0][2:4] == pytest.approx((116.4, 39.9))


@pytest.mark.parametrize("columns", ["lon,lat", "lng,lat", "Longitude,Latitude", "经度,纬度", "X,Y"])
def test_lon_lat_csv_is_read_as_cgcs2000_and_the_report_says_so(publish, tmp_path, columns):
    path = write(tmp_path / "p.csv", f"code,name,{columns}\nA1,甲,116.3,39.9\nA2,乙,116.4,39.95\n")
    version = publish(path, slug="lonlat")
    assert version.report["crs"] == "assumed EPSG:4490 because a CSV carries no CRS"
    assert version.report["source_crs"] == "EPSG:4490"
    assert [r[2:] for r in stored(version)] == [(116.3, 39.9, 4490), (116.4, 39.95, 4490)]


def test_named_crs_is_used_instead_of_the_assumption(publish, tmp_path):
    version = publish(write(tmp_path / "p.csv", "code,lon,lat\nA1,116.3,39.9\n"), slug="wgs", crs="EPSG:4326")
    assert version.report["source_crs"] == "EPSG:4326" and "crs" not in version.report


def test_projected_csv_still_needs_a_crs(rejected, publish, tmp_path):  # noqa: F811
    x, y = Transformer.from_crs(4490, 4548, always_xy=True).transform([116.3, 116.4], [39.9, 39.95])
    path = write(tmp_path / "metres.csv", f"code,name,x,y\nA1,甲,{x[0]:.2f},{y[0]:.2f}\nA2,乙,{x[1]:.2f},{y[1]:.2f}\n")
    rejected(path, "declares no CRS, and its coordinates are not longitude/latitude .x 4.*these look like projected "
                   "coordinates .metres.: name the CRS with --crs EPSG:NNNN")
    points = [c for r in stored(publish(path, slug="gk", crs="EPSG:4548")) for c in r[2:4]]
    assert points == pytest.approx([116.3, 39.9, 116.4, 39.95], abs=1e-7)


def test_latitude_first_csv_gets_a_hint(rejected, tmp_path):  # noqa: F811
    rejected(write(tmp_path / "swapped.csv", "code,lat,lon\nA1,116.3,39.9\n"), "latitude seems to come first")


def test_change_set_rows_marked_deleted_need_no_coordinates(published, publish, tmp_path):
    text = ("code,name,id_number,staff,lon,lat,_deleted\nA1,甲公司改,x1,10,116.31,39.91,0\n"
            "A2,,,,,,1\nA9,坏,x9,1,abc,39.9,0\n")
    path = write(tmp_path / "changes.csv", text)
    with pytest.raises(ImportRejected, match=r"1 bad row, nothing was published: line 4: longitude 'abc'"):
        publish(path, changes=True)
    v2 = publish(path, changes=True, skip_bad_rows=True)
    assert v2.report["diff"] == {"added": 0, "changed": 1, "removed": 1}
    assert v2.report["skipped_bad_rows"]["lines"] == [4]


def test_geojson_unreadable_coordinates_are_bad_rows_and_null_geometry_is_counted(rejected, publish,  # noqa: F811
                                                                                 tmp_path):
    def feature(code, geometry):
        return {"type": "Feature", "properties": {"code": code}, "geometry": geometry}

    features = [feature("A1", {"type": "Point", "coordinates": [116.4, 39.9]}),
                feature("A2", {"type": "Point", "coordinates": ["abc", 39.9]}),
                feature("A3", None),
                feature("A4", {"type": "Point", "coordinates": None}),
                feature("A5", {"type": "Point", "coordinates": [116.5, 39.8]})]
    path = geojson(tmp_path / "bad.geojson", features)
    rejected(path, "2 bad rows.*feature 2: its geometry cannot be read .coordinates must be numbers.*; feature 4: ")
    version = publish(path, slug="geo", skip_bad_rows=True)
    assert version.feature_count == 3 and version.report["no_geometry"] == 1  # A3 says it has no geometry
    assert version.report["skipped_bad_rows"]["features"] == [2, 4]


def test_nul_in_a_geojson_property_is_a_bad_row(rejected, tmp_path):  # noqa: F811
    point = {"type": "Point", "coordinates": [116.4, 39.9]}
    path = geojson(tmp_path / "nul.geojson", [{"type": "Feature", "properties": {"code": "A1", "name": "甲"},
                                               "geometry": point},
                                              {"type": "Feature", "properties": {"code": "A2", "name": "A\x00B"},
                                               "geometry": point}])
    assert "\\u0000" in path.read_text()
    rejected(path, "1 bad row, nothing was published: feature 2: NUL character in field name")


def test_nul_in_geopackage_text_is_a_bad_row(rejected, publish, tmp_path):  # noqa: F811
    import sqlite3

    path = tmp_path / "nul.gpkg"
    pyogrio.raw.write(str(path), shapely.to_wkb(shapely.points([(116.3, 39.9), (116.4, 39.95)])),
                      [np.array(["A1", "A2"], dtype=object), np.array(["甲", "乙"], dtype=object)], ["code", "name"],
                      driver="GPKG", geometry_type="Point", crs="EPSG:4490", layer_options={"SPATIAL_INDEX": "NO"})
    with sqlite3.connect(path) as db:  # GDAL cannot write a NUL: put one in as another program would
        db.execute("UPDATE nul SET name = CAST(X'41004243' AS TEXT) WHERE code = 'A2'")
    rejected(path, "feature 2: NUL character in field name")
    version = publish(path, slug="gpkg-nul", skip_bad_rows=True)
    assert version.feature_count == 1 and version.report["skipped_bad_rows"]["features"] == [2]


def test_cli_refuses_bad_rows_and_skips_them_when_asked(published, department, tmp_path, capsys):
    path = write(tmp_path / "bad.csv", BAD_CSV)
    args = ["layer", "publish", str(path), "--owner", department.code, "--name", "companies", "--no-progress"]
    before = current_rows(published.layer)
    with pytest.raises(CommandError, match="line 3: longitude 'abc' is not a number; line 5: NUL character"):
        call_command(*args)
    published.layer.refresh_from_db()
    assert published.layer.current_version == 1 and current_rows(published.layer) == before
    call_command(*args, "--skip-bad-rows")
    out = capsys.readouterr().out
    assert "left out 2 bad rows: line 3: longitude 'abc' is not a number; line 5: NUL character" in out
    assert "CRS assumed EPSG:4490 because a CSV carries no CRS" in out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["skipped_bad_rows"]["lines"] == [3, 5] and report["features"] == 2


def test_http_refuses_bad_rows_with_400_and_skips_them_when_asked(published, department, tmp_path):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_api_key(department, 'app')[1]}")
    path = write(tmp_path / "bad.csv", BAD_CSV)
    before = current_rows(published.layer)

    def post(**fields):
        with path.open("rb") as f:
            return client.post("/api/layers/companies/versions", {"file": f, **fields}, format="multipart")

    refused = post()
    assert refused.status_code == 400
    assert "line 3: longitude 'abc' is not a number; line 5: NUL character in field name" in refused.json()["detail"]
    assert "skip_bad_rows=true" in refused.json()["detail"]
    unclear = post(skip_bad_rows="maybe")
    assert unclear.status_code == 400 and "skip_bad_rows='maybe' is not true or false" in unclear.json()["detail"]
    published.layer.refresh_from_db()
    assert published.layer.current_version == 1 and current_rows(published.layer) == before
    accepted = post(skip_bad_rows="true")
    assert accepted.status_code == 201, accepted.content
    report = accepted.json()["report"]
    assert report["skipped_bad_rows"]["count"] == 2 and report["skipped_bad_rows"]["lines"] == [3, 5]
    assert report["crs"] == "assumed EPSG:4490 because a CSV carries no CRS"
    assert accepted.json()["feature_count"] == 2
