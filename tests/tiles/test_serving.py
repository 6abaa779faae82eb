"""Serving imagery tiles: grants decide, tokens carry the decision, nothing but the registry names a file.

The tile service runs in other threads than the test (FastAPI's TestClient), so the data must be
committed: these tests use a transactional database.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import urlsplit

import morecantile
import numpy as np
import pytest
from django.utils import timezone
from fastapi.testclient import TestClient
from rasterio.io import MemoryFile

from catalog.audit import tile_counter
from catalog.keys import create_api_key
from catalog.models import AuditEvent, Entry, Grant, TileUsage
from tests.tiles.conftest import bearer
from tiles.tokens import issue_tile_token

pytestmark = pytest.mark.django_db(transaction=True)
TILE = morecantile.tms.get("WebMercatorQuad").tile(116.31, 39.91, 14)
TILE_PATH = f"14/{TILE.x}/{TILE.y}"
WMTS = "{http://www.opengis.net/wmts/1.0}"
OWS = "{http://www.opengis.net/ows/1.1}"


@pytest.fixture
def other_key(other_department):
    return create_api_key(other_department, "gis-app")[1]


def grant(department, slug: str = "aerial") -> Grant:
    return Grant.objects.create(department=department, entry=Entry.objects.get(slug=slug),
                                valid_to=timezone.now() + timedelta(days=30))


def decoded(content: bytes) -> np.ndarray:
    with MemoryFile(content) as memfile, memfile.open() as image:
        return image.read()


def test_owner_key_gets_a_real_jpeg_tile(client, aerial, api_key):
    response = client.get(f"/tiles/aerial/2024/{TILE_PATH}.jpg", headers=bearer(api_key[1]))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg" and response.content[:3] == b"\xff\xd8\xff"
    pixels = decoded(response.content)
    assert pixels.shape == (3, 256, 256) and pixels.max() > 200


def test_granted_department_reads_through_the_tilejson_token(client, aerial, other_department, other_key):
    grant(other_department)
    response = client.get(f"/tiles/aerial/2024/tilejson.json?token={other_key}&format=png")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["bounds"] == pytest.approx([116.30, 39.90, 116.32, 39.92]) and body["scheme"] == "xyz"
    template = body["tiles"][0]
    assert "token=gpt1." in template and other_key not in template
    tile = client.get(urlsplit(template.format(z=14, x=TILE.x, y=TILE.y))._replace(scheme="", netloc="").geturl())
    assert tile.status_code == 200 and tile.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert decoded(tile.content).shape[1:] == (256, 256)


def test_basic_auth_and_query_key_work_on_tile_urls(client, aerial, api_key):
    basic = base64.b64encode(f"qgis:{api_key[1]}".encode()).decode()
    assert client.get(f"/tiles/aerial/2024/{TILE_PATH}.png", headers={"Authorization": f"Basic {basic}"}
                      ).status_code == 200
    assert client.get(f"/tiles/aerial/2024/{TILE_PATH}.webp?token={api_key[1]}").status_code == 200


def test_open_collection_needs_no_grant(client, ingest, other_key):
    ingest(2024, slug="open-aerial", sharing=Entry.Sharing.OPEN)
    assert client.get(f"/tiles/open-aerial/2024/{TILE_PATH}.png", headers=bearer(other_key)).status_code == 200


def test_department_without_a_grant_gets_403_naming_why(client, aerial, other_key):
    tilejson = client.get(f"/tiles/aerial/2024/tilejson.json?token={other_key}")
    assert tilejson.status_code == 403 and "shared on application" in tilejson.json()["detail"]
    tile = client.get(f"/tiles/aerial/2024/{TILE_PATH}.png", headers=bearer(other_key))
    assert tile.status_code == 403 and "apply to" in tile.json()["detail"]


def test_no_token_is_401_with_a_challenge(client, aerial):
    response = client.get(f"/tiles/aerial/2024/{TILE_PATH}.png")
    assert response.status_code == 401 and "Bearer" in response.headers["www-authenticate"]
    assert client.get("/tiles/aerial/2024/tilejson.json").status_code == 401
    assert client.get("/tiles/1.0.0/WMTSCapabilities.xml").status_code == 401


def test_forged_expired_and_unknown_credentials_are_401_never_500(client, aerial, department, api_key):
    good = issue_tile_token("jtw", api_key[0].prefix, "aerial", hours=1)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    expired = issue_tile_token("jtw", api_key[0].prefix, "aerial", hours=-1)
    cases = {forged: "invalid tile token signature", expired: "tile token expired", "gpt1.%%%": "malformed",
             "gp_abcd2345_" + "x" * 43: "unknown API key"}
    for token, reason in cases.items():
        response = client.get(f"/tiles/aerial/2024/{TILE_PATH}.png", params={"token": token})
        assert response.status_code == 401 and reason in response.json()["detail"], (token, response.text)
    assert client.get(f"/tiles/aerial/2024/{TILE_PATH}.png", params={"token": good}).status_code == 200


def test_token_for_another_collection_is_403(client, aerial, ingest):
    ingest(2024, slug="secret")
    token = issue_tile_token("jtw", "", "aerial", hours=1)
    response = client.get(f"/tiles/secret/2024/{TILE_PATH}.png", params={"token": token})
    assert response.status_code == 403 and "issued for aerial" in response.json()["detail"]


@pytest.mark.parametrize("path", [
    "/tiles/..%2F..%2Fetc%2Fpasswd/2024/14/1/1.png",
    "/tiles/%2Fetc%2Fpasswd/2024/14/1/1.png",
    "/tiles/https:%2F%2Fevil.example%2Fa.tif/2024/14/1/1.png",
    "/tiles/aerial/..%2F2024/14/1/1.png",
    "/tiles/aerial/2024%2F..%2F..%2Fx/14/1/1.png",
    "/tiles/aerial/1999/14/1/1.png",
    "/tiles/AERIAL/2024/14/1/1.png",
    "/tiles/aerial/2024/tiles/WebMercatorQuad/14/1/1.png/../../../../etc/passwd",
    "/tiles/aerial%00/2024/info",
])
def test_paths_and_urls_in_the_collection_or_year_are_404_and_open_nothing(client, aerial, api_key, opened,
                                                                          path):
    response = client.get(path, headers=bearer(api_key[1]))
    assert response.status_code == 404 and opened == []


def test_a_url_parameter_is_ignored_the_registry_names_the_file(client, aerial, api_key, imagery_root, opened):
    response = client.get(f"/tiles/aerial/2024/{TILE_PATH}.png?url=/etc/passwd", headers=bearer(api_key[1]))
    assert response.status_code == 200 and opened == [str(imagery_root / aerial.path)]


def test_tiles_are_counted_per_department_key_and_day(client, aerial, other_department, other_key, api_key):
    for _ in range(3):
        client.get(f"/tiles/aerial/2024/{TILE_PATH}.png", headers=bearer(other_key))
    token = issue_tile_token("jtw", api_key[0].prefix, "aerial", hours=1)
    client.get(f"/tiles/aerial/2024/{TILE_PATH}.png", params={"token": token})
    tile_counter.flush()
    usage = {(u.department, u.api_key): (u.requests, u.denied) for u in TileUsage.objects.filter(entry="aerial")}
    assert usage == {("swj", other_key[3:11]): (3, 3), ("jtw", api_key[0].prefix): (1, 0)}


def test_tilejson_is_audited_without_the_key_in_the_path(client, aerial, api_key):
    assert client.get(f"/tiles/aerial/2024/tilejson.json?token={api_key[1]}").status_code == 200
    event = AuditEvent.objects.filter(entry="aerial", action="read").latest("id")
    assert (event.department, event.api_key, event.allowed) == ("jtw", api_key[0].prefix, True)
    assert api_key[1] not in event.path and event.path.startswith("/tiles/aerial/2024/tilejson.json")


def test_wmts_capabilities_list_every_readable_collection_year_with_tokened_templates(
        client, ingest, other_department, other_key, tmp_path):
    ingest(2023, slug="aerial")
    ingest(2024, slug="aerial")
    ingest(2024, slug="ungranted")
    grant(other_department, "aerial")
    for url in ("/tiles/wmts?service=WMTS&request=GetCapabilities", "/tiles/1.0.0/WMTSCapabilities.xml",
                "/tiles/WMTSCapabilities.xml"):
        response = client.get(url, headers=bearer(other_key))
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
        root = ET.fromstring(response.content)
        layers = {layer.findtext(f"{OWS}Identifier"): layer for layer in root.iter(f"{WMTS}Layer")}
        assert sorted(layers) == ["aerial", "aerial:2023", "aerial:2024"]  # "aerial": both years, a Time dimension
        template = layers["aerial:2024"].find(f"{WMTS}ResourceURL").get("template")
        assert "/tiles/aerial/2024/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.jpg?token=gpt1." in template
    tile = (template.replace("{TileMatrixSet}", "WebMercatorQuad").replace("{TileMatrix}", "14")
            .replace("{TileCol}", str(TILE.x)).replace("{TileRow}", str(TILE.y)))
    assert client.get(urlsplit(tile)._replace(scheme="", netloc="").geturl()).status_code == 200




def test_one_asgi_entry_point_serves_tiles_and_django():
    from geoplatform.asgi import application

    with TestClient(application) as both:
        assert both.get("/tiles/healthz").json()["status"] == "ok"
        assert both.get("/api/me").status_code == 401
