"""Point tiles are built without a per-row ST_Transform: the same tile coordinates as PostGIS's ST_AsMVTGeom."""

from __future__ import annotations

import math

import pyogrio
import pytest
import shapely
from django.db import connection

from geoplatform.layers.serving.tiles import EXTENT, _geometry_sql, tile_params
from tests.layers.conftest import geojson, write_points


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    return z, int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


@pytest.mark.parametrize("z", [0, 6, 10, 14, 18, 22])
def test_point_tile_coordinates_equal_st_asmvtgeom(published, z):
    table = published.layer.table
    z, x, y = tile_of(116.4, 39.95, z)
    ours = _geometry_sql("Point", z)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT gp_key, ST_AsText({ours}), ST_AsText(ST_AsMVTGeom(ST_Transform(t.gp_geom, 3857), "
            f"ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {EXTENT}, 64, true)) FROM {table} t WHERE t.gp_geom && "
            f"ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / {EXTENT}), 4490) ORDER BY 1",
            tile_params(z, x, y))
        rows = cursor.fetchall()
    assert rows, "the tile holds the A2 point"
    assert [r[1] for r in rows] == [r[2] for r in rows]


def test_tiles_for_the_same_caller_and_version_come_from_the_cache(published, django_assert_num_queries):
    from rest_framework.test import APIClient

    from catalog.keys import create_api_key

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_api_key(published.layer.owner, 'map')[1]}")
    first = client.get("/api/layers/companies/tiles/10/843/387.mvt")
    assert first.status_code == 200 and first.content
    with django_assert_num_queries(1):  # the layer's current version; no key lookup, decision or tile query
        again = client.get("/api/layers/companies/tiles/10/843/387.mvt")
    assert again.content == first.content


def decoded(tile: bytes, path) -> list[tuple]:
    """The features of an MVT tile as GDAL's MVT driver reads them: (id, geometry WKT, attributes), by id."""
    if not tile:
        return []
    path.write_bytes(tile)
    meta, fids, geometry, values = pyogrio.raw.read(path, return_fids=True)
    names = [str(n) for n in meta["fields"]]
    rows = []
    for i, fid in enumerate(fids):
        attributes = {n: v[i] for n, v in zip(names, values, strict=True) if v[i] is not None and v[i] == v[i]}
        rows.append((int(fid), shapely.from_wkb(geometry[i]).wkt, attributes))
    return sorted(rows, key=lambda r: r[0])


def access_of(version, transforms: dict | None = None):
    """A read of ``version`` with every field visible, masked by ``transforms`` (as a grant would)."""
    from geoplatform.layers.serving.access import LayerAccess, visible_fields

    decision = type("Decision", (), {"visible_fields": None, "transforms": transforms or {}})
    return LayerAccess(version.layer, version, decision, visible_fields(version, decision))


TRICKY = [  # values that test the CSV path and the value encodings: NULLs, empty text, quotes, commas, newlines
    {"name": "甲,公司", "note": 'say "hi"', "staff": 10, "delta": -3, "ratio": 1.5, "open": True, "day": "2024-01-02"},
    {"name": "", "note": "line1\nline2", "staff": None, "delta": 0, "ratio": -0.25, "open": False, "day": None},
    {"name": None, "note": "\\N", "staff": 10, "delta": -3, "ratio": None, "open": None, "day": "2023-12-31"},
    {"name": "乙\\路\\\\x", "note": "t", "staff": 2**40, "delta": 7, "ratio": 1e-9, "open": True, "day": "2024-01-02"},
    {"name": "x)\n(y", "note": "(", "staff": -1, "delta": -2**40, "ratio": 3.0, "open": False, "day": "2024-01-02"},
]


