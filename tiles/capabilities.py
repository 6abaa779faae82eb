"""What tells a client where the tiles are: the one tile URL builder, TileJSON and WMTS 1.0.0 capabilities.

Both documents are built from the registry (no file is opened) and carry, in every tile URL,
the tile token of the collection, so a client that cannot add headers (MapLibre, QGIS, GDAL)
gets tiles without the database being asked per tile.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote

from tiles import grids
from tiles.registry import RegisteredDataset

FORMATS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
ADVERTISED_FORMATS = ("jpg", "png", "webp")  # one ResourceURL each (jpeg is jpg's other name)
# Every layer is offered in these tile matrix sets, in this order (the first is what a client takes by default).
LAYER_GRIDS = (grids.WEB_MERCATOR, grids.CGCS2000, grids.CGCS2000_OGC)
NS = {"": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1",
      "xlink": "http://www.w3.org/1999/xlink", "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
SCHEMA_LOCATION = "http://www.opengis.net/wmts/1.0 http://schemas.opengis.net/wmts/1.0/wmtsGetCapabilities_response.xsd"
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


@dataclass(frozen=True)
class EntryMetadata:
    """What the catalog says of a collection, for its layers' Abstract and Keywords."""

    abstract: str = ""
    keywords: tuple[str, ...] = ()
    owner: str = ""


@dataclass(frozen=True)
class Provider:
    """WMTS ServiceProvider: the department responsible for the data (or the platform's operator)."""

    name: str
    contact: str = ""
    person: str = ""


def tile_url(base_url: str, slug: str, year: int | str, token: str, fmt: str,
             z: str = "{z}", x: str = "{x}", y: str = "{y}", grid: str | None = None) -> str:
    """The tile URL (template) of one collection-year in a grid; the only place tile URLs are made.

    Without ``grid`` it is the XYZ URL (Web Mercator); with one, ``/tiles/C/Y/GRID/z/x/y.fmt``
    (``{TileMatrixSet}`` is accepted as the grid of a WMTS template).
    """
    grid_part = f"{grid}/" if grid else ""
    return f"{base_url.rstrip('/')}/tiles/{slug}/{year}/{grid_part}{z}/{x}/{y}.{fmt}?token={quote(token, safe='')}"


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


def _tile_matrix_set(contents: ET.Element, grid: str, levels: range) -> None:
    tms = grids.GRIDS[grid]
    element = _sub(contents, "TileMatrixSet")
    _sub(element, "ows:Title", tms.title or grid)
    _sub(element, "ows:Identifier", grid)
    _sub(element, "ows:SupportedCRS", grids.SUPPORTED_CRS[grid])
    if grid == grids.WEB_MERCATOR:
        _sub(element, "WellKnownScaleSet", "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible")
    for z in levels:
        matrix = tms.matrix(z)
        level = _sub(element, "TileMatrix")
        _sub(level, "ows:Identifier", str(z))
        _sub(level, "ScaleDenominator", repr(matrix.scaleDenominator))
        _sub(level, "TopLeftCorner", " ".join(repr(float(v)) for v in matrix.pointOfOrigin))
        for name in ("tileWidth", "tileHeight", "matrixWidth", "matrixHeight"):
            _sub(level, name[0].upper() + name[1:], str(getattr(matrix, name)))


@dataclass(frozen=True)
class _LayerView:
    """One WMTS layer: a collection-year, or a whole collection with a Time dimension (``years``)."""

    identifier: str
    title: str
    slug: str
    bounds: tuple[float, float, float, float]
    minzoom: int
    maxzoom: int
    native_format: str
    years: tuple[int, ...] = ()


