"""GeoTIFF -> COG ingest: check the file, write a validated COG atomically, register it for a year.

The COG is aligned to the WebMercatorQuad tile grid (EPSG:3857, rio-cogeo's ``tms`` option),
resampled once here instead of on every tile request: reading a tile from a COG in lon/lat
cost about 100 ms of CPU against 3 ms from the aligned one (8000x8000 JPEG COG, z14-17). The
source CRS is kept in the registry; an internal mask marks the image's footprint, so the grid's
padding is transparent.

Every check runs before anything is written, and the COG is built in a scratch file on local disk
and published to its location (tiles.storage: renamed into the imagery folder, or uploaded to the
S3 bucket) only once rio-cogeo has validated it; the registry row and the catalog entry change in
one transaction after that. A refused, failed or interrupted ingest therefore changes nothing: no
file or object, no row, no entry. A replaced year gets a new name, so tile readers of the old file
are never served a half-written one; the old file is removed after the commit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import rasterio
from django.db import transaction
from rasterio._err import CPLE_BaseError
from rasterio.enums import ColorInterp, MaskFlags
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.profiles import cog_profiles
from rio_tiler.io import Reader

from catalog.entries import mark_published, register_entry
from catalog.errors import AccessDenied, CatalogError, Conflict, InvalidRequest
from catalog.models import Department, Entry
from tiles import conf, display, grids, storage
from tiles.models import ImageryDataset

log = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
OVERVIEW_NOT_TILED = re.compile(r"Overview of index (\d+) is not tiled")
YEARS = range(1900, 2101)


class IngestError(CatalogError):
    """The file cannot become a COG of the collection (not a GeoTIFF, no CRS, corrupt...); the message says why."""

    status = 400


@dataclass(frozen=True)
class IngestRequest:
    owner: Department
    collection: str
    year: int
    source: Path
    title: str = ""
    replace: bool = False
    progress: bool = False
    sharing: str = Entry.Sharing.APPLICATION  # for a new collection; `geoplatform catalog set` changes it later


@dataclass(frozen=True)
class SourceInfo:
    """What the checks learned about the source file."""

    crs: str
    bounds: tuple[float, float, float, float]  # CGCS2000 lon/lat
    band_count: int
    dtype: str
    profile: str  # rio-cogeo profile name


def inspect_source(path: Path) -> SourceInfo:
    """Refuse anything but a georeferenced GeoTIFF inside the platform's extent, naming the cause."""
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    try:
        with rasterio.open(path) as src:
            if src.driver != "GTiff":
                raise IngestError(f"{path.name} is not a GeoTIFF (GDAL reads it as {src.driver})")
            if src.crs is None:
                raise IngestError(f"{path.name} has no CRS: assign one first, e.g. gdal_edit.py -a_srs EPSG:4527")
            bounds = transform_bounds(src.crs, "EPSG:4490", *src.bounds, densify_pts=21)
            crs = src.crs.to_string()
            count, dtype = src.count, src.dtypes[0]
            src.read(1, window=((0, min(src.height, 1)), (0, min(src.width, 1))))
    except (RasterioError, CPLE_BaseError) as exc:
        raise IngestError(f"{path.name} is not a readable GeoTIFF: {exc}") from None
    west, south, east, north = conf.platform_extent()
    if not (west <= bounds[0] < bounds[2] <= east and south <= bounds[1] < bounds[3] <= north):
        raise IngestError(f"{path.name} lies at {', '.join(f'{v:.4f}' for v in bounds)} (lon/lat), outside the "
                          f"platform's extent {west},{south},{east},{north}: is its CRS ({crs}) right?")
    profile = "jpeg" if count == 3 and dtype == "uint8" else "deflate"
    return SourceInfo(crs, tuple(bounds), count, dtype, profile)


