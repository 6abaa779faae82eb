"""Point tiles are built without a per-row ST_Transform: the same tile coordinates as PostGIS's ST_AsMVTGeom."""

from __future__ import annotations

import math

import pytest
from django.db import connection

from geoplatform.layers.serving.tiles import EXTENT, _geometry_sql, tile_params


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