def _layer(contents: ET.Element, view: _LayerView, base_url: str, token: str, meta: EntryMetadata) -> None:
    layer = _sub(contents, "Layer")
    _sub(layer, "ows:Title", view.title)
    abstract = f"{meta.abstract} ({meta.owner})" if meta.abstract and meta.owner else meta.abstract or meta.owner
    if abstract:
        _sub(layer, "ows:Abstract", abstract)
    if meta.keywords:
        keywords = _sub(layer, "ows:Keywords")
        for word in meta.keywords:
            _sub(keywords, "ows:Keyword", word)
    west, south, east, north = view.bounds
    box = _sub(layer, "ows:WGS84BoundingBox", crs="urn:ogc:def:crs:OGC:2:84")
    _sub(box, "ows:LowerCorner", f"{west!r} {south!r}")
    _sub(box, "ows:UpperCorner", f"{east!r} {north!r}")
    _sub(layer, "ows:Identifier", view.identifier)
    # QGIS takes a layer's extent in the tile matrix set's CRS from ows:BoundingBox; one per CRS offered.
    for grid in (grids.WEB_MERCATOR, grids.CGCS2000):
        lower, upper = grids.bounding_box(grid, view.bounds)
        box = _sub(layer, "ows:BoundingBox", crs=grids.SUPPORTED_CRS[grid])
        _sub(box, "ows:LowerCorner", f"{lower[0]!r} {lower[1]!r}")
        _sub(box, "ows:UpperCorner", f"{upper[0]!r} {upper[1]!r}")
    style = _sub(layer, "Style", isDefault="true")
    _sub(style, "ows:Identifier", "default")
    formats = sorted(ADVERTISED_FORMATS, key=lambda f: f != _advertised(view.native_format))
    for fmt in formats:
        _sub(layer, "Format", FORMATS[fmt])
    if view.years:
        dimension = _sub(layer, "Dimension")
        _sub(dimension, "ows:Identifier", "Time")
        _sub(dimension, "ows:Title", "year of the flight")
        _sub(dimension, "Default", str(max(view.years)))
        for year in sorted(view.years, reverse=True):
            _sub(dimension, "Value", str(year))
    for grid in LAYER_GRIDS:
        link = _sub(layer, "TileMatrixSetLink")
        _sub(link, "TileMatrixSet", grid)
        limits = _sub(link, "TileMatrixSetLimits")
        for z in grids.levels(grid, view.minzoom, view.maxzoom):
            min_row, max_row, min_col, max_col = grids.tile_limits(grid, view.bounds, z)
            limit = _sub(limits, "TileMatrixLimits")
            _sub(limit, "TileMatrix", str(z))
            _sub(limit, "MinTileRow", str(min_row))
            _sub(limit, "MaxTileRow", str(max_row))
            _sub(limit, "MinTileCol", str(min_col))
            _sub(limit, "MaxTileCol", str(max_col))
    year = "{Time}" if view.years else view.identifier.rpartition(":")[2]
    for fmt in formats:
        template = tile_url(base_url, view.slug, year, token, fmt, "{TileMatrix}", "{TileCol}", "{TileRow}",
                            grid="{TileMatrixSet}")
        _sub(layer, "ResourceURL", format=FORMATS[fmt], resourceType="tile", template=template)


def _advertised(fmt: str) -> str:
    return "jpg" if fmt == "jpeg" else fmt


def _views(datasets: list[RegisteredDataset]) -> list[_LayerView]:
    """A layer per collection-year, and per collection of several years one with a Time dimension."""
    views = [_LayerView(f"{d.slug}:{d.year}", f"{d.title} {d.year}", d.slug, d.bounds, d.minzoom,
                        max(d.maxzoom, d.minzoom), d.tile_format) for d in datasets]
    by_slug: dict[str, list[RegisteredDataset]] = {}
    for dataset in datasets:
        by_slug.setdefault(dataset.slug, []).append(dataset)
    for slug, years in by_slug.items():
        if len(years) < 2:
            continue
        latest = max(years, key=lambda d: d.year)
        bounds = (min(d.bounds[0] for d in years), min(d.bounds[1] for d in years),
                  max(d.bounds[2] for d in years), max(d.bounds[3] for d in years))
        views.append(_LayerView(slug, latest.title, slug, bounds, min(d.minzoom for d in years),
                                max(d.maxzoom for d in years), latest.tile_format, tuple(d.year for d in years)))
    return views