def _check_collection(req: IngestRequest) -> tuple[Entry | None, ImageryDataset | None]:
    """一数一源: only the owner adds years; a year already present needs --replace."""
    if not SLUG_RE.match(req.collection):
        raise InvalidRequest(f"collection {req.collection!r}: use lower-case letters, digits, '-' and '_'")
    if req.year not in YEARS:
        raise InvalidRequest(f"year {req.year} is not between {YEARS.start} and {YEARS.stop - 1}")
    entry = Entry.objects.select_related("owner").filter(slug=req.collection).first()
    if entry is None:
        return None, None
    if entry.owner_id != req.owner.pk:
        raise AccessDenied(f"{entry.slug} belongs to {entry.owner.name_zh} ({entry.owner.code}); only its owner "
                           "may ingest imagery into it (一数一源)")
    if entry.kind != Entry.Kind.IMAGERY:
        raise InvalidRequest(f"{entry.slug} is a catalog entry of kind {entry.kind!r}, not an imagery collection")
    existing = ImageryDataset.objects.filter(entry=entry, year=req.year).first()
    if existing is not None and not req.replace:
        raise Conflict(f"{entry.slug} already has {req.year} (ingested {existing.created_at:%Y-%m-%d}); "
                       "use --replace to replace it")
    return entry, existing


def _has_mask(src: rasterio.DatasetReader) -> bool:
    """Whether the source says which pixels are data (nodata value, alpha band or mask band)."""
    return (src.nodata is not None or ColorInterp.alpha in src.colorinterp
            or any(MaskFlags.per_dataset in flags for flags in src.mask_flag_enums))


