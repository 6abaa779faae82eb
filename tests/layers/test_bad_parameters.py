"""Bad request parameters on the layer endpoints are a 400 naming the problem, never a 500 (issue 11 §3).

A small layer with a text, a date, a timestamp and a boolean field, read by its owner through the
real views and a real PostGIS: impossible dates, literals that do not fit a field's type, deep
CQL2 nesting, non-finite or swapped bboxes, ``flag=maybe``.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import numpy as np
import pyogrio
import pytest
import shapely
from rest_framework.test import APIClient

from catalog.api.params import parse_bbox, parse_bool
from catalog.errors import InvalidRequest
from catalog.keys import create_api_key
from geoplatform.layers.serving import cql2
from geoplatform.layers.serving.access import parse_moment

ITEMS = "/ogc/collections/typed/items"


@pytest.fixture
def typed(publish, tmp_path):
    """"typed": two points with name (text), day (date), ts (timestamp) and flag (boolean)."""
    path = tmp_path / "typed.gpkg"
    geometry = shapely.to_wkb(shapely.points(np.array([(116.30, 39.90), (116.40, 39.95)])))
    fields = [np.array(["甲", "乙"], dtype=object),
              np.array([dt.date(2026, 1, 5), dt.date(2026, 2, 1)], dtype="datetime64[D]"),
              np.array([dt.datetime(2026, 1, 5, 10), dt.datetime(2026, 2, 1, 12)], dtype="datetime64[ms]"),
              np.array([True, False])]
    pyogrio.raw.write(str(path), geometry, fields, ["name", "day", "ts", "flag"], driver="GPKG",
                      geometry_type="Point", crs="EPSG:4490")
    version = publish(path, slug="typed")
    assert {f["name"]: f["type"] for f in version.fields} == {"name": "text", "day": "date", "ts": "timestamp",
                                                               "flag": "boolean"}
    return version


@pytest.fixture
def owner(typed, department) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_api_key(department, 'app')[1]}")
    return client


def refused(response, *words: str) -> str:
    """The 400's detail, after checking it is JSON and names every one of ``words``."""
    assert response.status_code == 400, (response.status_code, response.content[:300])
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, (word, detail)
    return detail


def filtered(client, cql: str):
    return client.get(f"{ITEMS}?filter={quote(cql)}")


# --- impossible dates in datetime= / at= -------------------------------------------------------------

@pytest.mark.parametrize(("value", "reason"), [
    ("2026-02-30", "day is out of range for month"),
    ("2026-13-01", "month must be in 1..12"),
    ("2026-01-01T99:99:99Z", "hour must be in 0..23"),
    ("2026-01-01T10:00:00+25:00", "UTC offset must be within ±14:00"),
    ("9999-12-31T23:59:59-23:00", "UTC offset must be within ±14:00"),
    ("2026-02-30/..", "day is out of range"),
    ("garbage", "cannot be read as a date"),
])
def test_impossible_date_gets_400_on_items(owner, value, reason):
    refused(owner.get(ITEMS, {"datetime": value}), "datetime", repr(value.split("/")[0]), reason, "YYYY-MM-DD")


def test_impossible_date_gets_400_on_single_item(owner):
    refused(owner.get(f"{ITEMS}/1", {"datetime": "2026-02-30"}), "datetime '2026-02-30'", "out of range")


@pytest.mark.parametrize("url", ["/api/layers/typed/tiles/10/843/387.mvt", "/api/layers/typed/tilejson.json",
                                 "/api/layers/typed/download.geojson"])
def test_impossible_date_gets_400_on_tiles_tilejson_and_downloads(owner, url):
    refused(owner.get(url, {"at": "2026-02-30"}), "at '2026-02-30'", "day is out of range for month")


def test_interval_ending_before_it_starts_gets_400(owner):
    refused(owner.get(ITEMS, {"datetime": "2026-03-01/2026-02-01"}), "starts after it ends")


def test_valid_dates_still_read_the_version_then():
    assert parse_moment("2026-02-28") == parse_moment("2026-02-28T23:59:59.999999+08:00")  # a date: its end
    assert parse_moment("2024-02-29T08:00:00Z").hour == 8
    assert parse_moment("2026-01-01/..") is None and parse_moment("../2026-01-31").day == 31


