"""Downloads: GeoJSON and CSV streamed from a server-side cursor; GeoPackage and zipped Shapefile written by GDAL.

Rows come from the same selection (bbox, CQL2) and the same masked expressions as the features API.
A streamed download runs its query and reads its first batch before the response starts, so a query
that fails is an error status, never a 200 whose body stops short and could pass for the whole file.

A layer of mixed geometry types ("Geometry") is one GeoPackage table with a generic GEOMETRY column,
and a Shapefile zip with one shapefile per geometry family present (``NAME_point``, ``NAME_line``,
``NAME_polygon``), since a Shapefile holds one type; see :func:`write_mixed_shapefiles`.
"""

from __future__ import annotations

import copy
import csv
import io
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pyogrio
from django.db import connection
from django.http import FileResponse, StreamingHttpResponse

from catalog.access import Action
from catalog.audit import record_result
from catalog.errors import InvalidRequest
from geoplatform.layers.serving.access import LayerAccess, open_layer
from geoplatform.layers.serving.features import Selection, geojson_query, rows_query
from geoplatform.layers.views.base import LayersView

BATCH = 20_000
FORMATS = {"geojson": "application/geo+json", "csv": "text/csv; charset=utf-8",
           "gpkg": "application/geopackage+sqlite3", "shp": "application/zip"}
SHAPEFILE = "ESRI Shapefile"
# Shapefile family -> (ST_CollectionExtract type number, single type, multi type)
SHAPE_FAMILIES = {"point": (1, "Point", "MultiPoint"), "line": (2, "LineString", "MultiLineString"),
                  "polygon": (3, "Polygon", "MultiPolygon")}
# Version geometry types a single Shapefile cannot hold
MIXED_TYPES = ("Geometry", "GeometryCollection")


def _stream(access: LayerAccess, sql: str, params: list, rows_to_text, head: str = "", tail: str = ""):
    """Encoded text batches from a server-side cursor whose query has already run (see the module's docstring)."""
    cursor = connection.chunked_cursor()
    try:
        cursor.execute(sql, params)
        rows = cursor.fetchmany(BATCH)
    except BaseException:
        cursor.close()
        raise
    return _batches(access, cursor, rows, rows_to_text, head, tail)


def _batches(access: LayerAccess, cursor, rows: list, rows_to_text, head: str, tail: str):
    """Yield head, the rows' text batch by batch, and tail; the audit result is written at the end."""
    sent = count = 0
    try:
        if head:
            sent += len(head.encode())
            yield head.encode()
        first = True
        while rows:
            chunk = rows_to_text(rows, first).encode()
            first = False
            count += len(rows)
            sent += len(chunk)
            yield chunk
            rows = cursor.fetchmany(BATCH)
        if tail:
            sent += len(tail.encode())
            yield tail.encode()
    finally:
        cursor.close()
    record_result(access.decision, rows=count, bytes=sent)


def _geojson(access: LayerAccess, sel: Selection):
    sql, params = geojson_query(sel, None, None)
    return _stream(access, sql, params, lambda rows, first: ("" if first else ",") + ",".join(r[0] for r in rows),
                   '{"type":"FeatureCollection","features":[', "]}")


def _csv_text(rows) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def _csv(access: LayerAccess, sel: Selection):
    """CSV with a byte-order mark (for spreadsheet programs) and its header line even when no row is selected."""
    sql, params = rows_query(sel, "ST_AsText(t.gp_geom)")
    header = _csv_text([["fid", "wkt", *[f.name for f in access.fields]]])
    return _stream(access, sql, params, lambda rows, first: _csv_text(rows), head="\ufeff" + header)


def _numpy_column(values: list, sql_type: str) -> tuple[np.ndarray, np.ndarray]:
    mask = np.array([v is None for v in values], bool)
    if sql_type in ("integer", "bigint"):
        return np.array([0 if v is None else v for v in values], np.int64), mask
    if sql_type == "double precision":
        return np.array([np.nan if v is None else v for v in values], np.float64), mask
    if sql_type == "boolean":
        return np.array([bool(v) for v in values], bool), mask
    return np.array([None if v is None else str(v) for v in values], dtype=object), mask


def _write_rows(access: LayerAccess, sql: str, params: list, path: Path, driver: str,
                geometry_type: str | None) -> int:
    """Write rows (fid, WKB or NULL, visible fields...) with GDAL batch by batch; returns the feature count.

    ``geometry_type`` None writes a table without geometry (a lone .dbf for a Shapefile).
    """
    names = [f.name for f in access.fields]
    options = {"ENCODING": "UTF-8"} if driver == SHAPEFILE else {}
    crs = None if geometry_type is None else "EPSG:4490"
    layer = path.stem if driver == SHAPEFILE else access.layer.slug
    count = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(BATCH):
            columns = list(zip(*rows, strict=True))
            arrays = [_numpy_column(list(columns[i + 2]), f.type) for i, f in enumerate(access.fields)]
            geometry = None if geometry_type is None else np.array(
                [bytes(g) if g is not None else None for g in columns[1]], dtype=object)
            pyogrio.raw.write(str(path), geometry, [a for a, _ in arrays], names, field_mask=[m for _, m in arrays],
                              driver=driver, geometry_type=geometry_type, crs=crs, layer=layer,
                              append=count > 0, layer_options=options if count == 0 else None)
            count += len(rows)
    if count == 0:
        geometry = None if geometry_type is None else np.array([], dtype=object)
        pyogrio.raw.write(str(path), geometry, [np.array([], dtype=object) for _ in names], names, driver=driver,
                          geometry_type=geometry_type, crs=crs, layer=layer, layer_options=options)
    return count


