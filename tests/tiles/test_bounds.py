"""Bounded work per imagery request: only what department apps draw maps with, a 400 naming it otherwise.

Real titiler on real COGs (ingested from rasterio-written GeoTIFFs), through FastAPI's TestClient,
which runs the app in other threads: the data must be committed (transactional database).
"""

from __future__ import annotations

from datetime import timedelta

import morecantile
import numpy as np
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rasterio.io import MemoryFile

from catalog.audit import tile_counter
from catalog.errors import InvalidRequest
from catalog.models import Entry, Grant, TileUsage, User
from tests.tiles.conftest import write_geotiff
from tiles import limits

pytestmark = pytest.mark.django_db(transaction=True)
TILE = morecantile.tms.get("WebMercatorQuad").tile(116.31, 39.91, 14)
XYZ = f"/tiles/aerial/2024/14/{TILE.x}/{TILE.y}"
FACTORY = f"/tiles/aerial/2024/tiles/WebMercatorQuad/14/{TILE.x}/{TILE.y}"


@pytest.fixture
def key(api_key) -> dict:
    return {"Authorization": f"Bearer {api_key[1]}"}


def pixels(content: bytes) -> np.ndarray:
    with MemoryFile(content) as memfile, memfile.open() as image:
        return image.read()


def detail(response) -> str:
    assert response.status_code == 400, (response.status_code, response.text)
    return response.json()["detail"]


def session_cookie(user) -> dict:
    """The Django session cookie of ``user`` logged in on the platform's pages."""
    django_client = Client()
    django_client.force_login(user)
    return {settings.SESSION_COOKIE_NAME: django_client.cookies[settings.SESSION_COOKIE_NAME].value}


# --- the offered subset still works ---------------------------------------------------------------

def test_256_and_512_tiles_are_200_with_their_pixel_size(client, aerial, key):
    for fmt in ("png", "jpg", "jpeg", "webp"):
        for query, size in (("", 256), ("?tilesize=256", 256), ("?tilesize=512", 512)):
            response = client.get(f"{XYZ}.{fmt}{query}", headers=key)
            assert response.status_code == 200, (fmt, query, response.text)
            assert pixels(response.content).shape[1:] == (size, size), (fmt, query)


def test_band_selection_within_the_dataset_is_drawn(client, aerial, key):
    rgb = pixels(client.get(f"{XYZ}.png?return_mask=false", headers=key).content)
    bgr = client.get(f"{XYZ}.png?bidx=3&bidx=2&bidx=1&return_mask=false", headers=key)
    grey = client.get(f"{XYZ}.png?bidx=2&return_mask=false", headers=key)
    assert bgr.status_code == 200 and grey.status_code == 200
    assert np.array_equal(pixels(bgr.content), rgb[::-1])
    assert np.array_equal(pixels(grey.content)[0], rgb[1])


def test_resampling_and_rescale_within_bounds_are_drawn(client, aerial, key):
    plain = pixels(client.get(f"{XYZ}.png?bidx=1&return_mask=false", headers=key).content)[0]
    stretched = client.get(f"{XYZ}.png?bidx=1&rescale=0,120&resampling=bilinear&return_mask=false", headers=key)
    assert stretched.status_code == 200, stretched.text
    assert pixels(stretched.content)[0].mean() > plain.mean()


def test_a_four_band_file_is_drawn_from_its_first_three_bands(client, ingest, key, tmp_path):
    """Ingest keeps red, green and blue for the tiles (tiles.display); the fourth band stays in the kept source."""
    dataset = ingest(2024, source=write_geotiff(tmp_path / "rgbn.tif", count=4, photometric="MINISBLACK"))
    assert dataset.band_count == 3 and dataset.source_path
    default = client.get(f"{XYZ}.png?return_mask=false", headers=key)
    first_three = client.get(f"{XYZ}.png?bidx=1&bidx=2&bidx=3&return_mask=false", headers=key)
    assert default.status_code == 200 and np.array_equal(pixels(default.content), pixels(first_three.content))
    fourth = client.get(f"{XYZ}.png?bidx=4", headers=key)
    assert fourth.status_code == 400 and "3 bands" in fourth.json()["detail"]


# --- everything else is a 400 saying what is allowed ----------------------------------------------

def test_other_tile_sizes_get_400_naming_256_and_512(client, aerial, key):
    for query in ("8192", "100000", "1024", "300", "0", "-1", "abc", "256.0", "256&tilesize=8192"):
        message = detail(client.get(f"{XYZ}.png?tilesize={query}", headers=key))
        assert "is not allowed: tiles are 256 or 512 pixels" in message, query


