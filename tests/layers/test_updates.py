"""Monthly updates: a full file stages only new and changed rows; a change set carries only the changes."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
import shapely
from django.core.management import CommandError, call_command
from django.db import connection

from geoplatform.layers.importing.changes import row_hashes, schema_seed
from geoplatform.layers.importing.errors import ImportRejected
from tests.layers.conftest import write_points


def rows(layer) -> list[tuple]:
    """(key, name, first version) of the current rows."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT gp_key, a2, gp_vfrom FROM {layer.table} WHERE gp_vto IS NULL ORDER BY gp_key")
        return cursor.fetchall()


def table_size(layer) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {layer.table}")
        return cursor.fetchone()[0]


def change_set(path, codes, names, deleted=None, points=None):
    """A GeoPackage of changed rows with the layer's fields (and a ``_deleted`` column when given)."""
    n = len(codes)
    points = points or [(116.45, 39.97)] * n
    fields = [np.array(codes, dtype=object), np.array(names, dtype=object),
              np.array(["110101199001011234"] * n, dtype=object), np.array([10] * n, dtype=np.int32)]
    names_ = ["code", "name", "id_number", "staff"]
    if deleted is not None:
        fields.append(np.array(deleted, dtype=np.int32))
        names_.append("_deleted")
    pyogrio.raw.write(str(path), shapely.to_wkb(shapely.points(np.array(points))), fields, names_,
                      driver="GPKG", geometry_type="Point", crs="EPSG:4490")
    return path


def test_row_hashes_follow_values_and_schema():
    keys = np.array(["A1", "A2"], dtype=object)
    wkb = shapely.to_wkb(shapely.points([(1, 2), (3, 4)]))
    seed = schema_seed([("code", "text"), ("staff", "integer")])
    base = row_hashes(seed, keys, [np.array([10, 20])], wkb)
    assert (base == row_hashes(seed, keys.copy(), [np.array([10, 20])], wkb.copy())).all()
    changed = row_hashes(seed, keys, [np.array([10, 21])], wkb)
    assert changed[0] == base[0] and changed[1] != base[1]
    moved = row_hashes(seed, keys, [np.array([10, 20])], shapely.to_wkb(shapely.points([(1, 2), (3, 4.000001)])))
    assert moved[0] == base[0] and moved[1] != base[1]
    retyped = row_hashes(schema_seed([("code", "text"), ("staff", "text")]), keys, [np.array([10, 20])], wkb)
    assert (retyped != base).all()


def test_full_file_update_writes_only_changed_rows(published, publish, tmp_path):
    v2 = publish(write_points(tmp_path / "v2.gpkg", codes=("A1", "A2", "A4"), names=("甲公司", "乙公司改", "丁公司")))
    assert v2.report["diff"] == {"added": 1, "changed": 1, "removed": 1}
    assert v2.feature_count == 3
    assert rows(published.layer) == [("A1", "甲公司", 1), ("A2", "乙公司改", 2), ("A4", "丁公司", 2)]
    assert table_size(published.layer) == 5  # unchanged A1 was neither staged nor rewritten
    v3 = publish(write_points(tmp_path / "v3.gpkg", codes=("A1", "A2", "A4"), names=("甲公司", "乙公司改", "丁公司")))
    assert v3.report["diff"] == {"added": 0, "changed": 0, "removed": 0}
    assert table_size(published.layer) == 5


def test_layer_stored_before_row_hashes_is_compared_by_value(published, publish, tmp_path):
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {published.layer.table} DROP COLUMN gp_hash")
    v2 = publish(write_points(tmp_path / "v2.gpkg", names=("甲公司", "乙公司改", "丙公司")))
    assert v2.report["diff"] == {"added": 0, "changed": 1, "removed": 0}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {published.layer.table} WHERE gp_vto IS NULL AND gp_hash IS NULL")
        assert cursor.fetchone()[0] == 0  # hashes filled in for the unchanged rows
    v3 = publish(write_points(tmp_path / "v3.gpkg", names=("甲公司", "乙公司改", "丙公司")))
    assert v3.report["diff"] == {"added": 0, "changed": 0, "removed": 0}


