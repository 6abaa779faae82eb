"""Where the matcher's index comes from: a gazetteer CSV, or the active PostGIS version.

Reading 380k rows from PostGIS and indexing them takes seconds; a batch run or a web
worker should not pay that twice, so an index built from the database is cached in
memory per process and pickled on disk per gazetteer version (a new version, a new file).
"""

from __future__ import annotations

import pickle
import tempfile
import threading
from pathlib import Path

from geoplatform.geocoding.gazetteer_csv import (
    GazetteerRow,
    parse_column_map,
    read_alias_csv,
    read_gazetteer_rows,
)
from geoplatform.geocoding.index import GazetteerIndex, build_index

_CACHE: dict[str, GazetteerIndex] = {}
_BUILD_LOCK = threading.Lock()


class NoGazetteer(LookupError):
    """No gazetteer has been loaded into the database yet."""


def load_index(gazetteer_csv: str | None = None, column_map: list[str] | None = None,
               aliases_csv: str | None = None) -> GazetteerIndex:
    """The index of ``gazetteer_csv`` if given, else of the active database version."""
    if gazetteer_csv:
        aliases = read_alias_csv(aliases_csv) if aliases_csv else {}
        return build_index(read_gazetteer_rows(gazetteer_csv, parse_column_map(column_map)),
                           aliases.get("district"), aliases.get("township"), aliases.get("road"))
    return active_index()


def active_index() -> GazetteerIndex:
    """Index of the active gazetteer version (memory, then disk cache, then PostGIS)."""
    from geoplatform.geocoding.models import GazetteerVersion

    version = GazetteerVersion.objects.filter(is_active=True).first()
    if version is None:
        raise NoGazetteer("no gazetteer loaded: run `geoplatform gazetteer load FILE.csv` "
                          "or pass --gazetteer FILE.csv")
    key = _cache_key(version)
    if key in _CACHE:
        return _CACHE[key]
    with _BUILD_LOCK:  # the web server's threads wait for one build instead of each making its own
        if key in _CACHE:
            return _CACHE[key]
        return _load_or_build(version, key)


def _load_or_build(version, key: str) -> GazetteerIndex:
    path = _cache_dir() / f"index-{key}.pickle"
    index = None
    if path.exists():
        try:
            with open(path, "rb") as fh:
                index = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            index = None
    if index is None:
        aliases = version.aliases or {}
        index = build_index(_rows_from_database(version.pk), aliases.get("district"), aliases.get("township"),
                            aliases.get("road"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # a temporary file of this writer's own: other processes may be storing the same index at once
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as fh:
            pickle.dump(index, fh, protocol=pickle.HIGHEST_PROTOCOL)
        Path(fh.name).replace(path)
        for old in path.parent.glob(f"index-{_database_name()}-*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    _CACHE.clear()
    _CACHE[key] = index
    return index


def _cache_key(version) -> str:
    """Database name + version id + load time: a test database's v1 is not the real v1."""
    return f"{_database_name()}-{int(version.created_at.timestamp())}-v{version.pk}"


def _database_name() -> str:
    from django.db import connection

    return str(connection.settings_dict["NAME"])


def _cache_dir() -> Path:
    from django.conf import settings

    return Path(settings.DATA_DIR) / "geocoding"


def _rows_from_database(version_id: int):
    from django.db import connection

    sql = ("SELECT address_id, standard_address, level, district, district_code, township, township_code, road, "
           "road_id, house_number, number_prefix, compound, building, poi, ST_X(point), ST_Y(point) "
           "FROM geocoding_address WHERE version_id = %s ORDER BY id")
    with connection.chunked_cursor() as cur:
        cur.execute(sql, [version_id])
        while batch := cur.fetchmany(10_000):
            for rec in batch:
                yield GazetteerRow(*rec)