def test_valid_datetime_reads_items(owner):
    assert owner.get(ITEMS, {"datetime": "../2099-12-31"}).json()["numberReturned"] == 2


# --- literals that do not fit a date/timestamp/boolean field ----------------------------------------

@pytest.mark.parametrize(("cql", "words"), [
    ("day = DATE('garbage')", ["field day is a date", "'garbage' is not a date (YYYY-MM-DD)"]),
    ("day = 'garbage'", ["field day is a date", "'garbage' is not a date (YYYY-MM-DD)"]),
    ("day > 5", ["field day is a date", "5 is not a date (YYYY-MM-DD)"]),
    ("day = DATE('2026-02-30')", ["field day is a date", "'2026-02-30'", "day is out of range for month"]),
    ("ts BETWEEN 'a' AND 'b'", ["field ts is a timestamp", "'a' is not a date-time"]),
    ("day IN ('x','y')", ["field day is a date", "'x' is not a date"]),
    ("flag = 'maybe'", ["field flag is a boolean", "'maybe' is not true or false", "true, 1, false, 0"]),
])
def test_literal_not_fitting_the_field_type_gets_400(owner, cql, words):
    assert refused(filtered(owner, cql), *words).startswith("filter: ")


def test_date_property_parameter_garbage_gets_400(owner):
    refused(owner.get(ITEMS, {"day": "garbage"}), "field day is a date: 'garbage' is not a date (YYYY-MM-DD)")


def test_boolean_property_parameter_maybe_gets_400_not_false(owner):
    refused(owner.get(ITEMS, {"flag": "maybe"}), "field flag is a boolean", "'maybe'", "true, 1, false, 0")


@pytest.mark.parametrize(("params", "names"), [
    ({"flag": "false"}, ["乙"]), ({"flag": "1"}, ["甲"]), ({"day": "2026-02-01"}, ["乙"]),
    ({"filter": "ts > TIMESTAMP('2026-01-20T00:00:00')"}, ["乙"]), ({"filter": "day <= DATE('2026-01-05')"}, ["甲"]),
    ({"filter": "ts BETWEEN '2026-01-01' AND '2026-01-06'"}, ["甲"]), ({"filter": "flag = TRUE"}, ["甲"]),
])
def test_typed_values_that_fit_still_select(owner, params, names):
    response = owner.get(ITEMS, params)
    assert response.status_code == 200, response.content
    assert [f["properties"]["name"] for f in response.json()["features"]] == names


def test_number_too_long_for_python_gets_400(owner):
    refused(filtered(owner, "day = " + "9" * 5000), "number too long")


# --- CQL2 nesting ------------------------------------------------------------------------------------

def test_filter_nested_250_parentheses_deep_gets_400(owner):
    cql = "(" * 250 + "name = '甲'" + ")" * 250
    refused(filtered(owner, cql), f"nested more than {cql2.MAX_DEPTH} levels deep")


def test_filter_with_1000_nots_gets_400(owner):
    cql = "NOT " * 1000 + "name = '甲'"
    assert len(cql) < 10_000
    refused(filtered(owner, cql), f"nested more than {cql2.MAX_DEPTH} levels deep")


def test_nesting_within_the_limit_still_works(owner):
    cql = "NOT " * 10 + "(" * 20 + "name = '甲'" + ")" * 20
    features = owner.get(ITEMS, {"filter": cql}).json()["features"]
    assert [f["properties"]["name"] for f in features] == ["甲"]  # ten NOTs cancel out


def test_timestamp_literal_with_an_impossible_offset_gets_400(owner):
    refused(filtered(owner, "ts > TIMESTAMP('2026-01-05T10:00:00-23:00')"), "field ts is a timestamp",
            "UTC offset must be within ±14:00")


@pytest.mark.parametrize("wkt", ["POINT(1e400 1)", "POINT(nan nan)", "LINESTRING(116 39, inf 40)"])
def test_wkt_with_a_non_finite_coordinate_gets_400(owner, wkt):
    refused(filtered(owner, f"S_INTERSECTS(geometry, {wkt})"), "coordinate that is not a finite number")


def test_bbox_function_with_infinite_number_gets_400(owner):
    refused(filtered(owner, "S_INTERSECTS(geometry, BBOX(116, 39, 1e999, 40))"), "BBOX needs four numbers, all finite")