NOT_OFFERED = [
    ("buffer=100000", "tile buffers are not offered"),
    ("buffer=0.5", "tile buffers are not offered"),
    ("padding=100000", "tile padding is not offered"),
    ("expression=b99", "band math (expression) is not offered"),
    ("expression=" + "%2B".join(["b1"] * 3000), "band math (expression) is not offered"),
    ("colormap_name=viridis", "colormaps are not offered"),
    ("colormap=%7B%221%22%3A%5B0%2C0%2C0%2C255%5D%7D", "colormaps are not offered"),
    ("color_formula=gamma%20rgb%201.5", "color formulas are not offered"),
    ("algorithm=hillshade", "algorithms are not offered"),
    ("nodata=0", "nodata cannot be overridden"),
    ("unscale=true", "unscale is not offered"),
    ("reproject=bilinear", "reproject is not offered"),
]


def test_parameters_not_offered_get_400_naming_what_is(client, aerial, key):
    for query, expected in NOT_OFFERED:
        message = detail(client.get(f"{XYZ}.png?{query}", headers=key))
        assert expected in message and "offered: tilesize (256 or 512)" in message, query


BAD_BANDS = [
    ("bidx=99", "this imagery has 3 bands (bidx 1 to 3)"),
    ("bidx=4&bidx=1&bidx=2", "this imagery has 3 bands (bidx 1 to 3)"),
    ("bidx=0", "each a band number from 1"),
    ("bidx=-1", "each a band number from 1"),
    ("bidx=abc", "each a band number from 1"),
    ("bidx=1&bidx=2", "bidx is given 2 times: choose one band (grey) or three"),
    ("bidx=1&bidx=2&bidx=3&bidx=1", "bidx is given 4 times"),
]


def test_bands_outside_the_dataset_or_unencodable_get_400(client, aerial, key):
    for query, expected in BAD_BANDS:
        assert expected in detail(client.get(f"{XYZ}.jpg?{query}", headers=key)), query


BAD_DISPLAY = [
    ("resampling=lanczos", "resampling=lanczos is not allowed: one of nearest, bilinear, cubic"),
    ("rescale=nan,nan", "two finite numbers"),
    ("rescale=5,1", "min below max"),
    ("rescale=0,inf", "two finite numbers"),
    ("rescale=0", "rescale=min,max"),
    ("rescale=0,1&rescale=0,1&rescale=0,1&rescale=0,1", "at most 3"),
    ("return_mask=maybe", "return_mask=maybe is not allowed: true or false"),
]


def test_bad_display_options_get_400(client, aerial, key):
    for query, expected in BAD_DISPLAY:
        assert expected in detail(client.get(f"{XYZ}.png?{query}", headers=key)), query


def test_raw_data_formats_are_not_served(client, aerial, key):
    for url in (f"{XYZ}.tif", f"{XYZ}.npy", f"{XYZ}.pngraw", f"{XYZ}.jp2", f"{FACTORY}.tif", f"{FACTORY}.npy",
                f"{FACTORY}?format=tif", f"{FACTORY}?format=npy"):
        assert "raw-data formats such as tif and npy are not served" in detail(client.get(url, headers=key)), url
        assert client.get(url).status_code == 400, url  # not served to anyone, anonymous included


def test_bad_path_values_get_400_not_500(client, aerial, key):
    assert "tileMatrixSetId" in detail(client.get(FACTORY.replace("WebMercatorQuad", "WorldCRS84Quad") + ".png",
                                                  headers=key))
    assert "parameter z=abc" in detail(client.get(FACTORY.replace("/14/", "/abc/") + ".png", headers=key))
    for z in ("25", "99", "9" * 23):
        message = detail(client.get(f"/tiles/aerial/2024/{z}/1/1.png", headers=key))
        assert "the WebMercatorQuad grid has zoom levels 0 to 24" in message, z
    assert client.get(f"/tiles/aerial/2024/14/{'9' * 23}/1.png", headers=key).status_code == 404


def test_info_crs_is_one_of_the_platform_crs(client, aerial, key):
    assert client.get("/tiles/aerial/2024/info.geojson?crs=EPSG:4490", headers=key).status_code == 200
    for crs in ("/etc/passwd", "+proj=longlat +init=epsg:4326", "EPSG:2000"):
        assert "one of EPSG:4326, EPSG:4490, EPSG:3857" in detail(
            client.get("/tiles/aerial/2024/info.geojson", params={"crs": crs}, headers=key))


def test_refused_requests_open_no_file_and_count_no_tile(client, aerial, key, opened):
    assert client.get(f"{XYZ}.png?tilesize=8192", headers=key).status_code == 400
    tile_counter.flush()
    assert opened == [] and not TileUsage.objects.exists()


