"""The imagery tile service's ASGI app (FastAPI, as titiler is).

A thin configuration of titiler's TilerFactory: its tile endpoint, with a path dependency that
resolves (collection slug, year) through the registry after the access check, so it serves only
registered datasets and never a caller-supplied URL or path. The work one request may ask for is
bounded by configuration, not by copied endpoints: narrowed parameter dependencies, a router
dependency that refuses what is not offered (tiles.limits) and a reader that checks band numbers.
Beside it: XYZ URLs, TileJSON, WMTS 1.0.0 capabilities and the API docs (for authenticated callers). Mounted beside Django by geoplatform/asgi.py; deployed alone as replicas
behind the proxy (docker-compose.yml ``tiles``), where it sets Django up itself.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode

import django
from django.apps import apps

if not apps.ready:  # running alone (uvicorn tiles.app:app): the registry and the catalog need Django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
    django.setup()

import rasterio  # noqa: E402
from attrs import define  # noqa: E402
from fastapi import APIRouter, Depends, FastAPI, Query, Request  # noqa: E402
from fastapi import Path as PathParam  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.openapi.docs import get_swagger_ui_html  # noqa: E402
from fastapi.responses import HTMLResponse, JSONResponse, Response  # noqa: E402
from rio_tiler.io import Reader  # noqa: E402
from rio_tiler.models import ImageData  # noqa: E402
from rio_tiler.utils import non_alpha_indexes  # noqa: E402
from titiler.core.dependencies import BidxParams, DefaultDependency  # noqa: E402
from titiler.core.errors import DEFAULT_STATUS_CODES  # noqa: E402
from titiler.core.factory import TilerFactory  # noqa: E402

from catalog.auth import CHALLENGE  # noqa: E402
from catalog.errors import CatalogError, EntryNotFound, InvalidRequest  # noqa: E402
from catalog.redact import redact  # noqa: E402
from tiles import grids, limits, ows  # noqa: E402
from tiles.access import (  # noqa: E402
    authenticated_caller,
    authorize_collection,
    authorize_tile,
    dataset_key,
    readable_collections,
)
from tiles.cache import TileCacheMiddleware  # noqa: E402
from tiles.capabilities import FORMATS, tilejson, wmts_capabilities  # noqa: E402
from tiles.metadata import collection_metadata  # noqa: E402
from tiles.registry import registry  # noqa: E402

# Our COGs have no sidecar files (.ovr, .aux.xml, .msk): GDAL need not list their folder (or bucket) each
# time a tile opens one. A deployment's own setting wins.
os.environ.setdefault("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR")

# titiler logs every dataset it opens at INFO: one line per tile would flood the platform's console log.
logging.getLogger("titiler").setLevel(logging.WARNING)

# any extension, so that .tif or .npy get the limits' 400 naming the formats, not a bare 404; an optional grid
# (WebMercatorQuad, c, CGCS2000Quad) before z/x/y, Web Mercator without one
XYZ_PATH = re.compile(r"^/tiles/([^/]+)/([^/]+)/(?:([A-Za-z0-9]+)/)?(\d+)/(\d+)/(\d+)\.([A-Za-z0-9]+)$")


def registered_dataset_path(request: Request, collection: Annotated[str, PathParam()],
                            year: Annotated[str, PathParam()]) -> str:
    """titiler's path dependency: the registered COG of (collection, year), after the access check; else 404."""
    if year == "latest":  # a WMTS Time dimension's default (KVP GetTile without TIME)
        year = str(latest_year(collection))
    slug, number = dataset_key(collection, year)
    authorize_tile(request, slug)
    dataset = registry.lookup(slug, number)
    if dataset is None:
        raise EntryNotFound(f"no imagery {slug}/{number}")
    return dataset.path_for(request.path_params.get("tileMatrixSetId"))


