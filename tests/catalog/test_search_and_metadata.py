"""Catalog search (Chinese text without segmentation, filters, facets, paging) and metadata exports."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.contrib.gis.geos import Polygon

from catalog.entries import mark_published
from catalog.models import Category, Entry, Notification, Subscription
from catalog.notify import SIGNATURE_HEADER


def get(client, city, path, who="stranger"):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {city.keys[who]}")


@pytest.fixture
def roads(city):
    parent = Category.objects.create(code="jt", name_zh="交通")
    category = Category.objects.create(code="jt-dl", name_zh="道路", parent=parent)
    extent = Polygon.from_bbox((116.2, 39.8, 116.5, 40.0))
    extent.srid = 4490
    return Entry.objects.create(slug="road-centrelines", kind="layer", owner=city.departments["granted"],
                                title_zh="城市道路中心线", title_en="Road centre lines", abstract="全市主次干路",
                                keywords=["道路", "交通"], category=category, sharing="open", extent=extent)


def test_chinese_substring_search_without_segmentation(client, city, roads):
    for q in ("道路中心", "中心线", "干路", "centre", "ROAD", "道路 交通"):
        slugs = [e["slug"] for e in get(client, city, f"/api/catalog/?q={q}").json()["results"]]
        assert slugs == ["road-centrelines"], q
    assert get(client, city, "/api/catalog/?q=铁路").json()["total"] == 0


def test_search_by_owner_name(client, city, roads):
    slugs = {e["slug"] for e in get(client, city, "/api/catalog/?q=市场监督").json()["results"]}
    assert slugs == {"businesses-open", "businesses-application"}, "unlisted entries stay hidden"


def test_filters_facets_and_paging(client, city, roads):
    body = get(client, city, "/api/catalog/?limit=1").json()
    assert body["total"] == 3 and len(body["results"]) == 1 and "offset=1" in body["next"]
    assert {f["value"]: f["count"] for f in body["facets"]["department"]} == {"owner": 2, "granted": 1}
    assert get(client, city, "/api/catalog/?department=granted").json()["total"] == 1
    assert get(client, city, "/api/catalog/?kind=imagery").json()["total"] == 0
    assert get(client, city, "/api/catalog/?category=jt").json()["total"] == 1, "a parent category finds its children"
    assert get(client, city, "/api/catalog/?bbox=116.4,39.9,116.6,40.1").json()["total"] == 1
    assert get(client, city, "/api/catalog/?bbox=100,20,101,21").json()["total"] == 0
    assert get(client, city, "/api/catalog/?updated_since=2000-01-01").json()["total"] == 3
    assert get(client, city, "/api/catalog/?updated_since=2999-01-01").json()["total"] == 0


@pytest.mark.parametrize("query", ["bbox=1,2,3", "bbox=200,0,201,1", "limit=0", "limit=x", "updated_since=yesterday"])
def test_bad_search_parameters_are_400(client, city, query):
    response = get(client, city, f"/api/catalog/?{query}")
    assert response.status_code == 400 and response.json()["detail"]


def test_owner_and_admin_see_unlisted_entries(client, city):
    assert get(client, city, "/api/catalog/?q=unlisted", who="owner").json()["total"] == 1
    assert get(client, city, "/api/catalog/businesses-unlisted/", who="stranger").status_code == 404
    assert get(client, city, "/api/catalog/businesses-unlisted/", who="owner").status_code == 200


def test_entry_metadata_and_exports(client, city, roads):
    detail = get(client, city, "/api/catalog/road-centrelines/").json()
    assert detail["owner"] == "granted" and detail["bbox"] == [116.2, 39.8, 116.5, 40.0]
    record = get(client, city, detail["links"]["record"]).json()
    assert record["type"] == "Feature" and record["properties"]["title"] == "城市道路中心线"
    assert record["geometry"]["type"] == "Polygon"
    assert record["properties"]["contacts"][0]["organization"] == "市商务局"
    doc = get(client, city, detail["links"]["dcat"]).json()
    assert doc["@type"] == "dcat:Dataset" and doc["dcat:keyword"] == ["道路", "交通"]
    assert get(client, city, "/api/catalog/road-centrelines/stac").status_code == 400


class Recorder(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_subscribers_get_in_app_and_signed_webhook_notices(client, city, django_capture_on_commit_callbacks):
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.handle_request, daemon=True).start()
    subscriber = city.departments["stranger"]
    subscriber.webhook_url = f"http://127.0.0.1:{server.server_port}/hook"
    subscriber.webhook_secret = "s3cret"
    subscriber.save()
    assert client.post("/api/catalog/businesses-open/subscription",
                       HTTP_AUTHORIZATION=f"Bearer {city.keys['stranger']}").status_code == 200
    assert Subscription.objects.filter(department=subscriber).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        mark_published(city.entries["open"], feature_count=42, extent=None)
    server.server_close()
    notice = Notification.objects.get(department=subscriber, kind="entry_updated")
    headers, body = Recorder.received[-1]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    assert json.loads(body)["payload"]["feature_count"] == 42
    notice.refresh_from_db()
    assert notice.webhook_status == "delivered 204"
