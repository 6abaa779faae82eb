"""Which coordinate systems a layer may arrive in, and the move to the storage CRS CGCS2000 (EPSG:4490).

Only EPSG codes on the allow-list are accepted (GDAL < 3.9 cannot be told to refuse file or
network access while parsing arbitrary CRS strings; see settings.SILENCED_SYSTEM_CHECKS).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

from geoplatform.layers.conf import platform_extent
from geoplatform.layers.importing.errors import ImportRejected

STORAGE_SRID = 4490


def _codes() -> dict[int, str]:
    codes = {4490: "CGCS2000", 4326: "WGS 84", 3857: "WGS 84 / Web Mercator (Pseudo-Mercator)",
             4214: "Beijing 1954", 4610: "Xi'an 1980"}
    families = [
        (range(4491, 4502), "CGCS2000 / Gauss-Krüger 6° zone (with zone prefix)"),
        (range(4502, 4513), "CGCS2000 / Gauss-Krüger 6° CM"),
        (range(4513, 4534), "CGCS2000 / Gauss-Krüger 3° zone (with zone prefix)"),
        (range(4534, 4555), "CGCS2000 / Gauss-Krüger 3° CM"),
        (range(21413, 21424), "Beijing 1954 / Gauss-Krüger 6° zone"),
        (range(21453, 21464), "Beijing 1954 / Gauss-Krüger 6° CM"),
        (range(2401, 2422), "Beijing 1954 / Gauss-Krüger 3° zone"),
        (range(2422, 2443), "Beijing 1954 / Gauss-Krüger 3° CM"),
        (range(2327, 2338), "Xi'an 1980 / Gauss-Krüger 6° zone"),
        (range(2338, 2349), "Xi'an 1980 / Gauss-Krüger 6° CM"),
        (range(2349, 2370), "Xi'an 1980 / Gauss-Krüger 3° zone"),
        (range(2370, 2391), "Xi'an 1980 / Gauss-Krüger 3° CM"),
    ]
    for numbers, label in families:
        codes.update({n: label for n in numbers})
    return codes


ALLOWED_EPSG: dict[int, str] = _codes()


def parse_epsg(text: str) -> int:
    """``EPSG:4545`` (or ``4545``) -> 4545 if allowed; ImportRejected naming the allow-list otherwise."""
    value = text.strip().upper().removeprefix("EPSG:")
    if not value.isdigit():
        raise ImportRejected(f"CRS {text!r} is not an EPSG code: write it as EPSG:NNNN (e.g. EPSG:4490)")
    code = int(value)
    if code not in ALLOWED_EPSG:
        raise ImportRejected(f"EPSG:{code} is not an accepted CRS: use CGCS2000 (EPSG:4490 or a Gauss-Krüger "
                             "zone 4491-4554), Beijing 1954, Xi'an 1980, WGS 84 (4326) or Web Mercator (3857)")
    return code


def epsg_of_source(crs_text: str | None) -> int | None:
    """The EPSG code of a file's declared CRS (an ``EPSG:n`` string or WKT from GDAL), None when undeclared."""
    if not crs_text:
        return None
    if crs_text.upper().startswith("EPSG:"):
        return parse_epsg(crs_text)
    try:
        code = CRS.from_wkt(crs_text).to_epsg(min_confidence=70)
    except Exception:  # noqa: BLE001 - pyproj raises several types for unreadable WKT
        code = None
    if code is None:
        raise ImportRejected("the file's CRS is not recognised as an EPSG code: declare it with --crs EPSG:NNNN")
    return parse_epsg(str(code))


@lru_cache(maxsize=64)
def _transformer(source: int) -> Transformer:
    return Transformer.from_crs(source, STORAGE_SRID, always_xy=True)


@lru_cache(maxsize=64)
def is_geographic(epsg: int) -> bool:
    return CRS.from_epsg(epsg).is_geographic


