"""A grant stored before transforms were checked against field types (a ``range`` of a text field) never fails a read.

Issue 11: every read of such a grant gave 500 (PostgreSQL could not read "1.2.3" as a number) and the
streamed downloads sent 200 then cut the connection. Each read path must answer, the value hidden.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pyogrio
import pytest
from django.utils import timezone

from catalog.models import Entry, Grant
from tests.layers.conftest import write_points
from tests.layers.test_serving import client_for
from tests.layers.test_tiles import decoded, tile_of

NAMES = ("1.2.3", "2021.05.03", "153")  # text that looks enough like a number to reach a numeric cast
LEGACY = {"name": {"kind": "range", "step": 100},           # approved before the type check: text, not a number
          "staff": {"kind": "year"},                         # an integer field has no year
          "id_number": {"kind": "mask", "keep_last": True}}  # malformed spec stored by hand


@pytest.fixture
def legacy(publish, tmp_path, other_department):
    """"companies" on application, granted to ``other_department`` with transforms that do not fit."""
    publish(write_points(tmp_path / "v1.gpkg", names=NAMES), key="code", title="企业")
    entry = Entry.objects.get(slug="companies")
    entry.sharing = Entry.Sharing.APPLICATION
    entry.save()
    Grant.objects.create(department=other_department, entry=entry, valid_to=timezone.now() + timedelta(days=30),
                         transforms=LEGACY)
    return client_for(other_department)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_hidden(raw: bytes) -> None:
    for clear in (*NAMES, "110101199001011234", "110101199001015678"):
        assert clear.encode() not in raw, clear


def features(client, **params) -> list[dict]:
    response = client.get("/ogc/collections/companies/items", params)
    assert response.status_code == 200, response.content
    found = json.loads(response.content)["features"]
    assert_hidden(json.dumps(found, ensure_ascii=False).encode())  # the self link echoes the request
    return found


def test_items_of_a_misfitting_grant_read_with_the_values_hidden(legacy):
    found = features(legacy)
    assert sorted(f["properties"]["code"] for f in found) == ["A1", "A2", "A3"]
    assert {(f["properties"]["name"], f["properties"]["staff"], f["properties"]["id_number"]) for f in found} == {
        (None, None, None)}


def test_single_item_of_a_misfitting_grant_reads(legacy):
    fid = features(legacy, code="A2")[0]["id"]
    response = legacy.get(f"/ogc/collections/companies/items/{fid}")
    assert response.status_code == 200, response.content
    assert response.json()["properties"] == {"code": "A2", "name": None, "staff": None, "id_number": None}


@pytest.mark.parametrize(("params", "codes"), [
    ({"filter": "name IS NULL"}, ["A1", "A2", "A3"]),
    ({"filter": "name = '153'"}, []),              # a hidden value cannot be probed by filtering
    ({"filter": "name LIKE '1%'"}, []),
    ({"filter": "staff IS NULL AND code <> 'A1'"}, ["A2", "A3"]),
    ({"name": "1.2.3"}, []),
    ({"sortby": "-name"}, ["A1", "A2", "A3"]),
    ({"sortby": "staff,name"}, ["A1", "A2", "A3"]),
])
def test_filters_and_sort_orders_on_a_misfitting_field_answer(legacy, params, codes):
    assert sorted(f["properties"]["code"] for f in features(legacy, **params)) == codes


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg", "shp"])
def test_downloads_of_a_misfitting_grant_are_whole_files_with_the_values_hidden(legacy, fmt, tmp_path):
    response = legacy.get(f"/api/layers/companies/download.{fmt}")
    assert response.status_code == 200
    raw = body_of(response)
    assert_hidden(raw)
    if fmt == "csv":
        lines = raw.decode("utf-8-sig").splitlines()
        assert lines[0] == "fid,wkt,code,name,id_number,staff" and len(lines) == 4
        assert all(line.split(",")[3:] == ["", "", ""] for line in lines[1:])
        return
    if fmt == "geojson":
        doc = json.loads(raw)
        assert [f["properties"]["name"] for f in doc["features"]] == [None, None, None]
        return
    path = tmp_path / f"out.{fmt}"
    if fmt == "shp":
        zipfile.ZipFile(io.BytesIO(raw)).extractall(tmp_path)
        path = tmp_path / "companies-v1.shp"
    else:
        path.write_bytes(raw)
    frame = pyogrio.read_dataframe(path)
    assert sorted(frame["code"]) == ["A1", "A2", "A3"]
    assert frame["name"].isna().all() and frame["staff"].isna().all() and frame["id_number"].isna().all()


def attributes(tile: bytes, tmp_path) -> list[dict]:
    return [{k: v for k, v in r[2].items() if k != "mvt_id"} for r in decoded(tile, tmp_path / "t.mvt")]


def test_vector_tiles_of_a_misfitting_grant_are_served(legacy, tmp_path):
    z, x, y = tile_of(116.40, 39.95, 10)
    tile = legacy.get(f"/api/layers/companies/tiles/{z}/{x}/{y}.mvt")
    assert tile.status_code == 200 and tile.content
    assert_hidden(tile.content)
    assert attributes(tile.content, tmp_path) == [{"code": "A2"}, {"code": "A3"}]  # no name, staff, id_number
    ogc = legacy.get(f"/ogc/collections/companies/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert ogc.status_code == 200 and ogc.content == tile.content
    assert legacy.get("/api/layers/companies/tilejson.json").status_code == 200


@pytest.mark.django_db(transaction=True)  # the Arrow tile path reads committed rows on its own connection
def test_arrow_encoded_tiles_of_a_misfitting_grant_are_served(legacy, tmp_path, monkeypatch):
    from geoplatform.layers import conf

    monkeypatch.setattr(conf, "ARROW_TILE_MIN_FEATURES", 0)
    z, x, y = tile_of(116.40, 39.95, 10)
    tile = legacy.get(f"/api/layers/companies/tiles/{z}/{x}/{y}.mvt")
    assert tile.status_code == 200 and tile.content
    assert_hidden(tile.content)
    assert attributes(tile.content, tmp_path) == [{"code": "A2"}, {"code": "A3"}]  # no name, staff, id_number


def test_the_owner_still_reads_clear_values(legacy, department):
    owner = client_for(department)
    names = {f["properties"]["name"] for f in json.loads(owner.get("/ogc/collections/companies/items").content)[
        "features"]}
    assert names == set(NAMES)
