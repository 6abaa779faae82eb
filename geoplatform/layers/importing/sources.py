"""From an uploaded file to something GDAL can open: format, layer, text encoding, open options.

Zip archives are unpacked with checks for paths leaving the folder and for zip bombs; a
Shapefile's DBF encoding comes from the override, else its .cpg, else a look at the bytes
(GBK/GB18030 DBFs often have neither a .cpg nor a language driver id).
"""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pyogrio

from geoplatform.layers import conf
from geoplatform.layers.importing import csv_rows
from geoplatform.layers.importing.errors import ImportRejected

CSV_OPTIONS = {
    "X_POSSIBLE_NAMES": ",".join(csv_rows.X_NAMES),
    "Y_POSSIBLE_NAMES": ",".join(csv_rows.Y_NAMES),
    "GEOM_POSSIBLE_NAMES": ",".join(csv_rows.GEOMETRY_NAMES),
    "KEEP_GEOM_COLUMNS": "NO",
    "AUTODETECT_TYPE": "YES",
}
DATA_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".fgb", ".csv")


@dataclass
class Source:
    """What :mod:`.reader` opens: a path, a layer name, the text encoding and driver open options (and a CSV's
    separator, given to GDAL explicitly so that :mod:`.csv_rows` splits the lines as GDAL does)."""

    path: Path
    driver: str
    layer: str | None = None
    encoding: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    separator: str | None = None


def sniff_format(path: Path) -> str:
    """The driver name from the first bytes (extensions lie), falling back on the extension for CSV."""
    if path.stat().st_size == 0:
        raise ImportRejected(f"{path.name} is empty (0 bytes)")
    with path.open("rb") as f:
        head = f.read(64)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"SQLite format 3\x00"):
        return "GPKG"
    if head.startswith(b"fgb\x03"):
        return "FlatGeobuf"
    stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
    if stripped[:1] in (b"{", b"["):
        return "GeoJSON"
    if path.suffix.lower() == ".shp":
        return "ESRI Shapefile"
    if path.suffix.lower() in (".csv", ".txt") or b"," in head:
        return "CSV"
    raise ImportRejected(f"{path.name}: unknown format; send a zipped Shapefile, GeoPackage, GeoJSON, "
                         "FlatGeobuf or CSV")


def safe_unzip(archive: Path, folder: Path) -> list[Path]:
    """Members of ``archive`` written under ``folder``; refuses ../ paths, absolute paths and zip bombs."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise ImportRejected(f"{archive.name} is not a readable zip archive (corrupt or truncated): {exc}") from None
    limit = conf.max_unzipped_bytes()
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        total = 0
        for m in members:
            parts = PurePosixPath(m.filename.replace("\\", "/")).parts
            if m.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise ImportRejected(f"zip entry {m.filename!r} points outside the archive folder; refused")
            total += m.file_size
            if total > limit:
                raise ImportRejected(f"the zip expands to more than {limit // 2**20} MB; refused (zip bomb guard)")
            if m.file_size > 1_000_000 and m.file_size > conf.MAX_ZIP_RATIO * max(m.compress_size, 1):
                raise ImportRejected(f"zip entry {m.filename!r} expands {m.file_size // max(m.compress_size, 1)}× "
                                     f"(limit {conf.MAX_ZIP_RATIO}×); refused (zip bomb guard)")
        written = []
        for m in members:
            target = folder.joinpath(*PurePosixPath(m.filename.replace("\\", "/")).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            copied = 0
            try:
                with zf.open(m) as src, target.open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        copied += len(chunk)
                        if copied > m.file_size:  # the header lied about the size
                            raise ImportRejected(f"zip entry {m.filename!r} is larger than it declares; refused")
                        dst.write(chunk)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise ImportRejected(f"zip entry {m.filename!r} cannot be extracted (corrupt archive): {exc}") from None
            written.append(target)
    return written


def _sibling(shp: Path, suffix: str) -> Path | None:
    for candidate in shp.parent.iterdir():
        if candidate.stem == shp.stem and candidate.suffix.lower() == suffix:
            return candidate
    return None


def dbf_encoding(dbf: Path) -> str:
    """UTF-8 when the DBF's text decodes as UTF-8, else GB18030 (a superset of GBK); ASCII counts as UTF-8."""
    with dbf.open("rb") as f:
        header = f.read(32)
        if len(header) < 32:
            raise ImportRejected(f"{dbf.name} is not a DBF file (too short)")
        f.seek(int.from_bytes(header[8:10], "little"))
        sample = f.read(8 << 20)
    utf8 = codecs.getincrementaldecoder("utf-8")()
    try:
        utf8.decode(sample, final=False)
        return "UTF-8"
    except UnicodeDecodeError:
        pass
    gb = codecs.getincrementaldecoder("gb18030")()
    try:
        gb.decode(sample, final=False)
        return "GB18030"
    except UnicodeDecodeError:
        raise ImportRejected(f"{dbf.name}: text is neither UTF-8 nor GBK/GB18030; name the encoding with "
                             "--encoding") from None


