"""What real flights deliver, made displayable: 16-bit and 4-band (RGB + near-infrared) scenes become an
8-bit picture of one or three bands before the COG is written; the source itself is kept as it came.

Tiles are JPEG, PNG or WebP, which hold 8-bit values in one band (grey) or three (red, green, blue). A
16-bit scene is stretched per band from its 2nd to its 98th percentile (sampled on a reduced read, the
pixels outside the scene's mask left out), the usual default of desktop GIS for such imagery; a 4-band
scene shows its red, green and blue bands (named so by their colour interpretation, else the first three).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import ColorInterp
from rasterio.windows import Window

PERCENTILES = (2.0, 98.0)
SAMPLE_PIXELS = 1024  # the longer side of the reduced read the stretch is sampled on
RGB = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)


@dataclass(frozen=True)
class DisplayPlan:
    """Which source bands make the picture, and each one's stretch (low, high) to 0..255 (None: as it is)."""

    bands: tuple[int, ...]
    stretch: tuple[tuple[float, float], ...] | None


def display_bands(count: int, colorinterp: tuple[ColorInterp, ...]) -> tuple[int, ...]:
    """The bands a picture is made of: red, green and blue by colour interpretation, else the first three
    (or the one band of a single-band scene); alpha bands are the mask, not colours."""
    colours = [i + 1 for i, c in enumerate(colorinterp) if c != ColorInterp.alpha]
    named = [colorinterp.index(c) + 1 for c in RGB if c in colorinterp]
    if len(named) == 3:
        return tuple(named)
    return tuple(colours[:3]) if len(colours) >= 3 else tuple(colours[:1])


CAMERA_DTYPES = ("uint8", "uint16", "int16")  # what aerial cameras deliver; floats are measurements (a DEM): kept


def needs_display_copy(count: int, dtype: str, colorinterp: tuple[ColorInterp, ...]) -> bool:
    """Whether a camera's scene must be converted: 16-bit, or bands beyond the picture's (e.g. near-infrared).
    Float rasters are left as they are (their tiles are stretched per request with ``rescale``)."""
    if dtype not in CAMERA_DTYPES:
        return False
    return dtype != "uint8" or len(display_bands(count, colorinterp)) != len(
        [c for c in colorinterp if c != ColorInterp.alpha])


def plan_display(src: rasterio.DatasetReader) -> DisplayPlan:
    """The bands and, for anything but 8-bit, each band's percentile stretch measured on a reduced read."""
    bands = display_bands(src.count, tuple(src.colorinterp))
    if src.dtypes[0] == "uint8":
        return DisplayPlan(bands, None)
    scale = max(src.width, src.height) / SAMPLE_PIXELS
    shape = (max(1, int(src.height / max(scale, 1))), max(1, int(src.width / max(scale, 1))))
    sample = src.read(bands, out_shape=(len(bands), *shape), masked=True)
    stretch = []
    for band in sample:
        values = band.compressed().astype("float64")
        values = values[np.isfinite(values)]
        if values.size == 0:
            stretch.append((0.0, 1.0))
            continue
        low, high = np.percentile(values, PERCENTILES)
        stretch.append((float(low), float(high) if high > low else float(low) + 1.0))
    return DisplayPlan(bands, tuple(stretch))


def write_display_copy(source: Path, target: Path, block: int = 1024) -> DisplayPlan:
    """An 8-bit GeoTIFF of the scene's picture at ``target`` (tiled, with the scene's mask), block by block."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(source) as src:
        plan = plan_display(src)
        profile = {"driver": "GTiff", "width": src.width, "height": src.height, "count": len(plan.bands),
                   "dtype": "uint8", "crs": src.crs, "transform": src.transform, "tiled": True, "blockxsize": 512,
                   "blockysize": 512, "compress": "deflate", "BIGTIFF": "IF_SAFER"}
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(target, "w", **profile) as dst:
            for row in range(0, src.height, block):
                for col in range(0, src.width, block):
                    window = Window(col, row, min(block, src.width - col), min(block, src.height - row))
                    data = src.read(plan.bands, window=window, masked=True)
                    dst.write(_to_bytes(data, plan), window=window)
                    dst.write_mask(np.where(np.ma.getmaskarray(data).any(axis=0), 0, 255).astype("uint8"),
                                   window=window)
    return plan


def _to_bytes(data: np.ma.MaskedArray, plan: DisplayPlan) -> np.ndarray:
    if plan.stretch is None:
        return np.ma.filled(data, 0).astype("uint8")
    out = np.empty(data.shape, dtype="uint8")
    for i, (low, high) in enumerate(plan.stretch):
        scaled = (np.ma.filled(data[i], low).astype("float64") - low) * (255.0 / (high - low))
        out[i] = np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).round().astype("uint8")
    return out
