"""Reading a gazetteer (地名地址库) CSV into plain rows, with column-name mapping.

Both the in-memory index (batch CLI with ``--gazetteer``) and the PostGIS loader read
gazetteer files through here, so a department whose file names its columns differently
(``门牌号`` instead of ``house_number``) maps them once with ``--map``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

#: The columns of the standard gazetteer file (see the README of the geocoding app).
COLUMNS = ("address_id", "standard_address", "level", "district", "district_code", "township",
           "township_code", "road", "road_id", "house_number", "number_prefix", "compound",
           "building", "poi", "lon", "lat")
REQUIRED = ("address_id", "standard_address", "level", "district", "road", "house_number", "lon", "lat")
LEVELS = ("door", "building")


class GazetteerFileError(ValueError):
    """A gazetteer file that cannot be loaded; the message names the line and the fix."""


class GazetteerRow(NamedTuple):
    """One standard address. ``building`` is 0 for a door (门牌), n for 号院n号楼."""

    address_id: str
    standard_address: str
    level: str
    district: str
    district_code: str
    township: str
    township_code: str
    road: str
    road_id: str
    house_number: int
    number_prefix: str
    compound: bool
    building: int
    poi: str
    lon: float
    lat: float


def parse_column_map(pairs: list[str] | None) -> dict[str, str]:
    """``["house_number=门牌号", ...]`` → {standard column: file column}."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        ours, sep, theirs = pair.partition("=")
        if not sep or ours not in COLUMNS:
            raise GazetteerFileError(f"--map {pair!r}: expected STANDARD=FILE_COLUMN, STANDARD one of {', '.join(COLUMNS)}")
        mapping[ours] = theirs
    return mapping


def _int(value: str, default: int = 0) -> int:
    value = (value or "").strip()
    return int(value) if value else default


def read_gazetteer_rows(path: str | Path, column_map: dict[str, str] | None = None) -> Iterator[GazetteerRow]:
    """Rows of a UTF-8 gazetteer CSV; raises ``GazetteerFileError`` naming the bad line."""
    column_map = column_map or {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        source = {col: column_map.get(col, col) for col in COLUMNS}
        missing = [f"{col} (file column {source[col]!r})" for col in REQUIRED if source[col] not in header]
        if missing:
            raise GazetteerFileError(f"{path}: missing columns {', '.join(missing)}; map them with --map STANDARD=FILE_COLUMN")
        for line_no, rec in enumerate(reader, start=2):
            get = {col: (rec.get(source[col]) or "").strip() for col in COLUMNS}
            try:
                lon, lat = float(get["lon"]), float(get["lat"])
                number = _int(get["house_number"])
                building = _int(get["building"])
            except ValueError as exc:
                raise GazetteerFileError(f"{path} line {line_no}: {exc}") from None
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise GazetteerFileError(f"{path} line {line_no}: lon/lat {lon}, {lat} out of range")
            if get["level"] not in LEVELS:
                raise GazetteerFileError(f"{path} line {line_no}: level {get['level']!r} is not door or building")
            yield GazetteerRow(get["address_id"], get["standard_address"], get["level"], get["district"],
                               get["district_code"], get["township"], get["township_code"], get["road"],
                               get["road_id"] or f"{get['district']}/{get['road']}", number, get["number_prefix"],
                               get["compound"] in ("1", "true", "True", "yes", "Y"), building, get["poi"], lon, lat)


def read_alias_csv(path: str | Path) -> dict[str, dict[str, str]]:
    """Alias table maintained by the gazetteer owner: ``alias,canonical,kind`` (kind district/township/road)."""
    out: dict[str, dict[str, str]] = {"district": {}, "township": {}, "road": {}}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for line_no, rec in enumerate(csv.DictReader(fh), start=2):
            kind = (rec.get("kind") or "").strip()
            if kind not in out or not rec.get("alias") or not rec.get("canonical"):
                raise GazetteerFileError(f"{path} line {line_no}: expected alias,canonical,kind (district/township/road)")
            out[kind][rec["alias"].strip()] = rec["canonical"].strip()
    return out