@pytest.mark.django_db(transaction=True)  # the Arrow path reads on its own connection: the rows must be committed
@pytest.mark.parametrize("z", [10, 14])
def test_point_tiles_encoded_from_arrow_decode_like_st_asmvt(publish, tmp_path, monkeypatch, z):
    from geoplatform.layers import conf
    from geoplatform.layers.serving.tiles import arrow_point_tile, tile_sql, uses_arrow

    monkeypatch.setattr(conf, "ARROW_TILE_MIN_FEATURES", 0)
    points = [(116.40 + i * 0.0005, 39.95 + i * 0.0003) for i in range(len(TRICKY))]
    path = geojson(tmp_path / "tricky.geojson", [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": p}, "properties": props}
        for p, props in zip(points, TRICKY, strict=True)])
    version = publish(path, slug="tricky")
    access = access_of(version, {"note": {"kind": "mask", "keep_last": 1}})
    z, x, y = tile_of(116.4, 39.95, z)
    assert uses_arrow(access, z)
    ours = arrow_point_tile(access, z, x, y)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(tile_sql(access, z).as_string(raw.connection), tile_params(z, x, y))
        reference = bytes(raw.fetchone()[0] or b"")
    assert reference and ours and arrow_point_tile(access, 10, 0, 0) == b""
    expected = decoded(reference, tmp_path / "reference.mvt")
    assert len(expected) == len(TRICKY)
    assert decoded(ours, tmp_path / "ours.mvt") == expected
    assert expected[1][2]["note"] == "**********2"  # masked in SQL: "line1\nline2" never leaves in clear
    assert [r[2].get("name") for r in expected][3:] == ["乙\\路\\\\x", "x)\n(y"]


def test_tiles_inside_a_transaction_are_read_on_djangos_connection(published):
    from geoplatform.layers.serving.tiles import uses_arrow

    version = published.layer.versions.get(number=1)
    access = access_of(version)
    assert not uses_arrow(access, 0)  # this test runs in a transaction: its rows are not committed


@pytest.mark.django_db(transaction=True)
def test_tile_endpoint_serves_the_arrow_encoded_tile(publish, department, other_department, tmp_path, monkeypatch):
    from rest_framework.test import APIClient

    from catalog.keys import create_api_key
    from geoplatform.layers import conf
    from geoplatform.layers.serving.tiles import arrow_point_tile

    monkeypatch.setattr(conf, "ARROW_TILE_MIN_FEATURES", 0)
    version = publish(write_points(tmp_path / "p.gpkg"), key="code")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_api_key(department, 'map')[1]}")
    z, x, y = tile_of(116.4, 39.95, 10)
    response = client.get(f"/api/layers/companies/tiles/{z}/{x}/{y}.mvt")
    assert response.status_code == 200
    owner_view = access_of(version)
    assert response.content == arrow_point_tile(owner_view, z, x, y)
    assert [r[2]["code"] for r in decoded(response.content, tmp_path / "t.mvt")] == ["A2", "A3"]  # A1 lies west
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {create_api_key(other_department, 'map')[1]}")
    assert other.get(f"/api/layers/companies/tiles/{z}/{x}/{y}.mvt").status_code == 403


def test_arrow_connection_takes_djangos_database_settings_and_tls_options():
    from geoplatform.layers.serving.tiles import arrow_conninfo

    conninfo = arrow_conninfo({"NAME": "gp", "USER": "web", "PASSWORD": "p w'd", "HOST": "db.internal", "PORT": 5432,
                               "OPTIONS": {"sslmode": "verify-full", "pool": True, "isolation_level": 1}})
    assert "sslmode=verify-full" in conninfo and "dbname=gp" in conninfo and "port=5432" in conninfo
    assert "pool" not in conninfo and "isolation" not in conninfo
    assert "password='p w\\'d'" in conninfo


def test_a_failing_arrow_path_falls_back_to_st_asmvt_and_rests(published, monkeypatch):
    from geoplatform.layers.serving import tiles

    version = published.layer.versions.get(number=1)
    access = access_of(version)
    monkeypatch.setitem(tiles._ARROW_FAILED, "until", 0.0)
    monkeypatch.setattr(tiles, "uses_arrow", lambda access, z: True)

    def refused():
        raise ConnectionError("connection refused")

    monkeypatch.setattr(tiles, "_arrow_cursor", refused)
    z, x, y = tile_of(116.4, 39.95, 10)
    tile = tiles.render_tile(access, z, x, y)
    with connection.cursor() as cursor:
        cursor.cursor.execute(tiles.tile_sql(access, z).as_string(cursor.cursor.connection), tiles.tile_params(z, x, y))
        assert tile == bytes(cursor.cursor.fetchone()[0])
    assert tiles._ARROW_FAILED["until"] > 0  # the next minute's tiles do not try again
