"""The geocoding HTTP API: authenticated, checked by the catalog, thin over the matcher."""

import pytest

from geoplatform.geocoding.loading import load_gazetteer

from .gazetteer_fixture import ROADS, door_point, write_gazetteer_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded(tmp_path, department):
    return load_gazetteer(write_gazetteer_csv(tmp_path / "gazetteer.csv"), owner=department)


@pytest.fixture
def auth(api_key):
    return {"HTTP_AUTHORIZATION": f"Bearer {api_key[1]}"}


@pytest.mark.parametrize("url", ["/api/geocode?q=牛街5号", "/api/reverse?lon=116.36&lat=39.88"])
def test_without_a_key_401(client, loaded, url):
    response = client.get(url)
    assert response.status_code == 401 and "WWW-Authenticate" in response


def test_geocode_one_address(client, loaded, auth):
    response = client.get("/api/geocode", {"q": "北京市朝阳区朝杨北路17号院3号楼"}, **auth)
    body = response.json()
    assert response.status_code == 200
    assert body["level"] == "building" and body["matched_address"].endswith("朝阳北路17号院3号楼")
    assert body["score"] < 1 and body["address_id"] and "candidates" in body


def test_geocode_ambiguous_address_lists_candidates(client, loaded, auth):
    body = client.get("/api/geocode", {"q": "清风路5号"}, **auth).json()
    assert body["level"] == "none" and body["lon"] is None and len(body["candidates"]) == 2


def test_geocode_a_list(client, loaded, auth):
    response = client.post("/api/geocode", ["西城区牛街5号", "同上", ""], content_type="application/json", **auth)
    assert response.status_code == 200
    assert [r["level"] for r in response.json()] == ["door", "none", "none"]


def test_geocode_list_too_long_is_400(client, loaded, auth, monkeypatch):
    monkeypatch.setattr("geoplatform.geocoding.views.MAX_LIST", 2)
    response = client.post("/api/geocode", ["a", "b", "c"], content_type="application/json", **auth)
    assert response.status_code == 400 and "at most 2" in response.json()["detail"]


def test_geocode_without_q_is_400(client, loaded, auth):
    assert client.get("/api/geocode", **auth).status_code == 400


def test_reverse_nearest_with_distance(client, loaded, auth):
    lon, lat = door_point(ROADS[1], 7)
    body = client.get("/api/reverse", {"lon": lon, "lat": lat, "limit": 2}, **auth).json()
    assert body["results"][0]["standard_address"].endswith("牛街7号") and body["results"][0]["distance_m"] < 1
    assert len(body["results"]) == 2


def test_reverse_rejects_coordinates_out_of_range(client, loaded, auth):
    assert client.get("/api/reverse", {"lon": 200, "lat": 39.9}, **auth).status_code == 400


def test_calls_are_audited(client, loaded, auth):
    from catalog.models import AuditEvent

    before = AuditEvent.objects.count()
    client.get("/api/geocode", {"q": "牛街5号"}, **auth)
    assert AuditEvent.objects.count() == before + 1


def test_rate_limited_per_key(client, loaded, auth, monkeypatch):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr("geoplatform.geocoding.views.PerKeyThrottle.get_rate", lambda self: "2/min")
    codes = [client.get("/api/geocode", {"q": "牛街5号"}, **auth).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_rate_limit_counts_in_the_shared_database_cache(client, api_key, settings):
    """Every web process and machine sees the same count: the throttle's history lives in PostgreSQL."""
    from django.db import connection

    _key, raw = api_key
    client.get("/api/geocode", {"q": "美术馆后街1号"}, HTTP_AUTHORIZATION=f"Bearer {raw}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM geoplatform_cache WHERE cache_key LIKE %s", ["%throttle_geocode_%"])
        assert cursor.fetchone()[0] == 1
    from django.core.cache import caches

    assert caches["default"].__class__.__name__ == "DatabaseCache"


def test_the_answer_names_the_corrections_it_rests_on(client, loaded, auth):
    """A clerk sees which answers were corrected (district, road, number) and reviews those first."""
    corrected = client.get("/api/geocode", {"q": "阳朝区望京街道榆南街3号"}, **auth).json()
    assert corrected["corrections"] == ["district_corrected", "road_fuzzy"]
    plain = client.get("/api/geocode", {"q": "东城区美术馆后街12号"}, **auth).json()
    assert plain["corrections"] == []
