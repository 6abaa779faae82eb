"""Reading and encoding: COPY tuples byte for byte, points on the fast path, reading in parallel processes."""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pyogrio
import pytest
import shapely

from geoplatform.layers.importing import copy_binary as cb
from geoplatform.layers.importing.errors import ImportRejected
from geoplatform.layers.importing.reader import LayerReader, copy_order
from geoplatform.layers.importing.schema import assign_columns
from geoplatform.layers.importing.sources import open_source


def reference_rows(columns: list[list[bytes | None]]) -> bytes:
    """COPY BINARY tuples the slow, obvious way."""
    out = b""
    for row in zip(*columns, strict=True):
        out += struct.pack(">h", len(row))
        for value in row:
            out += struct.pack(">i", -1) if value is None else struct.pack(">i", len(value)) + value
    return out


def test_encoded_rows_match_the_copy_format_with_nulls_anywhere():
    ints = np.array([1, np.nan, 3, 4], dtype=np.float64)  # a NULL in a fixed-size column
    texts = np.array(["甲", None, "", "longer text"], dtype=object)
    points = cb.point_block(shapely.to_wkb(shapely.points([(1, 2), (3, 4), (5, 6), (7, 8)])))
    lines = shapely.to_wkb(np.array([shapely.LineString([(0, 0), (1, 1)]), None, shapely.Point(1, 1), None]))
    columns = [cb.int8(np.arange(4)), cb.int4(ints), cb.ewkb(points, 4490), cb.text(texts), cb.ewkb(lines, 4490)]
    expected = reference_rows([
        [struct.pack(">q", i) for i in range(4)],
        [struct.pack(">i", 1), None, struct.pack(">i", 3), struct.pack(">i", 4)],
        [bytes(v) for v in np.frombuffer(columns[2].data, np.uint8).reshape(4, 25)],
        ["甲".encode(), None, b"", b"longer text"],
        [None if w is None else _ewkb(w) for w in lines],
    ])
    assert cb.encode_rows(columns) == expected


def _ewkb(wkb: bytes) -> bytes:
    """EWKB of a little-endian WKB with SRID 4490, built by hand."""
    kind = struct.unpack("<I", wkb[1:5])[0] | 0x20000000
    return wkb[:1] + struct.pack("<I", kind) + struct.pack("<i", 4490) + wkb[5:]


def test_point_fast_path_gives_the_same_ewkb_as_the_general_path():
    wkb = shapely.to_wkb(shapely.points([(116.3, 39.9), (116.4, 39.95)]))
    fast = cb.ewkb(cb.point_block(wkb), 4490)
    general = cb.ewkb(wkb, 4490)
    assert bytes(fast.data) == bytes(general.data) == _ewkb(wkb[0]) + _ewkb(wkb[1])
    assert cb.point_block(np.array([wkb[0], None], dtype=object)) is None


def test_arrow_strings_encode_like_python_strings_and_fall_back_when_they_must():
    values = ["甲乙", None, "", "longer text", "ü"]
    arrow = pa.array(values, pa.string())
    fast = cb.text_arrow(arrow)
    slow = cb.text(np.array(values, dtype=object))
    assert fast is not None
    assert fast.lengths.tolist() == slow.lengths.tolist() == [6, -1, 0, 11, 2]
    assert bytes(fast.data) == bytes(slow.data)
    sliced = pa.chunked_array([arrow.slice(1), pa.array(["x"])])  # offsets not starting at 0, several chunks
    assert bytes(cb.text_arrow(sliced).data) == "longer textüx".encode()
    assert cb.text_arrow(pa.array(["a\x00b"])) is None  # NUL: text() drops it, PostgreSQL refuses it
    assert cb.text_arrow(pa.array([1, 2])) is None  # not strings: text() writes their str()


def test_arrow_point_block_is_the_python_point_block():
    wkb = shapely.to_wkb(shapely.points([(116.3, 39.9), (116.4, 39.95), (1.5, 2.5)]))
    arrow = pa.array(list(wkb), pa.binary())
    assert np.array_equal(cb.point_block_arrow(arrow.slice(1)), cb.point_block(wkb[1:]))
    assert cb.point_block_arrow(pa.array([wkb[0], None], pa.binary())) is None
    line = shapely.to_wkb(shapely.LineString([(0, 0), (1, 1)]))
    assert cb.point_block_arrow(pa.array([wkb[0], line], pa.binary())) is None


def seven_points(path):
    xy = [(116.0 + i / 10, 39.5 + i / 20) for i in range(7)]
    pyogrio.raw.write(str(path), shapely.to_wkb(shapely.points(xy)),
                      [np.array([f"K{i}" for i in range(7)], dtype=object), np.arange(7, dtype=np.int32)],
                      ["code", "n"], driver="GPKG", geometry_type="Point", crs="EPSG:4490")
    return path


