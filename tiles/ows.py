"""The OGC side of the tile service: WMTS KVP requests and ows:ExceptionReport errors.

A KVP GetTile (``/tiles/wmts?SERVICE=WMTS&REQUEST=GetTile&LAYER=…``) is the same tile as its RESTful
URL: :func:`kvp_tile_path` turns its parameters into the tile route's path, so both go through the one
access check and the one reader. Errors on the WMTS endpoints are answered as OWS 1.1 exception reports,
which is what WMTS clients (QGIS, GDAL, ArcGIS) parse and show; elsewhere they stay JSON.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from catalog.errors import InvalidRequest
from tiles import grids

OWS = "http://www.opengis.net/ows/1.1"
WMTS_PATHS = ("/tiles/wmts", "/tiles/WMTSCapabilities.xml", "/tiles/1.0.0/WMTSCapabilities.xml")
MEDIA_FORMATS = {"image/jpeg": "jpeg", "image/jpg": "jpeg", "image/png": "png", "image/webp": "webp"}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_YEAR = re.compile(r"^[12][0-9]{3}$")
_INDEX = re.compile(r"^[0-9]{1,9}$")
# The exception codes of OWS 1.1 / WMTS 1.0.0 (07-057r7, table 28) by the HTTP status they go with.
EXCEPTION_CODES = {400: "InvalidParameterValue", 401: "NoApplicableCode", 403: "NoApplicableCode",
                   404: "TileOutOfRange", 414: "NoApplicableCode", 501: "OperationNotSupported"}


class KvpError(InvalidRequest):
    """A KVP request that cannot be answered, with the OWS exception code and the parameter at fault."""

    def __init__(self, message: str, code: str = "InvalidParameterValue", locator: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.locator = locator


def kvp_parameters(query: Mapping[str, str]) -> dict[str, str]:
    """KVP parameter names are case-insensitive (WMTS 1.0.0, 8.1): upper-cased keys."""
    return {key.upper(): value for key, value in query.items()}


def kvp_tile_path(params: Mapping[str, str]) -> str:
    """The tile route path a KVP GetTile names (``/tiles/C/Y/tiles/GRID/z/x/y.fmt``), or KvpError.

    LAYER is ``collection:year``, or ``collection`` with TIME=year (the Time dimension; without TIME the
    latest year, written ``latest``). TILEMATRIXSET is one of the advertised grids, FORMAT a media type.
    """
    for name in ("LAYER", "TILEMATRIXSET", "TILEMATRIX", "TILEROW", "TILECOL", "FORMAT"):
        if not params.get(name):
            raise KvpError(f"GetTile needs the {name} parameter", "MissingParameterValue", name)
    version = params.get("VERSION", "1.0.0")
    if version != "1.0.0":
        raise KvpError(f"VERSION={version}: this service speaks WMTS 1.0.0", "VersionNegotiationFailed", "VERSION")
    slug, _, year = params["LAYER"].partition(":")
    year = year or params.get("TIME") or "latest"
    if not _SLUG.match(slug) or not (year == "latest" or _YEAR.match(year)):
        raise KvpError(f"LAYER={params['LAYER']!r} is not a layer of the capabilities (collection:year, or "
                       "collection with TIME=year)", locator="LAYER")
    grid = params["TILEMATRIXSET"]
    if grid not in grids.TILE_GRID:
        raise KvpError(f"TILEMATRIXSET={grid!r}: offered are {', '.join(grids.TILE_GRID)}", locator="TILEMATRIXSET")
    fmt = MEDIA_FORMATS.get(params["FORMAT"].lower())
    if fmt is None:
        raise KvpError(f"FORMAT={params['FORMAT']!r}: offered are image/jpeg, image/png, image/webp", locator="FORMAT")
    for name in ("TILEMATRIX", "TILEROW", "TILECOL"):
        if not _INDEX.match(params[name]):
            raise KvpError(f"{name}={params[name]!r} is not a whole number", locator=name)
    style = params.get("STYLE", "default")
    if style not in ("default", ""):
        raise KvpError(f"STYLE={style!r}: the only style is 'default'", locator="STYLE")
    return (f"/tiles/{slug}/{year}/tiles/{grids.TILE_GRID[grid]}/{int(params['TILEMATRIX'])}/"
            f"{int(params['TILECOL'])}/{int(params['TILEROW'])}.{fmt}")


def exception_report(message: str, status: int, code: str | None = None, locator: str = "") -> bytes:
    """An ows:ExceptionReport document for one error."""
    ET.register_namespace("ows", OWS)
    root = ET.Element(f"{{{OWS}}}ExceptionReport", {"version": "1.1.0", "{http://www.w3.org/XML/1998/namespace}lang": "en"})
    attrs = {"exceptionCode": code or EXCEPTION_CODES.get(status, "NoApplicableCode")}
    if locator:
        attrs["locator"] = locator
    exception = ET.SubElement(root, f"{{{OWS}}}Exception", attrs)
    ET.SubElement(exception, f"{{{OWS}}}ExceptionText").text = message
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
