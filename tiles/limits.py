"""What an imagery request may ask of titiler: the bounded subset department apps draw maps with.

titiler accepts every option rio-tiler has, and some cost a lot: ``tilesize=8192`` took 41 s of
CPU for one tile, ``tilesize=100000`` or ``buffer=100000`` asked for 27.9 GiB, ``bidx=99`` or a
3,000-term ``expression`` ended in a 500. The service offers only 256- and 512-pixel tiles, the
advertised image formats, one band (grey) or three (red, green, blue) within the dataset's bands,
a few resampling kernels and a display stretch (``rescale``). Everything else titiler knows is
refused with a 400 that says what is allowed; names titiler does not know are ignored (cache
busters such as ``?v=2`` must keep working). Pure functions: the app calls them from a router
dependency (query and path) and from its reader (band numbers, which only the opened file knows).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from catalog.errors import InvalidRequest
from tiles.capabilities import FORMATS

TILE_SIZES = (256, 512)
IMAGE_FORMATS = tuple(FORMATS)  # png, jpg, jpeg, webp: what TileJSON and WMTS advertise
RESAMPLING = ("nearest", "bilinear", "cubic")
BAND_COUNTS = (1, 3)  # grey, or red/green/blue: what PNG, JPEG and WebP all encode
MAX_BAND_NUMBER = 999
INFO_CRS = ("EPSG:4326", "EPSG:4490", "EPSG:3857")
BOOLEANS = ("true", "false", "1", "0", "yes", "no", "on", "off")
RESCALE_RE = re.compile(r"^\[?\s*([^,\[\]]+?)\s*,\s*([^,\[\]]+?)\s*\]?$")

OFFERED = (f"tilesize ({' or '.join(map(str, TILE_SIZES))}), bidx (one band or three), "
           f"resampling ({', '.join(RESAMPLING)}), rescale (min,max per band), return_mask (true/false)")

# titiler parameters the service does not offer, and what to do instead.
REFUSED = {
    "expression": "band math (expression) is not offered: choose bands with bidx, one (grey) or three "
                  "(red, green, blue), e.g. bidx=3&bidx=2&bidx=1",
    "buffer": "tile buffers are not offered: tiles are 256 or 512 pixels (tilesize=256 or tilesize=512)",
    "padding": "tile padding is not offered: choose resampling=nearest, bilinear or cubic instead",
    "colormap": "colormaps are not offered: imagery is drawn in its own colours (choose bands with bidx)",
    "colormap_name": "colormaps are not offered: imagery is drawn in its own colours (choose bands with bidx)",
    "color_formula": "color formulas are not offered: stretch values with rescale=min,max",
    "algorithm": "algorithms are not offered on imagery tiles",
    "algorithm_params": "algorithms are not offered on imagery tiles",
    "nodata": "nodata cannot be overridden: the dataset's own nodata and mask are used",
    "unscale": "unscale is not offered: the dataset's values are drawn as stored",
    "reproject": "reproject is not offered: imagery is stored in the tile grid, nothing is reprojected",
}


def _refuse(name: str, value: str, allowed: str) -> InvalidRequest:
    shown = value if len(value) <= 40 else value[:40] + "…"
    return InvalidRequest(f"{name}={shown} is not allowed: {allowed}")


def check_format(fmt: str | None) -> None:
    """Only the image formats TileJSON and WMTS advertise; raw data (.tif, .npy, pngraw) is not served at all.

    A raw-data tile is a download of the pixels counted as a map tile (no download decision, no
    audit row), so it is not offered to anyone rather than only to authenticated callers.
    """
    if fmt is not None and fmt not in IMAGE_FORMATS:
        raise _refuse("format", fmt, f"imagery tiles are {', '.join(IMAGE_FORMATS)} "
                                     "(raw-data formats such as tif and npy are not served)")


def _check_tilesize(value: str) -> None:
    if value not in {str(size) for size in TILE_SIZES}:
        raise _refuse("tilesize", value, f"tiles are {' or '.join(map(str, TILE_SIZES))} pixels")


def _check_rescale(values: Sequence[str]) -> None:
    if len(values) > max(BAND_COUNTS):
        raise InvalidRequest(f"rescale is given {len(values)} times: at most {max(BAND_COUNTS)} "
                             "(one min,max per band drawn)")
    for value in values:
        match = RESCALE_RE.match(value)
        try:
            low, high = (float(match.group(1)), float(match.group(2))) if match else (math.nan, math.nan)
        except ValueError:
            low = high = math.nan
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise _refuse("rescale", value, "rescale=min,max with two finite numbers, min below max "
                                            "(e.g. rescale=0,255)")


def check_band_selection(values: Sequence[str]) -> list[int]:
    """The ``bidx`` values as band numbers: one (grey) or three (red, green, blue), each 1 or more."""
    allowed = "one band (grey) or three (red, green, blue), each a band number from 1, e.g. bidx=1&bidx=2&bidx=3"
    if len(values) not in BAND_COUNTS:
        raise InvalidRequest(f"bidx is given {len(values)} times: choose {allowed}")
    bands = []
    for value in values:
        if not value.isdigit() or not 1 <= int(value) <= MAX_BAND_NUMBER:
            raise _refuse("bidx", value, f"choose {allowed}")
        bands.append(int(value))
    return bands


def check_bands_exist(bands: Iterable[int], band_count: int) -> None:
    """Every selected band is one of the dataset's (rio-tiler would raise IndexError, a 500)."""
    for band in bands:
        if not 1 <= band <= band_count:
            plural = "band" if band_count == 1 else "bands"
            raise _refuse("bidx", str(band), f"this imagery has {band_count} {plural} "
                                             f"(bidx 1 to {band_count})")


def check_zoom(z: str | None, grid: str, min_zoom: int, max_zoom: int) -> None:
    """A zoom level of the grid: morecantile overflows (a 500) on a level such as 10**22."""
    if z is not None and z.lstrip("-").isdigit() and not min_zoom <= int(z) <= max_zoom:
        raise _refuse("z", z, f"the {grid} grid has zoom levels {min_zoom} to {max_zoom}")


def check_request(query: Iterable[tuple[str, str]], path_format: str | None = None) -> None:
    """Raise InvalidRequest (400, saying what is allowed) unless every titiler parameter is in the offered subset."""
    check_format(path_format)
    grouped: dict[str, list[str]] = {}
    for name, value in query:
        grouped.setdefault(name, []).append(value)
    for name, values in grouped.items():
        if name in REFUSED:
            raise InvalidRequest(f"{REFUSED[name]} (offered: {OFFERED})")
        if name == "format":
            for value in values:
                check_format(value)
        elif name == "tilesize":
            for value in values:
                _check_tilesize(value)
        elif name == "bidx":
            check_band_selection(values)
        elif name == "resampling":
            for value in values:
                if value not in RESAMPLING:
                    raise _refuse("resampling", value, f"one of {', '.join(RESAMPLING)}")
        elif name == "rescale":
            _check_rescale(values)
        elif name == "return_mask":
            for value in values:
                if value.lower() not in BOOLEANS:
                    raise _refuse("return_mask", value, "true or false")
        elif name == "crs":
            for value in values:
                if value.upper() not in INFO_CRS:
                    raise _refuse("crs", value, f"one of {', '.join(INFO_CRS)}")