# --- bbox ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("bbox", "words"), [
    ("nan,39,117,40", ["'nan' is not a finite number"]),
    ("116,inf,117,40", ["'inf' is not a finite number"]),
    ("116,-Infinity,117,40", ["'-Infinity' is not a finite number"]),
    ("116,41,117,39", ["south edge 41 is north of the north edge 39"]),
    ("117,39,116,40", ["west edge 117 is east of the east edge 116", "antimeridian"]),
    ("116,39,117", ["expected four numbers"]),
    ("116,39,east,40", ["'east' is not a number"]),
    ("39,116,40,117", ["latitude 116 is outside -90..90"]),
])
def test_bad_bbox_gets_400(owner, bbox, words):
    refused(owner.get(ITEMS, {"bbox": bbox}), "bbox", *words)


def test_bbox_in_lat_lon_crs_checked_after_reordering(owner):
    ok = owner.get(ITEMS, {"bbox": "39.8,116.2,40.1,116.6", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4490"})
    assert ok.json()["numberReturned"] == 2
    refused(owner.get(ITEMS, {"bbox": "116.2,39.8,116.6,40.1", "bbox-crs": "EPSG:4490"}),
            "latitude 116.2 is outside -90..90", "minlat,minlon,maxlat,maxlon with this bbox-crs")


def test_bbox_on_downloads_is_checked_too(owner):
    refused(owner.get("/api/layers/typed/download.geojson", {"bbox": "116,41,117,39"}), "south edge")


# --- the pure parsers --------------------------------------------------------------------------------

def test_parse_bbox_returns_west_south_east_north():
    assert parse_bbox("116.2,39.8,116.6,40.1") == (116.2, 39.8, 116.6, 40.1)
    assert parse_bbox("116.2,39.8,0,116.6,40.1,10") == (116.2, 39.8, 116.6, 40.1)
    assert parse_bbox("39.8,116.2,40.1,116.6", lat_first=True) == (116.2, 39.8, 116.6, 40.1)
    with pytest.raises(InvalidRequest, match="outside -180..180"):
        parse_bbox("100,0,200,10", limits=(-180, -90, 180, 90))


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("TRUE", True), ("1", True), ("false", False),
                                            ("0", False), (" False ", False), (True, True), (False, False)])
def test_parse_bool_reads_true_false_1_0(raw, value):
    assert parse_bool(raw, "flag") is value


@pytest.mark.parametrize("raw", ["maybe", "yes", "", "ture", "2"])
def test_parse_bool_refuses_anything_else(raw):
    with pytest.raises(InvalidRequest, match="flag must be true or false \\(or 1 / 0\\)"):
        parse_bool(raw, "flag")


@pytest.mark.parametrize(("value", "sql_type", "expected"), [
    ("2026-01-05", "date", "2026-01-05"), ("2026-01-05", "timestamp", "2026-01-05T00:00:00"),
    ("2026-01-05T10:00:00+08:00", "timestamp", "2026-01-05T10:00:00+08:00"), ("12", "integer", 12),
    (3.0, "bigint", 3), (2.5, "integer", 2.5), ("0", "boolean", False), (True, "boolean", True),
    ("1.5", "double precision", 1.5), (5, "text", "5"),
])
def test_typed_value_converts_what_fits(value, sql_type, expected):
    assert cql2.typed_value(value, sql_type, "f") == expected


@pytest.mark.parametrize(("value", "sql_type"), [
    ("2026-1-5", "date"), ("20260105", "date"), (True, "integer"), ("x", "double precision"), (2, "boolean"),
    ("2026-01-05T25:00", "timestamp"), (7, "timestamp"),
])
def test_typed_value_refuses_what_does_not_fit(value, sql_type):
    with pytest.raises(InvalidRequest, match=f"field f is .*: {value!r} is not"):
        cql2.typed_value(value, sql_type, "f")


# --- NUL characters ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "name"), [("filter=name%3D'%00'", "filter"), ("name=%00", "name"),
                                             ("name=%E7%94%B2%00", "name")])
def test_nul_in_a_filter_or_property_parameter_gets_400(owner, query, name):
    refused(owner.get(f"{ITEMS}?{query}"), f"query parameter {name!r} contains a NUL character (%00)")
