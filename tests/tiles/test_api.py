"""/api/imagery/: which collections and years a caller may discover, through the catalog (audited)."""

from __future__ import annotations

import pytest
from django.test import Client

from catalog.models import AuditEvent, Entry

pytestmark = pytest.mark.django_db


def as_key(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def collections(ingest, tmp_path):
    ingest(2023, slug="aerial")
    ingest(2024, slug="aerial")
    ingest(2024, slug="hidden")
    Entry.objects.filter(slug="hidden").update(sharing=Entry.Sharing.UNLISTED, legal_basis="《测绘法》第三十四条")


def test_other_department_discovers_shared_collections_but_not_unlisted(collections, other_department):
    from catalog.keys import create_api_key

    raw = create_api_key(other_department, "app")[1]
    body = as_key(raw).get("/api/imagery/").json()
    assert [c["slug"] for c in body["collections"]] == ["aerial"]
    aerial = body["collections"][0]
    assert aerial["readable"] is False and [y["year"] for y in aerial["years"]] == [2023, 2024]
    assert aerial["years"][1]["tilejson"] == "http://testserver/tiles/aerial/2024/tilejson.json"
    assert aerial["wmts"] == "http://testserver/tiles/1.0.0/WMTSCapabilities.xml"
    event = AuditEvent.objects.latest("id")
    assert (event.department, event.action, event.reason) == ("swj", "discover", "1 imagery collections listed")


def test_owner_sees_and_may_read_its_own_collections(collections, api_key):
    body = as_key(api_key[1]).get("/api/imagery/").json()
    assert {c["slug"]: c["readable"] for c in body["collections"]} == {"aerial": True, "hidden": True}


def test_detail_is_the_catalogs_decision(collections, api_key, other_department):
    from catalog.keys import create_api_key

    detail = as_key(api_key[1]).get("/api/imagery/aerial/")
    assert detail.status_code == 200 and detail.json()["years"][0]["bands"] == 3
    other = as_key(create_api_key(other_department, "app")[1])
    assert other.get("/api/imagery/hidden/").status_code == 404
    assert other.get("/api/imagery/nothing/").status_code == 404
    assert AuditEvent.objects.filter(entry="hidden", allowed=False, department="swj").exists()


def test_anonymous_gets_401(collections):
    assert Client().get("/api/imagery/").status_code == 401
    assert Client().get("/api/imagery/aerial/").status_code == 401
