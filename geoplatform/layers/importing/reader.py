"""Read a source in chunks with pyogrio, and turn each chunk into COPY rows in CGCS2000.

Per chunk: CRS check and transform, degrees-out-of-range and extent checks (with the likely
cause), invalid geometries repaired with shapely's make_valid and counted, empty ones stored
as NULL and counted, Z dropped. Geometry-type counts are kept so mixed single/multi can be
unified after the load.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyogrio
import shapely

from geoplatform.layers.importing import copy_binary as cb
from geoplatform.layers.importing import crs as crs_mod
from geoplatform.layers.importing.errors import ImportRejected
from geoplatform.layers.importing.schema import SQL_TYPES, Field, sql_type
from geoplatform.layers.importing.sources import Source

CHUNK = 100_000


@dataclass
class ReadStats:
    features: int = 0
    repaired: int = 0
    empty: int = 0
    z_dropped: int = 0
    geometry_types: Counter = field(default_factory=Counter)
    bounds: list[float] | None = None

    def add_bounds(self, b: np.ndarray) -> None:
        if np.isnan(b).all():
            return
        chunk = [float(np.nanmin(b[:, 0])), float(np.nanmin(b[:, 1])), float(np.nanmax(b[:, 2])),
                 float(np.nanmax(b[:, 3]))]
        if self.bounds is None:
            self.bounds = chunk
        else:
            self.bounds = [min(self.bounds[0], chunk[0]), min(self.bounds[1], chunk[1]),
                           max(self.bounds[2], chunk[2]), max(self.bounds[3], chunk[3])]


def _gdal_error(source: Source, exc: Exception) -> ImportRejected:
    return ImportRejected(f"{source.path.name} cannot be read as {source.driver}: {str(exc).strip()}")


class LayerReader:
    """One source opened for reading: its schema and CRS up front, then encoded chunks."""

    def __init__(self, source: Source, crs_override: str | None = None, key: str | None = None):
        self.source = source
        try:
            info = pyogrio.read_info(source.path, layer=source.layer, encoding=source.encoding, **source.options)
        except Exception as exc:  # noqa: BLE001 - pyogrio raises DataSourceError, DataLayerError, ...
            raise _gdal_error(source, exc) from None
        if info.get("geometry_type") is None:
            hint = (" (name the coordinate columns lon/lat, x/y or 经度/纬度, or put WKT in a column named wkt)"
                    if source.driver == "CSV" else "")
            raise ImportRejected(f"{source.path.name} has no geometry column{hint}")
        self.total = int(info.get("features", -1))
        if self.total == 0:
            raise ImportRejected(f"{source.path.name} has no features (0 rows)")
        if crs_override:
            self.epsg = crs_mod.parse_epsg(crs_override)
        else:
            declared = crs_mod.epsg_of_source(info.get("crs"))
            if declared is None:
                raise ImportRejected(f"{source.path.name} declares no CRS: name it with --crs EPSG:NNNN "
                                     "(e.g. EPSG:4490 for CGCS2000 degrees)")
            self.epsg = declared
        subtypes = info.get("ogr_subtypes") or ["OFSTNone"] * len(info["fields"])
        self.names_types = [(str(n), sql_type(t, s)) for n, t, s in zip(info["fields"], info["ogr_types"], subtypes,
                                                                          strict=True)]
        self.key = key
        if key is not None and key not in [n for n, _ in self.names_types]:
            raise ImportRejected(f"key field {key!r} is not in {source.path.name}; its fields: "
                                 + ", ".join(n for n, _ in self.names_types))
        self.stats = ReadStats()

    def _read(self, skip: int, count: int):
        try:
            return pyogrio.raw.read(self.source.path, layer=self.source.layer, encoding=self.source.encoding,
                                    skip_features=skip, max_features=count, **self.source.options)
        except Exception as exc:  # noqa: BLE001
            raise _gdal_error(self.source, exc) from None

    def geometries(self, wkb: np.ndarray, first: int) -> tuple[np.ndarray, bool]:
        """(WKB in CGCS2000, whether it differs from the input), after every check and repair."""
        source = shapely.from_wkb(wkb, on_invalid="ignore")
        geoms = source
        changed = False
        has_z = shapely.has_z(geoms)
        if has_z.any():
            self.stats.z_dropped += int(has_z.sum())
            geoms, source, changed = shapely.force_2d(geoms), shapely.force_2d(source), True
        crs_mod.check_source_coordinates(geoms, self.epsg, first)
        if self.epsg != crs_mod.STORAGE_SRID:
            geoms, changed = crs_mod.to_storage(geoms, self.epsg), True
        present = ~shapely.is_missing(geoms)
        empty = present & shapely.is_empty(geoms)
        if empty.any():
            self.stats.empty += int(empty.sum())
            geoms, changed = np.where(empty, None, geoms), True
            present &= ~empty
        invalid = present & ~shapely.is_valid(geoms)
        if invalid.any():
            self.stats.repaired += int(invalid.sum())
            geoms = geoms.copy()
            geoms[invalid] = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
            changed = True
        crs_mod.check_extent(geoms, source, self.epsg, first)
        self.stats.add_bounds(shapely.bounds(geoms))
        ids, counts = np.unique(shapely.get_type_id(geoms[present]), return_counts=True)
        self.stats.geometry_types.update({int(i): int(c) for i, c in zip(ids, counts, strict=True)})
        return (shapely.to_wkb(geoms) if changed else wkb), changed

    def chunks(self, fields: list[Field], prefix: list[str], chunk: int = CHUNK) -> Iterator[tuple[int, bytes]]:
        """(feature count, COPY tuples) per chunk, columns in the order: ``prefix`` columns, geometry, fields.

        ``prefix`` names generated columns: "fid" numbers the rows from 1, "key" is the key field as text.
        """
        skip = 0
        while True:
            meta, _fids, wkb, values = self._read(skip, chunk)
            n = len(wkb) if wkb is not None else 0
            if n == 0:
                break
            wkb_out, _ = self.geometries(wkb, skip)
            by_name = dict(zip((str(f) for f in meta["fields"]), values, strict=True))
            columns = []
            for name in prefix:
                if name == "fid":
                    columns.append(cb.int8(np.arange(skip + 1, skip + n + 1, dtype=np.int64)))
                elif name == "key":
                    keys = cb.text(by_name[self.key])
                    if (keys.lengths < 0).any():
                        row = int(np.flatnonzero(keys.lengths < 0)[0]) + skip + 1
                        raise ImportRejected(f"feature {row} has no value in the key field {self.key!r}")
                    columns.append(keys)
            columns.append(cb.ewkb(wkb_out, crs_mod.STORAGE_SRID))
            for f in fields:
                columns.append(SQL_TYPES[f.type][1](by_name[f.name]))
            self.stats.features += n
            yield n, cb.encode_rows(columns)
            skip += n
            if n < chunk:
                break
        if self.stats.features == 0:
            raise ImportRejected(f"{self.source.path.name} has no features (0 rows)")