def write_cog(source: Path, target: Path, info: SourceInfo, progress: bool = False, grid: str = "WebMercatorQuad") -> None:
    """Translate to a COG aligned to ``grid`` (tiles.grids) in a temporary file beside ``target``, validate it,
    rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    imagery = info.profile == "jpeg"  # 8-bit RGB photographs; anything else may be categorical: no blending
    options = {"tms": grids.GRIDS[grid], "add_mask": True, "in_memory": False,
               "resampling": "bilinear" if imagery else "nearest",
               "overview_resampling": "average" if imagery else "nearest", "quiet": not progress,
               "progress_out": sys.stderr,
               "config": {"GDAL_NUM_THREADS": "ALL_CPUS", "GDAL_TIFF_INTERNAL_MASK": True}}
    try:
        with contextlib.ExitStack() as stack:
            src = stack.enter_context(rasterio.open(source))
            if not _has_mask(src):  # an alpha band in the warp makes the grid's padding transparent
                options["indexes"] = tuple(src.indexes)
                src = stack.enter_context(WarpedVRT(src, add_alpha=True))
            cog_translate(src, partial, cog_profiles.get(info.profile), **options)
        if errors := validation_errors(partial):
            raise IngestError(f"the COG written from {source.name} does not validate: {'; '.join(errors)}")
        os.replace(partial, target)
    except (RasterioError, CPLE_BaseError) as exc:
        raise IngestError(f"{source.name} is corrupt or truncated (reading it failed: {exc})") from None
    finally:
        partial.unlink(missing_ok=True)


def validation_errors(cog: Path) -> list[str]:
    """rio-cogeo's COG validation errors, less a false positive: it calls an overview "not tiled" when the
    overview is exactly one tile wide and taller (e.g. 512x640 in 512x512 tiles: its test is block width ==
    overview width). Such an overview has the COG's own square tiles; a striped one would have full-width strips
    of another height. Seen with 2000x2000 sources (about 0.9 m per pixel) over a 2 km square."""
    valid, errors, _warnings = cog_validate(cog, quiet=True)
    if valid:
        return []
    with rasterio.open(cog) as full:
        tile = full.block_shapes[0]
    real = []
    for error in errors:
        if (match := OVERVIEW_NOT_TILED.fullmatch(error)) and tile[0] == tile[1]:
            with rasterio.open(cog, OVERVIEW_LEVEL=int(match[1])) as overview:
                if overview.block_shapes[0] == tile:
                    continue
        real.append(error)
    return real


def _describe(cog: Path, info: SourceInfo) -> dict:
    with rasterio.open(cog) as src:
        res_x, res_y = src.res
        values = {"crs": src.crs.to_string(), "source_crs": info.crs, "resolution_x": res_x, "resolution_y": res_y, "band_count": src.count,
                  "dtype": src.dtypes[0], "width": src.width, "height": src.height,
                  "compression": (src.compression.name if src.compression else "NONE").upper()}
    with Reader(str(cog)) as reader:
        values.update(minzoom=reader.minzoom, maxzoom=reader.maxzoom)
    west, south, east, north = info.bounds
    return {**values, "west": west, "south": south, "east": east, "north": north, "size_bytes": cog.stat().st_size}


def _collection_extent(entry: Entry) -> tuple[float, float, float, float]:
    boxes = [d.bounds for d in entry.imagery_datasets.all()]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def ingest_imagery(req: IngestRequest) -> ImageryDataset:
    """Check, write the COG, register the year and mark the collection published; returns the dataset row."""
    source = Path(req.source)
    entry, existing = _check_collection(req)
    info = inspect_source(source)
    storage.check_destination()  # a missing bucket is found before a long conversion, not after
    # Two COGs of the same pixels: aligned to Web Mercator, and to the CGCS2000 grid c, so a tile in either grid
    # is read without reprojection (a reprojected c tile costs ~27 times as much CPU: bench/imagery_grids.py).
    location, location_c = storage.new_location(req.collection, req.year), storage.new_location(req.collection, req.year)
    scratch, scratch_c = storage.scratch_file(), storage.scratch_file()
    picture, kept, source_location = source, None, ""
    published: list[str] = []
    try:
        with rasterio.open(source) as src:
            convert = display.needs_display_copy(src.count, src.dtypes[0], tuple(src.colorinterp))
        if convert:  # 16-bit or 4-band: an 8-bit picture for the tiles, the delivered file kept beside it
            picture, kept = storage.scratch_file(), storage.scratch_file()
            plan = display.write_display_copy(source, picture)
            info = dataclasses.replace(info, band_count=len(plan.bands), dtype="uint8",
                                       profile="jpeg" if len(plan.bands) == 3 else "deflate")
            shutil.copyfile(source, kept)
            source_location = storage.new_location(req.collection, req.year)
        write_cog(picture, scratch, info, progress=req.progress)
        write_cog(picture, scratch_c, info, progress=req.progress, grid=grids.CGCS2000)
        values = _describe(scratch, info)
        for cog, where in ((scratch, location), (scratch_c, location_c), (kept, source_location)):
            if cog is None:
                continue
            storage.publish(cog, where)
            published.append(where)
    except BaseException:
        for where in published:
            _remove_unregistered(where)
        raise
    finally:
        for temporary in (scratch, scratch_c, kept, None if picture is source else picture):
            if temporary is not None:
                temporary.unlink(missing_ok=True)
    try:
        with transaction.atomic():
            if entry is None:
                entry = register_entry(req.collection, Entry.Kind.IMAGERY, req.owner, req.title or req.collection,
                                       sharing=req.sharing, cadence="yearly", format="COG (GeoTIFF)")
            elif req.title and req.title != entry.title_zh:
                entry.title_zh = req.title
                entry.save(update_fields=["title_zh"])
            dataset, _ = ImageryDataset.objects.update_or_create(
                entry=entry, year=req.year, defaults={**values, "path": location, "path_c": location_c,
                                                      "source_path": source_location,
                                                      "source_name": source.name[:255]})
            mark_published(entry, feature_count=None, extent=_collection_extent(entry), fields=[])
    except BaseException:
        for where in published:
            _remove_unregistered(where)
        raise
    if existing is not None:
        for old in existing.stored_files():
            _remove_unregistered(old)
    return dataset


def _remove_unregistered(location: str) -> None:
    """Remove a COG no row names (a replaced year, or one whose registration failed). The registry is already
    right without it, so a store that refuses now leaves the file behind, logged, rather than failing the ingest."""
    try:
        storage.remove(location)
    except (OSError, storage.StorageError) as exc:
        log.warning("imagery: %s is no longer registered and could not be removed: %s", storage.describe(location),
                    exc)
