"""Downloads: GeoJSON and CSV streamed from a server-side cursor; GeoPackage and zipped Shapefile written by GDAL.

Rows come from the same selection (bbox, CQL2) and the same masked expressions as the features API.
"""

from __future__ import annotations

import csv
import io
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


def _stream(access: LayerAccess, sql: str, params: list, rows_to_text, head: str = "", tail: str = ""):
    """Yield encoded text batches from a server-side cursor; the audit result is written at the end."""
    sent = count = 0
    if head:
        sent += len(head.encode())
        yield head.encode()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        first = True
        while rows := cursor.fetchmany(BATCH):
            chunk = rows_to_text(rows, first).encode()
            first = False
            count += len(rows)
            sent += len(chunk)
            yield chunk
    if tail:
        sent += len(tail.encode())
        yield tail.encode()
    record_result(access.decision, rows=count, bytes=sent)


def _geojson(access: LayerAccess, sel: Selection):
    sql, params = geojson_query(sel, None, None)
    return _stream(access, sql, params, lambda rows, first: ("" if first else ",") + ",".join(r[0] for r in rows),
                   '{"type":"FeatureCollection","features":[', "]}")


def _csv(access: LayerAccess, sel: Selection):
    sql, params = rows_query(sel, "ST_AsText(t.gp_geom)")

    def to_text(rows, first):
        out = io.StringIO()
        writer = csv.writer(out)
        if first:
            writer.writerow(["fid", "wkt", *[f.name for f in access.fields]])
        writer.writerows(rows)
        return out.getvalue()

    return _stream(access, sql, params, to_text, head="\ufeff")


def _numpy_column(values: list, sql_type: str) -> tuple[np.ndarray, np.ndarray]:
    mask = np.array([v is None for v in values], bool)
    if sql_type in ("integer", "bigint"):
        return np.array([0 if v is None else v for v in values], np.int64), mask
    if sql_type == "double precision":
        return np.array([np.nan if v is None else v for v in values], np.float64), mask
    if sql_type == "boolean":
        return np.array([bool(v) for v in values], bool), mask
    return np.array([None if v is None else str(v) for v in values], dtype=object), mask


def write_file(access: LayerAccess, sel: Selection, path: Path, driver: str) -> int:
    """Write the selection with GDAL, batch by batch; returns the feature count."""
    sql, params = rows_query(sel, "ST_AsBinary(t.gp_geom)")
    names = [f.name for f in access.fields]
    options = {"ENCODING": "UTF-8"} if driver == "ESRI Shapefile" else {}
    geometry_type = access.version.geometry_type if access.version.geometry_type != "Unknown" else "Unknown"
    count = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(BATCH):
            columns = list(zip(*rows, strict=True))
            arrays = [_numpy_column(list(columns[i + 2]), f.type) for i, f in enumerate(access.fields)]
            pyogrio.raw.write(str(path), np.array([bytes(g) if g is not None else None for g in columns[1]],
                                                  dtype=object),
                              [a for a, _ in arrays], names, field_mask=[m for _, m in arrays], driver=driver,
                              geometry_type=geometry_type, crs="EPSG:4490", layer=access.layer.slug,
                              append=count > 0, layer_options=options if count == 0 else None)
            count += len(rows)
    if count == 0:
        pyogrio.raw.write(str(path), np.array([], dtype=object), [np.array([], dtype=object) for _ in names],
                          names, driver=driver, geometry_type=geometry_type, crs="EPSG:4490",
                          layer=access.layer.slug, layer_options=options)
    return count


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
            folder = Path(tempfile.mkdtemp(prefix="gp-download-"))
            if fmt == "gpkg":
                out = folder / f"{name}.gpkg"
                count = write_file(access, sel, out, "GPKG")
            else:
                count = write_file(access, sel, folder / f"{name}.shp", "ESRI Shapefile")
                out = folder / f"{name}.zip"
                with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
                    for part in sorted(folder.glob(f"{name}.*")):
                        if part.suffix != ".zip":
                            zf.write(part, part.name)
            record_result(access.decision, rows=count, bytes=out.stat().st_size)
            response = FileResponse(out.open("rb"), content_type=FORMATS[fmt])
            for part in folder.iterdir():
                part.unlink()  # the open file stays readable until the response closes it
            folder.rmdir()
        response["Content-Disposition"] = f'attachment; filename="{name}.{"zip" if fmt == "shp" else fmt}"'
        return response