# --- API docs and the staff session -----------------------------------------------------------------

def test_docs_and_openapi_are_401_for_anonymous_callers(client, aerial, key, department):
    for url in ("/tiles/docs", "/tiles/openapi.json"):
        response = client.get(url)
        assert response.status_code == 401 and "Bearer" in response.headers["www-authenticate"]
    schema = client.get("/tiles/openapi.json", headers=key).json()
    tile = schema["paths"]["/tiles/{collection}/{year}/tiles/{tileMatrixSetId}/{z}/{x}/{y}.{format}"]["get"]
    assert {p["name"] for p in tile["parameters"] if p["in"] == "query"} == {
        "tilesize", "bidx", "resampling", "rescale", "return_mask"}
    staff = User.objects.create_user("li-ming", password="pw-123456-x", department=department)
    client.cookies.update(session_cookie(staff))
    assert client.get("/tiles/docs").status_code == 200


def test_owner_staff_session_reads_tiles_counted_per_day(client, aerial, department):
    staff = User.objects.create_user("li-ming", password="pw-123456-x", department=department)
    client.cookies.update(session_cookie(staff))
    for _ in range(2):
        response = client.get(f"{XYZ}.jpg")
        assert response.status_code == 200 and pixels(response.content).shape == (3, 256, 256)
    assert client.get(f"{XYZ}.png?tilesize=512").status_code == 200
    tilejson = client.get("/tiles/aerial/2024/tilejson.json")
    assert tilejson.status_code == 200 and "token=gpt1." in tilejson.json()["tiles"][0]
    tile_counter.flush()
    usage = TileUsage.objects.get(entry="aerial")
    assert (usage.department, usage.api_key, usage.requests, usage.denied) == ("jtw", "", 3, 0)


def test_other_department_staff_without_a_grant_gets_403(client, aerial, other_department):
    staff = User.objects.create_user("wang-fang", password="pw-123456-x", department=other_department)
    client.cookies.update(session_cookie(staff))
    response = client.get(f"{XYZ}.png")
    assert response.status_code == 403 and "apply to" in response.json()["detail"]
    Grant.objects.create(department=other_department, entry=Entry.objects.get(slug="aerial"),
                         valid_to=timezone.now() + timedelta(days=30))
    from catalog.access import tile_decisions

    tile_decisions.items.clear()
    assert client.get(f"{XYZ}.png").status_code == 200


def test_no_session_or_an_ended_session_is_401(client, aerial, department):
    response = client.get(f"{XYZ}.png")
    assert response.status_code == 401 and "log in to the platform" in response.json()["detail"]
    client.cookies.set(settings.SESSION_COOKIE_NAME, "x" * 32)
    response = client.get(f"{XYZ}.png")
    assert response.status_code == 401 and "session has ended" in response.json()["detail"]
    staff = User.objects.create_user("li-ming", password="pw-123456-x", department=department)
    cookie = session_cookie(staff)
    client.cookies.update(cookie)
    assert client.get(f"{XYZ}.png").status_code == 200
    staff.set_password("a-new-password-9")  # Django ends every session of a changed password
    staff.save()
    from catalog.access import tile_decisions

    tile_decisions.items.clear()
    assert client.get(f"{XYZ}.png").status_code == 401


def test_platform_administrator_session_gets_403(client, aerial):
    admin = User.objects.create_superuser("admin", password="pw-123456-x")
    client.cookies.update(session_cookie(admin))
    response = client.get(f"{XYZ}.png")
    assert response.status_code == 403 and "not read data" in response.json()["detail"]


# --- the pure limits ---------------------------------------------------------------------------------

def test_limits_accept_the_offered_subset():
    limits.check_request([("tilesize", "512"), ("bidx", "3"), ("bidx", "2"), ("bidx", "1"),
                          ("resampling", "cubic"), ("rescale", "[0, 255]"), ("return_mask", "false"),
                          ("token", "gpt1.x"), ("v", "2")], "webp")


@pytest.mark.parametrize("query, fmt", [([("tilesize", "8192")], None), ([("expression", "b1")], None),
                                        ([("bidx", "1"), ("bidx", "2")], None), ([], "tif"),
                                        ([("format", "npy")], None), ([("crs", "EPSG:2000")], None)])
def test_limits_refuse_the_rest(query, fmt):
    with pytest.raises(InvalidRequest, match="not allowed|not offered|given"):
        limits.check_request(query, fmt)


def test_band_numbers_are_checked_against_the_file():
    limits.check_bands_exist([1, 3], 3)
    with pytest.raises(InvalidRequest, match="this imagery has 1 band "):
        limits.check_bands_exist([2], 1)