@pytest.mark.parametrize("processes", [1, 2])
def test_reading_in_processes_gives_the_same_rows_and_stats(settings, tmp_path, processes):
    settings.LAYERS_READ_PROCESSES = processes
    source = open_source(seven_points(tmp_path / "p.gpkg"), tmp_path)
    reader = LayerReader(source, None, "code")
    fields = assign_columns(reader.names_types, [], {})
    chunks = list(reader.chunks(fields, ["fid", "key", "hash"], chunk=3))
    assert [n for n, _ in chunks] == [3, 3, 1]
    settings.LAYERS_READ_PROCESSES = 1
    single = LayerReader(source, None, "code")
    assert chunks == list(single.chunks(fields, ["fid", "key", "hash"], chunk=3))
    assert reader.stats.features == 7 and reader.stats.bounds == pytest.approx([116.0, 39.5, 116.6, 39.8])
    assert [c for _, c in copy_order(["fid", "key", "hash"], fields)][:4] == ["gp_fid", "gp_hash", "a2", "gp_geom"]


def test_an_error_in_a_reading_process_names_the_feature(settings, tmp_path):
    settings.LAYERS_READ_PROCESSES = 2
    path = tmp_path / "bad.gpkg"
    xy = [(116.0, 39.5)] * 5 + [(216.0, 39.5)] + [(116.0, 39.5)]
    pyogrio.raw.write(str(path), shapely.to_wkb(shapely.points(xy)), [np.arange(7, dtype=np.int32)], ["n"],
                      driver="GPKG", geometry_type="Point", crs="EPSG:4490")
    reader = LayerReader(open_source(path, tmp_path), None, None)
    fields = assign_columns(reader.names_types, [], {})
    with pytest.raises(ImportRejected, match="feature 6: longitude 216 out of range"):
        list(reader.chunks(fields, ["fid"], chunk=3))


def test_first_publish_with_duplicate_keys_is_refused(publish, tmp_path):
    from tests.layers.conftest import write_points

    with pytest.raises(ImportRejected, match="key field is not unique: 'A1' ×2"):
        publish(write_points(tmp_path / "dup.gpkg", codes=("A1", "A1", "A3")), key="code")


def test_whole_file_update_compares_in_processes_like_in_one(publish, settings, tmp_path):
    """A whole-file update of points hashes and compares its rows in forked processes by default (the rows are
    mostly not staged, so the hashing is the work): the rows staged and the keys seen are the same as in one."""
    from django.db import connection

    from geoplatform.layers.importing.changes import CurrentRows

    layer = publish(seven_points(tmp_path / "v1.gpkg"), key="code").layer
    path = tmp_path / "v2.gpkg"
    codes = ["K0", "K1", "K2", "K4", "K5", "K6", "K7"]  # K3 removed, K7 added
    values = np.array([0, 10, 2, 4, 50, 6, 7], dtype=np.int32)  # K1 and K5 changed
    xy = [(116.0 + i / 10, 39.5 + i / 20) for i in (0, 1, 2, 4, 5, 6, 7)]
    pyogrio.raw.write(str(path), shapely.to_wkb(shapely.points(xy)), [np.array(codes, dtype=object), values],
                      ["code", "n"], driver="GPKG", geometry_type="Point", crs="EPSG:4490")
    results = []
    for processes in (None, 1):
        settings.LAYERS_READ_PROCESSES = processes
        reader = LayerReader(open_source(path, tmp_path), None, "code")
        fields = assign_columns(reader.names_types, [], dict(layer.columns))
        with connection.cursor() as cursor:
            current = CurrentRows.load(cursor, layer.table)
        chunks = list(reader.chunks(fields, ["key", "hash"], chunk=3, current=current))
        results.append((chunks, sorted(current.unseen_keys())))
    default, single = results
    assert default == single
    assert [n for n, _ in default[0]] == [1, 1, 1]  # K1 | K5 | K7: one staged row in each chunk of three
    assert default[1] == ["K3"]


@pytest.mark.parametrize("processes", [1, 2])
def test_bad_rows_are_left_out_alike_in_processes(settings, tmp_path, processes):
    """Bad rows in several chunks (some read in forked processes) are left out and named in file order."""
    settings.LAYERS_READ_PROCESSES = processes
    path = tmp_path / "p.csv"
    path.write_text("code,lon,lat\n" + "".join(f"K{i},{'abc' if i in (1, 5, 6) else 116 + i / 10},39.5\n"
                                                for i in range(8)), encoding="utf-8")
    reader = LayerReader(open_source(path, tmp_path), None, "code", skip_bad_rows=True)
    fields = assign_columns(reader.names_types, [], {})
    chunks = list(reader.chunks(fields, ["fid", "key", "hash"], chunk=3))
    assert [n for n, _ in chunks] == [2, 2, 1]
    assert reader.stats.features == 5 and reader.stats.bad.numbers == [3, 7, 8]
    assert reader.stats.bounds == pytest.approx([116.0, 39.5, 116.7, 39.5])
    with pytest.raises(ImportRejected, match="3 bad rows, nothing was published: line 3: longitude 'abc'"):
        LayerReader(open_source(path, tmp_path), None, "code")