def shapefile_source(shp: Path, encoding: str | None) -> Source:
    missing = [s for s in (".shx", ".dbf") if _sibling(shp, s) is None]
    if missing:
        raise ImportRejected(f"Shapefile {shp.name} is incomplete: {' and '.join(missing)} missing "
                             "(zip the .shp, .shx, .dbf, .prj and .cpg together)")
    if encoding is None:
        cpg = _sibling(shp, ".cpg")
        declared = cpg.read_text("ascii", "replace").strip() if cpg else ""
        if declared:
            encoding = {"936": "GBK", "CP936": "GBK", "UTF8": "UTF-8"}.get(declared.upper(), declared)
        else:
            encoding = dbf_encoding(_sibling(shp, ".dbf"))
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ImportRejected(f"unknown text encoding {encoding!r} (try UTF-8, GBK or GB18030)") from None
    return Source(shp, "ESRI Shapefile", encoding=encoding)


def choose_layer(path: Path, layer: str | None) -> str | None:
    """The layer to read from a multi-layer file: the named one, or the only one."""
    try:
        names = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:  # noqa: BLE001 - GDAL reports unreadable files as several error types
        raise ImportRejected(f"{path.name} cannot be read: {exc}") from None
    if layer is not None:
        if layer not in names:
            raise ImportRejected(f"{path.name} has no layer {layer!r}; its layers: {', '.join(names)}")
        return layer
    if len(names) > 1:
        raise ImportRejected(f"{path.name} has {len(names)} layers ({', '.join(names)}); choose one with --layer")
    return names[0] if names else None


def open_source(upload: Path, workdir: Path, *, layer: str | None = None, encoding: str | None = None) -> Source:
    """Find what to read in ``upload`` (unzipping into ``workdir`` when needed)."""
    kind = sniff_format(upload)
    if kind == "zip":
        files = safe_unzip(upload, workdir)
        shps = [p for p in files if p.suffix.lower() == ".shp"]
        if len(shps) > 1:
            raise ImportRejected(f"the zip holds {len(shps)} Shapefiles; send one layer per upload")
        if shps:
            return shapefile_source(shps[0], encoding)
        if any(p.suffix.lower() in (".dbf", ".shx") for p in files):
            raise ImportRejected("the zip has Shapefile parts but no .shp file")
        data = [p for p in files if p.suffix.lower() in DATA_SUFFIXES]
        if len(data) != 1:
            raise ImportRejected("the zip must hold one Shapefile (.shp/.shx/.dbf) or one GeoPackage, GeoJSON, "
                                 "FlatGeobuf or CSV file")
        return open_source(data[0], workdir, layer=layer, encoding=encoding)
    if kind == "ESRI Shapefile":
        return shapefile_source(upload, encoding)
    if kind == "CSV":
        separator = csv_rows.detect_separator(csv_rows.header_line(upload, encoding))
        return Source(upload, "CSV", encoding=encoding, separator=separator,
                      options={**CSV_OPTIONS, "SEPARATOR": csv_rows.SEPARATORS[separator]})
    return Source(upload, kind, layer=choose_layer(upload, layer), encoding=encoding)