def latest_year(slug: str) -> int:
    """The newest registered year of a collection (404 when it has none)."""
    years = [year for (name, year) in registry.items if name == slug]
    if not years:
        registry.reload()
        years = [year for (name, year) in registry.items if name == slug]
    if not years:
        raise EntryNotFound(f"no imagery {slug!r}")
    return max(years)


def offered_parameters_only(request: Request) -> None:
    """Router dependency, run before the access check: a 400 saying what is allowed for anything not offered.

    It comes first because it needs neither the credential nor the database: a request that
    cannot be served costs nothing and is not counted as a tile.
    """
    path = request.path_params
    limits.check_request(request.query_params.multi_items(), path.get("format"))
    if (grid := path.get("tileMatrixSetId")) in grids.TILE_GRID:
        tms = grids.GRIDS[grid]
        limits.check_zoom(path.get("z"), grid, tms.minzoom, tms.maxzoom)


class RegisteredCOGReader(Reader):
    """rio-tiler's reader, with the band numbers checked against the opened file (only it knows its bands).

    Without ``bidx`` a file of 2 or 4+ colour bands is drawn from its first band or its first
    three: PNG, JPEG and WebP encode one band or three (plus the mask), nothing else.
    """

    def tile(self, tile_x: int, tile_y: int, tile_z: int, tilesize: int | None = None,
             indexes: list[int] | None = None, **kwargs) -> ImageData:
        if indexes:
            limits.check_bands_exist(indexes, self.dataset.count)
        else:
            bands = non_alpha_indexes(self.dataset)
            if len(bands) not in limits.BAND_COUNTS:
                indexes = list(bands[:3] if len(bands) > 3 else bands[:1])
        return super().tile(tile_x, tile_y, tile_z, tilesize=tilesize, indexes=indexes, **kwargs)


@dataclass
class ResamplingParams(DefaultDependency):
    """The dataset options offered: a resampling kernel (the values tiles.limits allows)."""

    resampling_method: Annotated[Literal[limits.RESAMPLING] | None,
                                 Query(alias="resampling", description="Resampling kernel; default nearest.")] = None


@dataclass
class DisplayParams(DefaultDependency):
    """The rendering options offered: a min,max stretch per band and the mask (no colormap, no color formula)."""

    rescale: Annotated[list[str] | None, Query(description="min,max per band drawn (at most 3), e.g. 0,255.")] = None
    add_mask: Annotated[bool | None, Query(alias="return_mask", description="Add the mask as alpha (PNG, WebP).")
                        ] = None

    def __post_init__(self) -> None:
        if self.rescale:
            self.rescale = [tuple(float(v) for v in r.strip(" []").split(",")) for r in self.rescale]


def no_colormap() -> None:
    """Colormaps are not offered (tiles.limits refuses the parameters)."""


def no_algorithm() -> None:
    """Post-processing algorithms are not offered (tiles.limits refuses the parameters)."""


@define(kw_only=True)
class ImageryTilerFactory(TilerFactory):
    """Only the endpoints the platform offers (tiles and dataset info), each behind the path dependency."""

    def register_routes(self) -> None:
        self.info()
        self.tile()


tiler = ImageryTilerFactory(
    router=APIRouter(dependencies=[Depends(offered_parameters_only)]),
    reader=RegisteredCOGReader,
    path_dependency=registered_dataset_path,
    layer_dependency=BidxParams,
    tile_dependency=DefaultDependency,
    dataset_dependency=ResamplingParams,
    colormap_dependency=no_colormap,
    process_dependency=no_algorithm,
    render_dependency=DisplayParams,
    router_prefix="/tiles/{collection}/{year}",
    supported_tms=grids.supported_tms(),
    add_preview=False, add_part=False, add_viewer=False,
)