def write_file(access: LayerAccess, sel: Selection, path: Path, driver: str) -> int:
    """Write the selection as one GDAL layer; a mixed-type version gets a generic GEOMETRY column."""
    sql, params = rows_query(sel, "ST_AsBinary(t.gp_geom)")
    geometry_type = access.version.geometry_type
    if geometry_type == "Geometry":
        geometry_type = "Unknown"  # OGR's name for a column holding any geometry type
    return _write_rows(access, sql, params, path, driver, geometry_type)


def _families_present(sel: Selection) -> tuple[int, dict[str, bool], bool]:
    """(features selected, {family: whether it needs the multi type} for families present, any without geometry).

    One scan of the selection: a Shapefile's type is fixed when it is created, so a point family with a
    MultiPoint (or a geometry collection's points) must be created as MultiPoint before its first row.
    """
    checks = ["count(*)", "bool_or(t.gp_geom IS NULL OR ST_IsEmpty(t.gp_geom))"]
    for k, _single, multi in SHAPE_FAMILIES.values():
        part = f"ST_CollectionExtract(t.gp_geom, {k})"
        checks.append(f"bool_or(NOT ST_IsEmpty({part}))")
        checks.append(f"bool_or(NOT ST_IsEmpty({part}) AND GeometryType(t.gp_geom) IN "
                      f"('{multi.upper()}', 'GEOMETRYCOLLECTION'))")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(checks)} FROM {sel.access.table} t WHERE {sel.condition}", sel.params)
        count, without, *flags = cursor.fetchone()
    present = {family: bool(flags[2 * i + 1]) for i, family in enumerate(SHAPE_FAMILIES) if flags[2 * i]}
    return count, present, bool(without)


def write_mixed_shapefiles(access: LayerAccess, sel: Selection, folder: Path, name: str) -> int:
    """One shapefile per geometry family present (``NAME_point``, ``NAME_line``, ``NAME_polygon``).

    A geometry collection's parts go to the files of their families (with the same fid in each);
    features without geometry, if any, go to ``NAME_nogeometry.dbf``. Returns the features selected.
    """
    count, present, without = _families_present(sel)
    for family, needs_multi in present.items():
        k, single, multi = SHAPE_FAMILIES[family]
        part = f"ST_CollectionExtract(t.gp_geom, {k})"
        shown = f"ST_Multi({part})" if needs_multi else part
        family_sel = copy.copy(sel)
        family_sel.where = [*sel.where, f"NOT ST_IsEmpty({part})"]
        sql, params = rows_query(family_sel, f"ST_AsBinary({shown})")
        _write_rows(access, sql, params, folder / f"{name}_{family}.shp", SHAPEFILE, multi if needs_multi else single)
    if without or not present:
        family_sel = copy.copy(sel)
        family_sel.where = [*sel.where, "(t.gp_geom IS NULL OR ST_IsEmpty(t.gp_geom))"]
        sql, params = rows_query(family_sel, "NULL::bytea")
        _write_rows(access, sql, params, folder / f"{name}_nogeometry.dbf", SHAPEFILE, None)
    return count


def _file_response(access: LayerAccess, sel: Selection, name: str, fmt: str) -> FileResponse:
    """The GeoPackage or zipped Shapefile, written whole to a temporary folder before the response starts."""
    folder = Path(tempfile.mkdtemp(prefix="gp-download-"))
    try:
        if fmt == "gpkg":
            out = folder / f"{name}.gpkg"
            count = write_file(access, sel, out, "GPKG")
        else:
            if access.version.geometry_type in MIXED_TYPES:
                count = write_mixed_shapefiles(access, sel, folder, name)
            else:
                count = write_file(access, sel, folder / f"{name}.shp", SHAPEFILE)
            out = folder / f"{name}.zip"
            parts = sorted(folder.iterdir())
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
                for part in parts:
                    zf.write(part, part.name)
        record_result(access.decision, rows=count, bytes=out.stat().st_size)
        response = FileResponse(out.open("rb"), content_type=FORMATS[fmt])
    finally:
        shutil.rmtree(folder)  # an open file stays readable until the response closes it
    return response


class DownloadView(LayersView):
    def get(self, request, slug: str, fmt: str):
        if fmt not in FORMATS:
            raise InvalidRequest(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
        access = open_layer(request, slug, Action.DOWNLOAD, at=request.query_params.get("at"))
        from geoplatform.layers.views.ogc import selection_from_request

        sel, _ = selection_from_request(request, access)
        name = f"{slug}-v{access.version.number}"
        if fmt in ("geojson", "csv"):
            body = _geojson(access, sel) if fmt == "geojson" else _csv(access, sel)
            response = StreamingHttpResponse(body, content_type=FORMATS[fmt])
        else:
            response = _file_response(access, sel, name, fmt)
        response["Content-Disposition"] = f'attachment; filename="{name}.{"zip" if fmt == "shp" else fmt}"'
        return response
