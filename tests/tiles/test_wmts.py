"""WMTS as desktop GIS reads it: both tile grids, bounding boxes, limits, formats, the Time layer, KVP GetTile,
ows:ExceptionReport errors, the provider and the catalog's metadata."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from rasterio.io import MemoryFile

from catalog.access import tile_decisions
from catalog.models import Entry
from tests.tiles.conftest import bearer
from tests.tiles.test_serving import OWS, WMTS, decoded, grant
from tiles import grids

pytestmark = pytest.mark.django_db(transaction=True)  # the tile app answers from other threads

C_TILE = grids.GRIDS[grids.CGCS2000].tile(116.31, 39.91, 14)
MERC_TILE = grids.GRIDS[grids.WEB_MERCATOR].tile(116.31, 39.91, 14)


@pytest.fixture
def two_years(ingest, department):
    ingest(2023)
    latest = ingest(2024)
    Entry.objects.filter(slug="aerial").update(abstract="示范市年度航空影像", keywords=["影像", "航空"])
    return latest


def capabilities(client, key) -> ET.Element:
    response = client.get("/tiles/1.0.0/WMTSCapabilities.xml", headers=bearer(key))
    assert response.status_code == 200, response.text
    return ET.fromstring(response.content)


def layers_of(root: ET.Element) -> dict[str, ET.Element]:
    return {layer.findtext(f"{OWS}Identifier"): layer for layer in root.iter(f"{WMTS}Layer")}


def test_each_layer_has_a_bounding_box_in_each_crs_and_its_limits(client, two_years, api_key):
    layer = layers_of(capabilities(client, api_key[1]))["aerial:2024"]
    boxes = {box.get("crs"): box for box in layer.findall(f"{OWS}BoundingBox")}
    assert set(boxes) == {"urn:ogc:def:crs:EPSG::3857", "urn:ogc:def:crs:EPSG::4490"}
    west, south = (float(v) for v in boxes["urn:ogc:def:crs:EPSG::3857"].findtext(f"{OWS}LowerCorner").split())
    assert 12_940_000 < west < 12_960_000 and 4_840_000 < south < 4_860_000  # metres, not degrees
    lat, lon = (float(v) for v in boxes["urn:ogc:def:crs:EPSG::4490"].findtext(f"{OWS}LowerCorner").split())
    assert (round(lat, 2), round(lon, 2)) == (39.90, 116.30)  # EPSG:4490 axis order: latitude first
    links = {link.findtext(f"{WMTS}TileMatrixSet"): link for link in layer.findall(f"{WMTS}TileMatrixSetLink")}
    assert list(links) == ["WebMercatorQuad", "c", "CGCS2000Quad"]
    for grid, link in links.items():
        limits = {lim.findtext(f"{WMTS}TileMatrix"): lim for lim in link.iter(f"{WMTS}TileMatrixLimits")}
        assert limits, grid
        tile = grids.GRIDS[grids.TILE_GRID[grid]].tile(116.31, 39.91, 14)
        if "14" in limits:
            assert int(limits["14"].findtext(f"{WMTS}MinTileCol")) <= tile.x <= int(limits["14"].findtext(f"{WMTS}MaxTileCol"))
            assert int(limits["14"].findtext(f"{WMTS}MinTileRow")) <= tile.y <= int(limits["14"].findtext(f"{WMTS}MaxTileRow"))


def test_tile_matrix_sets_stop_at_the_data_and_c_has_tianditu_scales(client, two_years, api_key):
    root = capabilities(client, api_key[1])
    sets = {tms.findtext(f"{OWS}Identifier"): tms for tms in root.find(f"{WMTS}Contents").findall(f"{WMTS}TileMatrixSet")}
    assert set(sets) == {"WebMercatorQuad", "c", "CGCS2000Quad"}
    maxzoom = two_years.maxzoom
    for identifier, tms in sets.items():
        matrices = [m.findtext(f"{OWS}Identifier") for m in tms.findall(f"{WMTS}TileMatrix")]
        assert matrices[-1] == str(maxzoom), identifier  # not all 23 Web Mercator levels
    c = {m.findtext(f"{OWS}Identifier"): m for m in sets["c"].findall(f"{WMTS}TileMatrix")}
    assert sets["c"].findtext(f"{OWS}SupportedCRS") == "urn:ogc:def:crs:EPSG::4490"
    assert c["1"].findtext(f"{WMTS}TopLeftCorner") == "90.0 -180.0"
    assert float(c["1"].findtext(f"{WMTS}ScaleDenominator")) == pytest.approx(2.958293554545656e8)
    assert (c["3"].findtext(f"{WMTS}MatrixWidth"), c["3"].findtext(f"{WMTS}MatrixHeight")) == ("8", "4")
    ogc = {m.findtext(f"{OWS}Identifier"): m for m in sets["CGCS2000Quad"].findall(f"{WMTS}TileMatrix")}
    # same tiles, scale from OGC's 0.28 mm pixel: 0.703125 degrees per pixel at level 1
    assert float(ogc["1"].findtext(f"{WMTS}ScaleDenominator")) * 0.28e-3 / grids.METRES_PER_DEGREE == pytest.approx(
        0.703125)


def test_every_served_format_is_advertised_with_a_template(client, two_years, api_key):
    layer = layers_of(capabilities(client, api_key[1]))["aerial:2024"]
    assert [f.text for f in layer.findall(f"{WMTS}Format")] == ["image/jpeg", "image/png", "image/webp"]
    templates = {r.get("format"): r.get("template") for r in layer.findall(f"{WMTS}ResourceURL")}
    assert set(templates) == {"image/jpeg", "image/png", "image/webp"}
    for media, template in templates.items():
        url = (template.split("127.0.0.1", 1)[-1].split("testserver", 1)[-1]
               .replace("{TileMatrixSet}", "c").replace("{TileMatrix}", "14")
               .replace("{TileCol}", str(C_TILE.x)).replace("{TileRow}", str(C_TILE.y)))
        response = client.get(url)
        assert response.status_code == 200 and response.headers["content-type"] == media


def test_service_provider_abstract_keywords_and_schema_location(client, two_years, api_key, department):
    root = capabilities(client, api_key[1])
    assert "wmtsGetCapabilities_response.xsd" in root.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation")
    assert root.findtext(f"{OWS}ServiceProvider/{OWS}ProviderName") == department.name_zh
    layer = layers_of(root)["aerial:2024"]
    assert layer.findtext(f"{OWS}Abstract") == f"示范市年度航空影像 ({department.name_zh})"
    assert [k.text for k in layer.iter(f"{OWS}Keyword")] == ["影像", "航空"]


def test_a_collection_of_several_years_is_one_layer_with_a_time_dimension(client, two_years, api_key):
    layer = layers_of(capabilities(client, api_key[1]))["aerial"]
    dimension = layer.find(f"{WMTS}Dimension")
    assert dimension.findtext(f"{OWS}Identifier") == "Time" and dimension.findtext(f"{WMTS}Default") == "2024"
    assert [v.text for v in dimension.findall(f"{WMTS}Value")] == ["2024", "2023"]
    template = layer.find(f"{WMTS}ResourceURL").get("template")
    assert "/tiles/aerial/{Time}/{TileMatrixSet}/" in template


def test_kvp_get_tile_is_the_restful_tile(client, two_years, api_key):
    rest = client.get(f"/tiles/aerial/2024/c/14/{C_TILE.x}/{C_TILE.y}.png", headers=bearer(api_key[1]))
    assert rest.status_code == 200
    kvp = client.get(f"/tiles/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=aerial:2024&STYLE=default"
                     f"&TILEMATRIXSET=c&TILEMATRIX=14&TILEROW={C_TILE.y}&TILECOL={C_TILE.x}&FORMAT=image/png",
                     headers=bearer(api_key[1]))
    assert kvp.status_code == 200 and kvp.content == rest.content
    latest = client.get(f"/tiles/wmts?service=wmts&request=GetTile&layer=aerial&tilematrixset=WebMercatorQuad"
                        f"&tilematrix=14&tilerow={MERC_TILE.y}&tilecol={MERC_TILE.x}&format=image/jpeg",
                        headers=bearer(api_key[1]))
    xyz = client.get(f"/tiles/aerial/2024/14/{MERC_TILE.x}/{MERC_TILE.y}.jpg", headers=bearer(api_key[1]))
    assert latest.status_code == 200 and latest.content == xyz.content  # Time's default: the latest year


def test_kvp_get_tile_checks_access_like_rest(client, two_years, other_department):
    from catalog.keys import create_api_key

    raw = create_api_key(other_department, "gis")[1]
    url = (f"/tiles/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=aerial:2024&TILEMATRIXSET=c&TILEMATRIX=14"
           f"&TILEROW={C_TILE.y}&TILECOL={C_TILE.x}&FORMAT=image/png")
    refused = client.get(url, headers=bearer(raw))
    assert refused.status_code == 403 and b"ExceptionReport" in refused.content
    grant(other_department)
    tile_decisions.items.clear()  # a refusal is reused for a few seconds per credential (catalog.access)
    assert client.get(url, headers=bearer(raw)).status_code == 200


@pytest.mark.parametrize(("query", "code", "locator"), [
    ("REQUEST=GetTile&LAYER=aerial:2024&TILEMATRIXSET=c&TILEMATRIX=14&TILEROW=1&FORMAT=image/png",
     "MissingParameterValue", "TILECOL"),
    ("REQUEST=GetTile&LAYER=aerial:2024&TILEMATRIXSET=EPSG:4326&TILEMATRIX=1&TILEROW=0&TILECOL=0&FORMAT=image/png",
     "InvalidParameterValue", "TILEMATRIXSET"),
    ("REQUEST=GetTile&LAYER=aerial:2024&TILEMATRIXSET=c&TILEMATRIX=1&TILEROW=0&TILECOL=0&FORMAT=image/tiff",
     "InvalidParameterValue", "FORMAT"),
    ("REQUEST=GetFeatureInfo", "OperationNotSupported", "REQUEST"),
    ("SERVICE=WMS&REQUEST=GetCapabilities", "InvalidParameterValue", "SERVICE"),
])
def test_kvp_errors_are_exception_reports(client, two_years, api_key, query, code, locator):
    response = client.get(f"/tiles/wmts?{query}", headers=bearer(api_key[1]))
    assert response.status_code == 400 and response.headers["content-type"].startswith("application/xml")
    exception = ET.fromstring(response.content).find(f"{OWS}Exception")
    assert (exception.get("exceptionCode"), exception.get("locator")) == (code, locator)
    assert exception.findtext(f"{OWS}ExceptionText")


def test_capabilities_without_credentials_is_an_exception_report_with_a_challenge(client, two_years):
    response = client.get("/tiles/1.0.0/WMTSCapabilities.xml")
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers
    assert ET.fromstring(response.content).tag == f"{OWS}ExceptionReport"


def test_xyz_tiles_stay_json_errors(client, two_years):
    response = client.get(f"/tiles/aerial/2024/14/{MERC_TILE.x}/{MERC_TILE.y}.jpg")
    assert response.status_code == 401 and "detail" in response.json()


def _c_pixel(client, key, lon: float, lat: float, level: int = 16) -> np.ndarray:
    """The RGB of the c-grid tile pixel that holds lon/lat."""
    tms = grids.GRIDS[grids.CGCS2000]
    tile = tms.tile(lon, lat, level)
    response = client.get(f"/tiles/aerial/2024/c/{level}/{tile.x}/{tile.y}.png", headers=bearer(key))
    assert response.status_code == 200
    with MemoryFile(response.content) as memfile, memfile.open() as image:
        assert (image.width, image.height) == (256, 256)
    cell = tms.bounds(tile)
    col = int((lon - cell.left) / (cell.right - cell.left) * 256)
    row = int((cell.top - lat) / (cell.top - cell.bottom) * 256)
    return decoded(response.content)[:3, row, col]


def test_cgcs2000_tiles_hold_the_pixels_of_their_lon_lat_cells(client, two_years, api_key):
    """The source's bright middle square (the middle half of BOUNDS) is where the c grid says, and only there."""
    from tests.tiles.conftest import BOUNDS

    west, south, east, north = BOUNDS
    span_x, span_y = east - west, north - south
    inside = [(west + f * span_x, south + g * span_y) for f, g in ((0.5, 0.5), (0.3, 0.3), (0.7, 0.7))]
    outside = [(west + f * span_x, south + g * span_y) for f, g in ((0.1, 0.5), (0.5, 0.1), (0.9, 0.9))]
    for lon, lat in inside:
        assert (_c_pixel(client, api_key[1], lon, lat) >= 200).all(), (lon, lat)
    for lon, lat in outside:
        assert (_c_pixel(client, api_key[1], lon, lat) < 200).any(), (lon, lat)


