"""Batch CSV geocoding: order, encodings and bad input never lose a row."""

import csv
import io

import pytest

from geoplatform.geocoding.batch import FILE_COLUMNS, BatchInputError, detect_encoding, geocode_csv

ADDRESSES = ["东城区美术馆后街12号", "", "牛" * 10000, "Baker Street 221B", "朝阳区朝阳北路17号院3号楼\x00\x07",
             "宣武区牛街5号", "海淀区紫光苑"]


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def run(tmp_path, index, text, encoding="utf-8", workers=1, column="addr"):
    src = write(tmp_path / "in.csv", text, encoding)
    out = tmp_path / "out.csv"
    err = io.StringIO()
    report = geocode_csv(src, out, column, index, workers=workers, progress=False, err=err)
    with open(out, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return rows, report, err.getvalue()


def register(addresses):
    return "id,addr,note\n" + "".join(f'{i},"{a}",x\n' for i, a in enumerate(addresses))


@pytest.mark.parametrize("workers", [1, 2])
def test_every_row_out_in_order_with_result_columns(tmp_path, index, workers):
    many = ADDRESSES * 700  # several chunks, so workers really interleave
    rows, report, _ = run(tmp_path, index, register(many), workers=workers)
    assert [r["id"] for r in rows] == [str(i) for i in range(len(many))]
    assert list(rows[0]) == ["id", "addr", "note", *FILE_COLUMNS]
    assert [r["level"] for r in rows[:7]] == ["door", "none", "none", "none", "building", "door", "poi"]
    assert rows[0]["matched_address"].endswith("美术馆后街12号") and rows[1]["lon"] == ""
    assert report.rows == len(many) and report.malformed == []


def test_gbk_file_is_detected(tmp_path, index):
    rows, report, err = run(tmp_path, index, register(ADDRESSES), encoding="gbk")
    assert report.encoding == "gb18030" and "GBK" in err
    assert rows[0]["level"] == "door"


def test_undecodable_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"addr\n\xff\xfe\xfa\xff\x80\x81\xfe\xff\n" * 3)
    with pytest.raises(BatchInputError, match="neither UTF-8 nor GBK"):
        detect_encoding(bad)


def test_missing_column_names_the_columns_there_are(tmp_path, index):
    with pytest.raises(BatchInputError, match="no column 'address'; the columns are: id, addr, note"):
        run(tmp_path, index, register(ADDRESSES), column="address")
    assert not (tmp_path / "out.csv").exists()  # an earlier result is not clobbered


def test_malformed_lines_are_reported_with_line_numbers_and_kept(tmp_path, index):
    text = ('id,addr,note\n0,东城区美术馆后街12号,x\n1,"东城区美术馆后街"13号,x\n2,oops"unbalanced,x\n'
            '3,东城区美术馆后街14号,x,extra\n4,"东城区美术馆后街\n15号",x\n5,宣武区牛街5号,x\n')
    rows, report, err = run(tmp_path, index, text)
    assert len(rows) == 6 and [r["id"] for r in rows] == ["0", "1", "2", "3", "4", "5"]
    assert report.malformed == [4, 5]
    assert "line 4: malformed CSV (unbalanced quote or bad quoting)" in err and "line 5: malformed CSV (4 fields, expected 3)" in err
    assert rows[2]["level"] == rows[3]["level"] == "none"
    assert rows[4]["level"] == "door" and rows[5]["level"] == "door"  # quoted newline is a real field


def test_each_row_names_the_correction_it_rests_on(tmp_path, index):
    rows, _, _ = run(tmp_path, index, register(["阳朝区榆树南街4号", "朝阳区榆南街3号", "朝阳区安华四条3412室",
                                                "东城区美术馆后街12号"]))
    assert [r["correction"] for r in rows] == ["district_corrected", "road_fuzzy", "number_reread", ""]
