"""Catalog search parameters that cannot be used are a 400 naming the problem, never a 500 (issue 11 §3)."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth(api_key):
    return {"HTTP_AUTHORIZATION": f"Bearer {api_key[1]}"}


@pytest.mark.parametrize(("query", "name"), [("q=%00", "q"), ("q=%E9%81%93%00%E8%B7%AF", "q"),
                                             ("department=jtw%00", "department"), ("kind=%00", "kind")])
def test_nul_in_a_search_parameter_gets_400(client, auth, query, name):
    response = client.get(f"/api/catalog/?{query}", **auth)
    assert response.status_code == 400
    assert response.json()["detail"] == (f"query parameter {name!r} contains a NUL character (%00), which no field "
                                         "can hold; remove it")


@pytest.mark.parametrize(("bbox", "words"), [
    ("nan,39,117,40", "'nan' is not a finite number"),
    ("116,39,inf,40", "'inf' is not a finite number"),
    ("116,41,117,39", "south edge 41 is north of the north edge 39"),
    ("117,39,116,40", "west edge 117 is east of the east edge 116"),
    ("116,39,200,40", "outside -180..180, -90..90"),
    ("116,39,117", "expected four numbers"),
])
def test_bad_search_bbox_gets_400(client, auth, bbox, words):
    response = client.get("/api/catalog/", {"bbox": bbox}, **auth)
    assert response.status_code == 400 and words in response.json()["detail"]


@pytest.mark.parametrize(("since", "words"), [
    ("2026-02-30", "day is out of range for month"), ("2026-01-01T10:00:00-23:00", "UTC offset must be within ±14:00"),
    ("yesterday", "cannot be read as a date"),
])
def test_impossible_updated_since_gets_400(client, auth, since, words):
    detail = client.get("/api/catalog/", {"updated_since": since}, **auth).json()["detail"]
    assert detail.startswith(f"updated_since {since!r}") and words in detail


def test_good_search_still_answers(client, auth):
    response = client.get("/api/catalog/", {"q": "道路", "bbox": "116.2,39.8,116.6,40.1"}, **auth)
    assert response.status_code == 200 and response.json()["total"] == 0


def test_browse_page_with_a_nul_gets_400(client):
    """Refused before the page runs: the search would hand the NUL to PostgreSQL."""
    assert client.get("/catalog/?q=%00").status_code == 400
