"""Batch geocoding as a background job: a CSV in, every row out in order with its match, as CSV,
GeoJSON, or published as a vector layer owned by the requesting department."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from geoplatform.geocoding.batch import FILE_COLUMNS, BatchInputError, detect_encoding, read_records
from geoplatform.geocoding.match import geocode
from geoplatform.geocoding.publishing import publish_geocoded
from geoplatform.geocoding.services import active_index
from geoplatform.jobs.models import Job
from geoplatform.jobs.queue import Handler, ordered_output, register, submit

KIND = "geocode"
CHUNK_ROWS = 5000
OUTPUTS = ("csv", "geojson", "layer")


def _input_chunks(path: Path, encoding: str, column: str, report: dict) -> Iterator[list]:
    """Chunks of [line number, fields, address]; malformed lines keep their place with an empty address."""
    with open(path, encoding=encoding, errors="replace", newline="") as src:
        records = read_records(src)
        first = next(records, None)
        if first is None or first[1] is None:
            raise BatchInputError("the file has no header line")
        header = first[1]
        if column not in header:
            raise BatchInputError(f"no column {column!r}; the columns are: {', '.join(header)}")
        report["header"] = header
        col, width = header.index(column), len(header)
        rows: list = []
        for line_no, fields, raw in records:
            if fields is None or len(fields) != width:
                report.setdefault("malformed_lines", []).append(line_no)
                fields = ((fields or raw.rstrip("\r\n").split(",")) + [""] * width)[:width]
                address = ""
            else:
                address = fields[col]
            rows.append([line_no, fields, address])
            if len(rows) >= CHUNK_ROWS:
                yield rows
                rows = []
        if rows:
            yield rows


def submit_geocode_job(department, path: Path, column: str, *, encoding: str | None = None, output: str = "csv",
                       layer: str = "", title: str = "", key: str = "", api_key: str = "",
                       username: str = "") -> Job:
    """Check and split the upload, store it as a job; BatchInputError naming what is wrong otherwise."""
    if output not in OUTPUTS:
        raise BatchInputError(f"output must be one of {', '.join(OUTPUTS)}")
    if output == "layer" and not layer:
        raise BatchInputError("name the layer to publish (layer=SLUG)")
    encoding = encoding or detect_encoding(path)
    report: dict = {"encoding": encoding}
    chunks = list(_input_chunks(path, encoding, column, report))
    if key and key not in report["header"]:
        raise BatchInputError(f"no key column {key!r}; the columns are: {', '.join(report['header'])}")
    params = {"column": column, "output": output, "layer": layer, "title": title, "key": key}
    return submit(KIND, department, chunks, params, api_key=api_key, username=username, report=report)


def process_chunk(job: Job, rows: list) -> list:
    index = active_index()
    out = []
    for _line_no, fields, address in rows:
        m = geocode(address, index)
        out.append([*fields, "" if m.lon is None else round(m.lon, 7), "" if m.lat is None else round(m.lat, 7),
                    m.level, round(m.score, 3), m.matched_address, m.address_id, ";".join(m.corrections)])
    return out


def header(job: Job) -> list[str]:
    return [*job.report["header"], *FILE_COLUMNS]


def result_csv_lines(job: Job) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header(job))
    for row in ordered_output(job):
        writer.writerow(row)
        if buffer.tell() > 1 << 16:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def result_geojson_parts(job: Job) -> Iterator[str]:
    names = header(job)
    lon_at, lat_at = names.index("lon"), names.index("lat")
    yield '{"type": "FeatureCollection", "features": ['
    first = True
    for row in ordered_output(job):
        geometry = None if row[lon_at] == "" else {"type": "Point", "coordinates": [row[lon_at], row[lat_at]]}
        feature = {"type": "Feature", "geometry": geometry, "properties": dict(zip(names, row, strict=True))}
        yield ("" if first else ",") + json.dumps(feature, ensure_ascii=False)
        first = False
    yield "]}"


def finish(job: Job) -> dict:
    """For output=layer: publish the matched rows as the department's layer."""
    if job.params.get("output") != "layer":
        return {}
    return publish_geocoded(ordered_output(job), header(job), job.department, job.params["layer"],
                            title=job.params.get("title", ""), key=job.params.get("key"),
                            published_by=job.username or job.api_key)


register(KIND, Handler(process=process_chunk, finish=finish))
