"""Bodies the geocoding API cannot use are a 400 naming the problem, never a 500 (issue 11 §3)."""

import pytest

from geoplatform.geocoding.loading import load_gazetteer
from geoplatform.limits import MAX_JSON_DEPTH

from .gazetteer_fixture import write_gazetteer_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth(tmp_path, department, api_key):
    load_gazetteer(write_gazetteer_csv(tmp_path / "gazetteer.csv"), owner=department)
    return {"HTTP_AUTHORIZATION": f"Bearer {api_key[1]}"}


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_body_gets_400(client, auth, depth):
    response = client.post("/api/geocode", "[" * depth + "]" * depth, content_type="application/json", **auth)
    assert response.status_code == 400
    assert response.json()["detail"] == f"JSON body nested more than {MAX_JSON_DEPTH} levels deep; send a flatter document"


def test_address_with_a_nul_character_gets_400_naming_it(client, auth):
    response = client.post("/api/geocode", ["西城区牛街5号", "牛街\u00007号"], content_type="application/json", **auth)
    assert response.status_code == 400
    assert response.json()["detail"] == "address 2 contains a NUL character (\\u0000); remove it"


def test_nul_in_the_query_gets_400(client, auth):
    response = client.get("/api/geocode?q=%E7%89%9B%00", **auth)
    assert response.status_code == 400 and "query parameter 'q' contains a NUL character" in response.json()["detail"]


def test_a_flat_list_is_still_geocoded(client, auth):
    response = client.post("/api/geocode", ["西城区牛街5号"], content_type="application/json", **auth)
    assert response.status_code == 200 and response.json()[0]["level"] == "door"