class TilePaths:
    """The platform's tile URLs onto the factory's tile route, one access check and one reader for all:

    - XYZ ``/tiles/C/Y/z/x/y.png`` (Web Mercator) and ``/tiles/C/Y/GRID/z/x/y.png`` (any advertised grid;
      CGCS2000Quad is c's tiles under OGC scale denominators, so it is served by the c route);
    - WMTS KVP GetTile ``/tiles/wmts?REQUEST=GetTile&…`` (tiles.ows), the token kept; a GetTile that cannot be
      resolved goes on to the KVP endpoint, which answers the exception report.

    WMTS requests are marked (scope ``geoplatform.ows``) so their errors are answered as ows:ExceptionReport.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            scope = self.rewrite(scope)
        await self.app(scope, receive, send)

    @staticmethod
    def rewrite(scope: dict) -> dict:
        path = scope["path"]
        if match := XYZ_PATH.match(path):
            collection, year, grid, z, x, y, fmt = match.groups()
            fmt = "jpeg" if fmt == "jpg" else fmt  # titiler answers .jpg as image/jpg, which is no media type
            target = f"/tiles/{collection}/{year}/tiles/{grids.TILE_GRID.get(grid or grids.WEB_MERCATOR, grid)}/{z}/{x}/{y}.{fmt}"
            return {**scope, "path": target, "raw_path": target.encode()}
        if path in ows.WMTS_PATHS:
            scope = {**scope, "geoplatform.ows": True}
            query = {k: v for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)}
            params = ows.kvp_parameters(query)
            if path == "/tiles/wmts" and params.get("REQUEST", "").lower() == "gettile":
                try:
                    target = ows.kvp_tile_path(params)
                except ows.KvpError:
                    return scope
                token = [(k, v) for k, v in query.items() if k.lower() == "token"]
                return {**scope, "path": target, "raw_path": target.encode(),
                        "query_string": urlencode(token).encode()}
        return scope


app = FastAPI(title="Geoplatform imagery tiles", docs_url=None, redoc_url=None, openapi_url=None,
              swagger_ui_oauth2_redirect_url=None)
app.add_middleware(TileCacheMiddleware)  # inside TilePaths: sees the tile route
app.add_middleware(TilePaths)


def error_response(request: Request, status: int, message: str, headers: dict | None = None,
                   code: str | None = None, locator: str = "") -> Response:
    """JSON ``{"detail": …}``, or an ows:ExceptionReport for WMTS requests (what WMTS clients parse).

    The message is redacted (catalog.redact): an error must not repeat a credential it was given."""
    message = redact(message)
    if request.scope.get("geoplatform.ows"):
        return Response(ows.exception_report(message, status, code, locator), status_code=status,
                        media_type="application/xml", headers=headers)
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def _titiler_error(status: int):
    async def handler(request: Request, exc: Exception) -> Response:
        if status == 500 and "/vsis3/" in str(exc):  # the object store failed mid-read: not our fault, say whose
            return error_response(request, 503, "the object store did not deliver the imagery file; try again, "
                                  f"or check the store (AWS_S3_ENDPOINT): {exc}")
        return error_response(request, status, str(exc))
    return handler


for _error, _status in DEFAULT_STATUS_CODES.items():  # titiler's and rio-tiler's errors, by their status
    app.add_exception_handler(_error, _titiler_error(_status))


@app.exception_handler(RequestValidationError)
async def invalid_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 error list as the platform's 400: one sentence naming the parameter, its value and what is expected."""
    parts = []
    for error in exc.errors()[:3]:
        where, name = (error["loc"][0], error["loc"][1]) if len(error["loc"]) > 1 else ("request", error["loc"][0])
        given = str(error.get("input", ""))
        given = given if len(given) <= 40 else given[:40] + "…"
        parts.append(f"{where} parameter {name}={given}: {error['msg']}")
    return error_response(request, 400, "; ".join(parts))


@app.exception_handler(CatalogError)
async def catalog_error(request: Request, exc: CatalogError) -> Response:
    """The catalog's typed errors by their status, as geoplatform.errors does for Django."""
    headers = {"WWW-Authenticate": CHALLENGE} if exc.status == 401 else None
    return error_response(request, exc.status, str(exc), headers, getattr(exc, "code", None),
                          getattr(exc, "locator", ""))