def _service_provider(root: ET.Element, provider: Provider) -> None:
    element = _sub(root, "ows:ServiceProvider")
    _sub(element, "ows:ProviderName", provider.name)
    contact = _sub(element, "ows:ServiceContact")
    if provider.person:
        _sub(contact, "ows:IndividualName", provider.person)
    if provider.contact:
        info = _sub(contact, "ows:ContactInfo")
        if "@" in provider.contact:
            _sub(_sub(info, "ows:Address"), "ows:ElectronicMailAddress", provider.contact)
        else:
            _sub(_sub(info, "ows:Phone"), "ows:Voice", provider.contact)


def wmts_capabilities(datasets: list[RegisteredDataset], tokens: dict[str, str], base_url: str,
                      metadata: dict[str, EntryMetadata] | None = None, provider: Provider | None = None,
                      kvp_token: str | None = None) -> bytes:
    """WMTS 1.0.0 GetCapabilities of every readable collection-year (layer ``slug:year``), and of each
    collection of several years as one layer ``slug`` with a Time dimension (default: the latest year).

    Each layer is offered in Web Mercator and in the CGCS2000 grid (``c``, and ``CGCS2000Quad``: see
    tiles.grids), in JPEG, PNG and WebP, with its tile limits per level; each tile matrix set stops at the
    deepest level a listed layer has, so clients report the data's real resolution. GetTile is RESTful
    (ResourceURL templates) and KVP (``/tiles/wmts?REQUEST=GetTile``).
    """
    base = base_url.rstrip("/")
    metadata = metadata or {}
    readable = [d for d in datasets if d.slug in tokens]
    root = ET.Element(_q("Capabilities"), {"version": "1.0.0", _q("xsi:schemaLocation"): SCHEMA_LOCATION})
    ident = _sub(root, "ows:ServiceIdentification")
    _sub(ident, "ows:Title", "Geoplatform imagery")
    _sub(ident, "ows:ServiceType", "OGC WMTS")
    _sub(ident, "ows:ServiceTypeVersion", "1.0.0")
    if provider is not None:
        _service_provider(root, provider)
    operations = _sub(root, "ows:OperationsMetadata")
    # KVP GetTile names no collection in its URL: its href carries one tile token for every listed collection
    kvp_tile = f"{base}/tiles/wmts?token={quote(kvp_token, safe='')}&" if kvp_token else f"{base}/tiles/wmts?"
    for name, encodings in (("GetCapabilities", ((f"{base}/tiles/wmts?", "KVP"), (wmts_url(base), "RESTful"))),
                            ("GetTile", ((kvp_tile, "KVP"), (f"{base}/tiles/", "RESTful")))):
        http = _sub(_sub(_sub(operations, "ows:Operation", name=name), "ows:DCP"), "ows:HTTP")
        for href, encoding in encodings:
            get = _sub(http, "ows:Get", xlink_href=href)
            _sub(_sub(_sub(get, "ows:Constraint", name="GetEncoding"), "ows:AllowedValues"), "ows:Value", encoding)
    contents = _sub(root, "Contents")
    views = _views(readable)
    for view in views:
        _layer(contents, view, base, tokens[view.slug], metadata.get(view.slug, EntryMetadata()))
    for grid in LAYER_GRIDS:
        deepest = max((v.maxzoom for v in views), default=grids.GRIDS[grid].minzoom)
        _tile_matrix_set(contents, grid, range(grids.GRIDS[grid].minzoom, min(deepest, grids.GRIDS[grid].maxzoom) + 1))
    _sub(root, "ServiceMetadataURL", xlink_href=wmts_url(base))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
