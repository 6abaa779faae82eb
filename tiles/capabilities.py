"""What tells a client where the tiles are: the one tile URL builder, TileJSON and WMTS 1.0.0 capabilities.

Both documents are built from the registry (no file is opened) and carry, in every tile URL,
the tile token of the collection, so a client that cannot add headers (MapLibre, QGIS, GDAL)
gets tiles without the database being asked per tile.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import quote

import morecantile

from tiles.registry import RegisteredDataset

FORMATS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
TMS = morecantile.tms.get("WebMercatorQuad")
WMTS_MAX_ZOOM = 22
NS = {"": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1",
      "xlink": "http://www.w3.org/1999/xlink"}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


def tile_url(base_url: str, slug: str, year: int, token: str, fmt: str,
             z: str = "{z}", x: str = "{x}", y: str = "{y}") -> str:
    """The XYZ tile URL (template) of one collection-year; the only place tile URLs are made."""
    return f"{base_url.rstrip('/')}/tiles/{slug}/{year}/{z}/{x}/{y}.{fmt}?token={quote(token, safe='')}"


def tilejson_url(base_url: str, slug: str, year: int) -> str:
    return f"{base_url.rstrip('/')}/tiles/{slug}/{year}/tilejson.json"


def wmts_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/tiles/1.0.0/WMTSCapabilities.xml"


def tilejson(dataset: RegisteredDataset, base_url: str, token: str, fmt: str | None = None) -> dict:
    """TileJSON 3.0.0 for MapLibre/OpenLayers/QGIS (256-pixel tiles: set tileSize 256 on a MapLibre source)."""
    west, south, east, north = dataset.bounds
    return {
        "tilejson": "3.0.0", "name": f"{dataset.title} {dataset.year}", "scheme": "xyz",
        "tiles": [tile_url(base_url, dataset.slug, dataset.year, token, fmt or dataset.tile_format)],
        "minzoom": dataset.minzoom, "maxzoom": max(dataset.maxzoom, dataset.minzoom),
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, dataset.maxzoom],
    }


def _q(tag: str) -> str:
    prefix, _, name = tag.rpartition(":")
    return f"{{{NS[prefix]}}}{name}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, _q(tag), {(_q(k.replace("_", ":")) if "_" in k else k): v
                                               for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _tile_matrix_set(contents: ET.Element) -> None:
    tms = _sub(contents, "TileMatrixSet")
    _sub(tms, "ows:Identifier", "WebMercatorQuad")
    _sub(tms, "ows:SupportedCRS", "urn:ogc:def:crs:EPSG::3857")
    _sub(tms, "WellKnownScaleSet", "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible")
    for z in range(WMTS_MAX_ZOOM + 1):
        matrix = TMS.matrix(z)
        element = _sub(tms, "TileMatrix")
        _sub(element, "ows:Identifier", str(z))
        _sub(element, "ScaleDenominator", repr(matrix.scaleDenominator))
        _sub(element, "TopLeftCorner", " ".join(repr(v) for v in matrix.pointOfOrigin))
        for name in ("tileWidth", "tileHeight", "matrixWidth", "matrixHeight"):
            _sub(element, name[0].upper() + name[1:], str(getattr(matrix, name)))


def _layer(contents: ET.Element, dataset: RegisteredDataset, base_url: str, token: str) -> None:
    fmt = dataset.tile_format
    layer = _sub(contents, "Layer")
    _sub(layer, "ows:Title", f"{dataset.title} {dataset.year}")
    box = _sub(layer, "ows:WGS84BoundingBox")
    _sub(box, "ows:LowerCorner", f"{dataset.bounds[0]!r} {dataset.bounds[1]!r}")
    _sub(box, "ows:UpperCorner", f"{dataset.bounds[2]!r} {dataset.bounds[3]!r}")
    _sub(layer, "ows:Identifier", f"{dataset.slug}:{dataset.year}")
    style = _sub(layer, "Style", isDefault="true")
    _sub(style, "ows:Identifier", "default")
    _sub(layer, "Format", FORMATS[fmt])
    link = _sub(layer, "TileMatrixSetLink")
    _sub(link, "TileMatrixSet", "WebMercatorQuad")
    limits = _sub(link, "TileMatrixSetLimits")
    for z in range(dataset.minzoom, min(dataset.maxzoom, WMTS_MAX_ZOOM) + 1):
        first, last = TMS.tile(dataset.bounds[0], dataset.bounds[3], z), TMS.tile(dataset.bounds[2], dataset.bounds[1], z)
        limit = _sub(limits, "TileMatrixLimits")
        _sub(limit, "TileMatrix", str(z))
        _sub(limit, "MinTileRow", str(first.y))
        _sub(limit, "MaxTileRow", str(last.y))
        _sub(limit, "MinTileCol", str(first.x))
        _sub(limit, "MaxTileCol", str(last.x))
    template = tile_url(base_url, dataset.slug, dataset.year, token, fmt, "{TileMatrix}", "{TileCol}", "{TileRow}")
    _sub(layer, "ResourceURL", format=FORMATS[fmt], resourceType="tile", template=template)


def wmts_capabilities(datasets: list[RegisteredDataset], tokens: dict[str, str], base_url: str) -> bytes:
    """WMTS 1.0.0 GetCapabilities: one layer ``slug:year`` per readable collection-year, RESTful GetTile."""
    base = base_url.rstrip("/")
    root = ET.Element(_q("Capabilities"), {"version": "1.0.0"})
    ident = _sub(root, "ows:ServiceIdentification")
    _sub(ident, "ows:Title", "Geoplatform imagery")
    _sub(ident, "ows:ServiceType", "OGC WMTS")
    _sub(ident, "ows:ServiceTypeVersion", "1.0.0")
    operations = _sub(root, "ows:OperationsMetadata")
    for name, href, encoding in (("GetCapabilities", f"{base}/tiles/wmts?", "KVP"),
                                 ("GetCapabilities", wmts_url(base), "RESTful"),
                                 ("GetTile", f"{base}/tiles/", "RESTful")):
        operation = root.find(f"{_q('ows:OperationsMetadata')}/{_q('ows:Operation')}[@name='{name}']")
        if operation is None:
            operation = _sub(operations, "ows:Operation", name=name)
        get = _sub(_sub(_sub(operation, "ows:DCP"), "ows:HTTP"), "ows:Get", xlink_href=href)
        value = _sub(_sub(get, "ows:Constraint", name="GetEncoding"), "ows:AllowedValues")
        _sub(value, "ows:Value", encoding)
    contents = _sub(root, "Contents")
    for dataset in datasets:
        if dataset.slug in tokens:
            _layer(contents, dataset, base, tokens[dataset.slug])
    _tile_matrix_set(contents)
    _sub(root, "ServiceMetadataURL", xlink_href=wmts_url(base))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
