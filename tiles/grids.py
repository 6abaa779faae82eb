"""The tile grids imagery is served in: Web Mercator, and the CGCS2000 geographic grid of Chinese government
services (天地图 'c' sets).

- ``WebMercatorQuad`` (EPSG:3857), the grid of web maps; the COGs are aligned to it.
- ``c``: EPSG:4490 longitude/latitude, levels 1-18, top-left corner 90°N 180°W, 256-pixel tiles,
  2^L × 2^(L-1) tiles at level L, cell size 0.703125/2^(L-1) degrees. Its scale denominators are the ones
  天地图 publishes (2.958293554545656E8/2^(L-1)), which assume a 96 dpi screen; Chinese GIS clients
  recognise the set by them.
- ``CGCS2000Quad``: the same tiles (same URLs, same pixels) with scale denominators computed from OGC's
  0.28 mm pixel. GDAL's WMTS driver and QGIS derive a level's resolution from its scale denominator with
  that pixel size, so with the 96 dpi values of ``c`` they place every tile 5.8 % off; they read this one right.

morecantile has no such set; the definitions are TMS 2.0 documents validated by morecantile, so titiler's
factory serves them like its built-in sets.
"""

from __future__ import annotations

import math

import morecantile
from morecantile import TileMatrixSet

WEB_MERCATOR = "WebMercatorQuad"
CGCS2000 = "c"
CGCS2000_OGC = "CGCS2000Quad"
CGCS2000_LEVELS = range(1, 19)
TIANDITU_LEVEL1_SCALE = 2.958293554545656e8
OGC_PIXEL_METRES = 0.28e-3
METRES_PER_DEGREE = 2 * math.pi * 6378137 / 360


def _cgcs2000(identifier: str, title: str, ogc_scales: bool) -> TileMatrixSet:
    matrices = []
    for level in CGCS2000_LEVELS:
        cell = 0.703125 / 2 ** (level - 1)
        scale = cell * METRES_PER_DEGREE / OGC_PIXEL_METRES if ogc_scales else TIANDITU_LEVEL1_SCALE / 2 ** (level - 1)
        matrices.append({"id": str(level), "scaleDenominator": scale, "cellSize": cell, "cornerOfOrigin": "topLeft",
                         "pointOfOrigin": [90.0, -180.0], "tileWidth": 256, "tileHeight": 256,
                         "matrixWidth": 2 ** level, "matrixHeight": 2 ** (level - 1)})
    return TileMatrixSet.model_validate({
        "id": identifier, "title": title, "crs": "http://www.opengis.net/def/crs/EPSG/0/4490",
        "orderedAxes": ["Lat", "Lon"], "tileMatrices": matrices})


GRIDS: dict[str, TileMatrixSet] = {
    WEB_MERCATOR: morecantile.tms.get(WEB_MERCATOR),
    CGCS2000: _cgcs2000(CGCS2000, "CGCS2000 geographic (天地图 c), 96 dpi scales", ogc_scales=False),
    CGCS2000_OGC: _cgcs2000(CGCS2000_OGC, "CGCS2000 geographic, OGC scales (same tiles as c)", ogc_scales=True),
}
SUPPORTED_CRS = {WEB_MERCATOR: "urn:ogc:def:crs:EPSG::3857", CGCS2000: "urn:ogc:def:crs:EPSG::4490",
                 CGCS2000_OGC: "urn:ogc:def:crs:EPSG::4490"}
# The grid whose tiles a path names: CGCS2000Quad is served from c's tile URLs.
TILE_GRID = {WEB_MERCATOR: WEB_MERCATOR, CGCS2000: CGCS2000, CGCS2000_OGC: CGCS2000}


class SharedTileMatrixSets(morecantile.TileMatrixSets):
    """morecantile's registry without its per-call deep copy (~0.5 ms a tile): the grids here are never changed."""

    def get(self, identifier: str) -> TileMatrixSet:
        if identifier not in self.tilematrixsets:
            return super().get(identifier)  # the same InvalidIdentifier
        return self.tilematrixsets[identifier]


def supported_tms() -> morecantile.TileMatrixSets:
    """What titiler's factory serves: the grids that have their own tile URLs."""
    return SharedTileMatrixSets({name: GRIDS[name] for name in (WEB_MERCATOR, CGCS2000)})


def levels(grid: str, minzoom: int, maxzoom: int) -> range:
    """The levels of ``grid`` a dataset made for Web Mercator zooms minzoom..maxzoom is served at.

    A CGCS2000 level L has the resolution of Web Mercator zoom L at the equator (both halve per level, and
    level 1 of ``c`` is 0.703125°/px like zoom 1), so the same numbers apply, within the grid's 1..18.
    """
    tms = GRIDS[grid]
    return range(max(minzoom, tms.minzoom), min(maxzoom, tms.maxzoom) + 1)


def tile_limits(grid: str, bounds: tuple[float, float, float, float], zoom: int) -> tuple[int, int, int, int]:
    """(min row, max row, min col, max col) of ``grid``'s tiles at ``zoom`` that cover lon/lat ``bounds``."""
    tms = GRIDS[grid]
    west, south, east, north = bounds
    first, last = tms.tile(west, north, zoom), tms.tile(east, south, zoom)
    return first.y, last.y, first.x, last.x


def bounding_box(grid: str, bounds: tuple[float, float, float, float]) -> tuple[tuple[float, float], tuple[float, float]]:
    """The lon/lat ``bounds`` in ``grid``'s CRS, axis order as WMTS writes it (EPSG:4490: latitude first)."""
    west, south, east, north = bounds
    if grid == WEB_MERCATOR:
        tms = GRIDS[grid]
        left, bottom = tms.xy(west, south)
        right, top = tms.xy(east, north)
        return (left, bottom), (right, top)
    return (south, west), (north, east)