def test_change_set_with_deleted_column(published, publish, tmp_path):
    path = change_set(tmp_path / "c.gpkg", codes=["A2", "A4", "A3", "A1"], names=["乙公司改", "丁公司", "", "甲公司"],
                      deleted=[0, 0, 1, 0], points=[(116.4, 39.95), (116.45, 39.97), (116.5, 40.0), (116.3, 39.9)])
    v2 = publish(path, changes=True)
    assert v2.report["diff"] == {"added": 1, "changed": 1, "removed": 1}  # A1 came unchanged: left alone
    assert v2.feature_count == 3
    assert [r[:2] for r in rows(published.layer)] == [("A1", "甲公司"), ("A2", "乙公司改"), ("A4", "丁公司")]
    assert v2.extent == pytest.approx([116.3, 39.9, 116.45, 39.97])  # A3 on the old edge was removed: recomputed


def test_closing_rows_adds_no_index_entries(published, publish, tmp_path):
    """Closing a row only sets gp_vto, which no index covers: PostgreSQL can do it as a heap-only (HOT) update,
    so a small change does not grow the layer's GiST and key indexes by the rows it closes."""
    path = change_set(tmp_path / "c.gpkg", codes=["A1", "A2"], names=["甲公司改", "乙公司改"], deleted=[0, 1])
    publish(path, changes=True)
    name = published.layer.table.split(".")[1]
    with connection.cursor() as cursor:  # counters of this (test) transaction
        cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE schemaname = 'layer_data' "
                       "AND relname = %s", [name])
        assert cursor.fetchone() == (2, 2)


def test_unchanged_rows_in_a_change_set_are_left_alone(published, publish, tmp_path):
    again = change_set(tmp_path / "same.gpkg", codes=["A1"], names=["甲公司"], points=[(116.3, 39.9)])
    v2 = publish(again, changes=True)
    assert v2.report["diff"] == {"added": 0, "changed": 0, "removed": 0} and v2.feature_count == 3
    assert table_size(published.layer) == 3


def test_delete_keys_file_from_the_command_line(published, department, tmp_path, capsys):
    keys = tmp_path / "gone.txt"
    keys.write_text("A1\n\nA3\n", encoding="utf-8")
    changes = change_set(tmp_path / "c.gpkg", codes=["A5"], names=["戊公司"])
    call_command("layer", "publish", str(changes), "--owner", department.code, "--name", "companies",
                 "--changes", "--delete-keys", str(keys), "--no-progress")
    assert '"diff": {"added": 1, "changed": 0, "removed": 2}' in capsys.readouterr().out
    assert [r[0] for r in rows(published.layer)] == ["A2", "A5"]
    with pytest.raises(CommandError, match="--delete-keys goes with --changes"):
        call_command("layer", "publish", str(changes), "--owner", department.code, "--name", "companies",
                     "--delete-keys", str(keys), "--no-progress")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"delete_keys": ("A9",)}, "cannot delete keys the current version does not have: 'A9'"),
    ({"delete_keys": ("A4",)}, "keys both changed and deleted in this change set: 'A4'"),
])
def test_inconsistent_change_sets_are_refused(published, publish, tmp_path, kwargs, message):
    with pytest.raises(ImportRejected, match=message):
        publish(change_set(tmp_path / "c.gpkg", codes=["A4"], names=["丁公司"]), changes=True, **kwargs)
    published.layer.refresh_from_db()
    assert published.layer.current_version == 1 and table_size(published.layer) == 3


def test_change_set_must_keep_the_schema_and_needs_a_keyed_layer(published, publish, tmp_path):
    other = tmp_path / "other.geojson"
    other.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"A1",'
                     '"phone":"123"},"geometry":{"type":"Point","coordinates":[116.3,39.9]}}]}')
    with pytest.raises(ImportRejected, match="a change set must have the layer's fields"):
        publish(other, changes=True)
    publish(write_points(tmp_path / "plain.gpkg"), slug="plain")
    with pytest.raises(ImportRejected, match="plain has none: publish the whole file with --key first"):
        publish(write_points(tmp_path / "p.gpkg"), slug="plain", key="code", changes=True)


def test_change_set_over_http(published, department, tmp_path):
    from rest_framework.test import APIClient

    from catalog.keys import create_api_key

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_api_key(department, 'app')[1]}")
    with change_set(tmp_path / "c.gpkg", codes=["A4"], names=["丁公司"]).open("rb") as f:
        response = client.post("/api/layers/companies/versions",
                               {"file": f, "changes": "true", "delete_keys": "A1\nA3\n"}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["report"]["diff"] == {"added": 1, "changed": 0, "removed": 2}
    assert response.json()["feature_count"] == 2