@app.get("/tiles/openapi.json", include_in_schema=False, dependencies=[Depends(authenticated_caller)])
def openapi_schema() -> JSONResponse:
    """The tile service's OpenAPI document, for authenticated callers only (see :func:`api_docs`)."""
    return JSONResponse(app.openapi(), headers={"Cache-Control": "private, no-store"})


@app.get("/tiles/docs", include_in_schema=False, dependencies=[Depends(authenticated_caller)])
def api_docs() -> HTMLResponse:
    """Interactive docs, for an API key or a staff session (401 otherwise).

    Served, not dropped, because department developers build on these routes and the suite's API
    fuzzing reads the schema; not anonymous, because the platform tells an anonymous caller nothing
    beyond "authenticate", and the schema lists every collection route the service has.
    """
    return get_swagger_ui_html(openapi_url="/tiles/openapi.json", title="Geoplatform imagery tiles")


@app.get("/tiles/healthz")
def healthz() -> dict:
    """Liveness for the proxy: the GDAL the tile readers use."""
    return {"status": "ok", "gdal": rasterio.__gdal_version__, "rasterio": rasterio.__version__}


def _wmts_response(request: Request) -> Response:
    tokens, kvp_token = readable_collections(request)
    registry.reload()
    datasets = sorted(registry.items.values(), key=lambda d: (d.slug, d.year))
    metadata, provider = collection_metadata(list(tokens))
    body = wmts_capabilities(datasets, tokens, str(request.base_url), metadata, provider, kvp_token)
    return Response(body, media_type="application/xml", headers={"Cache-Control": "private, no-store"})


@app.get("/tiles/wmts", response_class=Response)
def wmts_kvp(request: Request) -> Response:
    """WMTS KVP GetCapabilities (parameter names are case-insensitive).

    A KVP GetTile that names a tile never reaches this function (TilePaths sends it to the tile route);
    one that cannot be resolved gets its exception report here.
    """
    params = ows.kvp_parameters(dict(request.query_params))
    if params.get("SERVICE", "WMTS").upper() != "WMTS":
        raise ows.KvpError(f"SERVICE={params['SERVICE']!r}: this is a WMTS", locator="SERVICE")
    operation = params.get("REQUEST", "").lower()
    if operation == "gettile":
        ows.kvp_tile_path(params)  # raises the KvpError that kept TilePaths from rewriting the request
    if operation != "getcapabilities":
        raise ows.KvpError(f"REQUEST={params.get('REQUEST', '')!r}: offered are GetCapabilities and GetTile",
                           "OperationNotSupported" if operation else "MissingParameterValue", "REQUEST")
    return _wmts_response(request)


@app.get("/tiles/WMTSCapabilities.xml", response_class=Response)
@app.get("/tiles/1.0.0/WMTSCapabilities.xml", response_class=Response)
def wmts_restful(request: Request) -> Response:
    """WMTS RESTful GetCapabilities: every collection and year the caller may read."""
    return _wmts_response(request)


@app.get("/tiles/{collection}/{year}/tilejson.json")
def collection_tilejson(request: Request, collection: str, year: str, format: str | None = None) -> JSONResponse:
    """TileJSON of one collection-year; its tile URL carries a tile token (no database round trip per tile)."""
    slug, number = dataset_key(collection, year)
    if format is not None and format not in FORMATS:
        raise InvalidRequest(f"format must be one of {', '.join(FORMATS)}")
    token = authorize_collection(request, slug)
    dataset = registry.lookup(slug, number)
    if dataset is None:
        raise EntryNotFound(f"no imagery {slug}/{number}")
    return JSONResponse(tilejson(dataset, str(request.base_url), token, format),
                        headers={"Cache-Control": "private, no-store"})


app.include_router(tiler.router, prefix="/tiles/{collection}/{year}", tags=["Imagery tiles"])