def check_source_coordinates(geoms: np.ndarray, epsg: int, first_index: int) -> None:
    """Degrees out of range are a clear error before any transformation (e.g. a GeoJSON with lat 200)."""
    if not is_geographic(epsg):
        return
    coords_bounds = shapely.bounds(geoms)
    bad = (np.abs(coords_bounds[:, [0, 2]]) > 180).any(axis=1) | (np.abs(coords_bounds[:, [1, 3]]) > 90).any(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        x0, y0, x1, y1 = coords_bounds[i]
        big = max(abs(x0), abs(x1), abs(y0), abs(y1))
        swapped = abs(x0) <= 90 and abs(x1) <= 90 and abs(y0) <= 180 and abs(y1) <= 180
        hint = ("x/y swapped: the file has latitude first; swap the columns or axes" if swapped else
                "these look like projected coordinates (metres) declared as degrees: declare the projected CRS "
                "with --crs, e.g. a Gauss-Krüger zone EPSG:4527" if big > 1000 else
                "latitude must be within ±90 and longitude within ±180")
        what = "latitude" if abs(y0) > 90 or abs(y1) > 90 else "longitude"
        value = y1 if abs(y1) > 90 else y0 if what == "latitude" else (x1 if abs(x1) > 180 else x0)
        raise ImportRejected(f"feature {first_index + i + 1}: {what} {value:g} out of range in EPSG:{epsg}; {hint}")


def to_storage(geoms: np.ndarray, epsg: int) -> np.ndarray:
    """Geometries transformed from ``epsg`` to CGCS2000 (vectorised over all coordinates)."""
    if epsg == STORAGE_SRID:
        return geoms
    transformer = _transformer(epsg)

    def move(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, move)


def transform_xy(x: np.ndarray, y: np.ndarray, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates moved from ``epsg`` to CGCS2000 (the point fast path of the reader)."""
    return _transformer(epsg).transform(x, y)


def check_extent(stored: np.ndarray, source: np.ndarray, epsg: int, first_index: int) -> None:
    """Every feature must lie in the platform extent; otherwise say the likely cause."""
    west, south, east, north = platform_extent()
    b = shapely.bounds(stored)
    present = ~shapely.is_missing(stored)
    outside = present & ((b[:, 0] < west) | (b[:, 2] > east) | (b[:, 1] < south) | (b[:, 3] > north)
                       | ~np.isfinite(b).all(axis=1))
    if not outside.any():
        return
    i = int(np.flatnonzero(outside)[0])
    raise ImportRejected(f"feature {first_index + i + 1} lies outside the platform extent "
                         f"({west:g},{south:g},{east:g},{north:g}) after transforming from EPSG:{epsg}: "
                         + likely_cause(shapely.bounds(source[i]), epsg))


def likely_cause(bounds: np.ndarray, epsg: int) -> str:
    """A guess at why coordinates land outside the extent, from their values in the declared CRS."""
    west, south, east, north = platform_extent()
    x0, y0, x1, y1 = bounds
    if is_geographic(epsg):
        if west <= y0 <= east and south <= x0 <= north:
            return "x/y swapped: the file has latitude first; swap the columns or axes"
        return "the coordinates are not in China in this CRS; check the declared CRS"
    if abs(x0) <= 180 and abs(y0) <= 90:
        return "degrees declared as a projected CRS: declare a geographic CRS such as EPSG:4490"
    if epsg != 3857 and y0 < 1e6 and x0 > 1e6:
        return "x/y swapped: northing comes first in this file"
    family = ALLOWED_EPSG.get(epsg, "")
    if "zone" in family and x0 < 1e6:
        return "easting without the Gauss-Krüger zone number: declare the CM variant of the zone (e.g. EPSG:4545)"
    if "CM" in family and x0 > 1e7:
        return "easting carries a Gauss-Krüger zone number: declare the zone variant (e.g. EPSG:4527)"
    return "the declared CRS (or zone) does not match the data; check which zone the file uses"