def test_the_kvp_get_tile_url_carries_a_token_for_the_listed_collections_only(client, two_years, ingest, api_key,
                                                                              other_department):
    ingest(2024, slug="elsewhere", owner=other_department)
    root = capabilities(client, api_key[1])
    href = next(get.get("{http://www.w3.org/1999/xlink}href")
                for operation in root.iter(f"{OWS}Operation") if operation.get("name") == "GetTile"
                for get in operation.iter(f"{OWS}Get") if get.findtext(f".//{OWS}Value") == "KVP")
    assert "token=gpt1." in href and api_key[1] not in href
    query = f"REQUEST=GetTile&TILEMATRIXSET=c&TILEMATRIX=14&TILEROW={C_TILE.y}&TILECOL={C_TILE.x}&FORMAT=image/png"
    path = href.split("testserver", 1)[-1]
    assert client.get(f"{path}{query}&LAYER=aerial:2024").status_code == 200  # no other credential
    assert client.get(f"{path}{query}&LAYER=elsewhere:2024").status_code == 403


def test_each_year_keeps_a_cog_aligned_to_the_cgcs2000_grid_and_c_tiles_read_it(two_years):
    """A c tile read from the 3857-aligned COG is reprojected (~27x the CPU): every new year has a c-aligned twin."""
    import rasterio

    from tiles.registry import registry

    assert two_years.path_c and two_years.path_c != two_years.path
    registry.reload()
    dataset = registry.lookup("aerial", 2024)
    assert dataset.path_for("c") == dataset.path_c != dataset.path_for("WebMercatorQuad") == dataset.path
    with rasterio.open(dataset.path_c) as cog:
        assert cog.crs.to_epsg() == 4490
        # aligned to the grid: the origin is a corner of a c tile at the COG's own resolution
        level = round(__import__("math").log2(0.703125 / cog.res[0])) + 1
        tile_width = 0.703125 / 2 ** (level - 1) * 256
        assert ((cog.bounds.left + 180) / tile_width) == pytest.approx(round((cog.bounds.left + 180) / tile_width))
