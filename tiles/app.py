"""The imagery tile service's ASGI app (FastAPI, as titiler is).

A thin configuration of titiler's TilerFactory: its tile endpoint, with a path dependency that
resolves (collection slug, year) through the registry after the access check, so it serves only
registered datasets and never a caller-supplied URL or path. Beside it: XYZ URLs, TileJSON and
WMTS 1.0.0 capabilities. Mounted beside Django by geoplatform/asgi.py; deployed alone as replicas
behind the proxy (docker-compose.yml ``tiles``), where it sets Django up itself.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Annotated

import django
from django.apps import apps

if not apps.ready:  # running alone (uvicorn tiles.app:app): the registry and the catalog need Django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
    django.setup()

import morecantile  # noqa: E402
import rasterio  # noqa: E402
from attrs import define  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi import Path as PathParam  # noqa: E402
from fastapi.responses import JSONResponse, Response  # noqa: E402
from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers  # noqa: E402
from titiler.core.factory import TilerFactory  # noqa: E402

from catalog.auth import CHALLENGE  # noqa: E402
from catalog.errors import CatalogError, EntryNotFound, InvalidRequest  # noqa: E402
from tiles.access import authorize_collection, authorize_tile, dataset_key, readable_collections  # noqa: E402
from tiles.capabilities import FORMATS, tilejson, wmts_capabilities  # noqa: E402
from tiles.registry import registry  # noqa: E402

# titiler logs every dataset it opens at INFO: one line per tile would flood the platform's console log.
logging.getLogger("titiler").setLevel(logging.WARNING)

XYZ_PATH = re.compile(r"^/tiles/([^/]+)/([^/]+)/(\d+)/(\d+)/(\d+)\.(png|jpg|jpeg|webp)$")
TILE_MATRIX_SET = "WebMercatorQuad"


def registered_dataset_path(request: Request, collection: Annotated[str, PathParam()],
                            year: Annotated[str, PathParam()]) -> str:
    """titiler's path dependency: the registered COG of (collection, year), after the access check; else 404."""
    slug, number = dataset_key(collection, year)
    authorize_tile(request, slug)
    dataset = registry.lookup(slug, number)
    if dataset is None:
        raise EntryNotFound(f"no imagery {slug}/{number}")
    return str(dataset.path)


@define(kw_only=True)
class ImageryTilerFactory(TilerFactory):
    """Only the endpoints the platform offers (tiles and dataset info), each behind the path dependency."""

    def register_routes(self) -> None:
        self.info()
        self.tile()


tiler = ImageryTilerFactory(
    path_dependency=registered_dataset_path,
    router_prefix="/tiles/{collection}/{year}",
    supported_tms=morecantile.TileMatrixSets({TILE_MATRIX_SET: morecantile.tms.get(TILE_MATRIX_SET)}),
    add_preview=False, add_part=False, add_viewer=False,
)


class XyzPaths:
    """XYZ URLs (``/tiles/C/Y/z/x/y.png``) are the factory's WebMercatorQuad tile route, renamed."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and (match := XYZ_PATH.match(scope["path"])):
            collection, year, z, x, y, fmt = match.groups()
            fmt = "jpeg" if fmt == "jpg" else fmt  # titiler answers .jpg as image/jpg, which is no media type
            path = f"/tiles/{collection}/{year}/tiles/{TILE_MATRIX_SET}/{z}/{x}/{y}.{fmt}"
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


app = FastAPI(title="Geoplatform imagery tiles", docs_url="/tiles/docs", redoc_url=None,
              openapi_url="/tiles/openapi.json", swagger_ui_oauth2_redirect_url=None)
app.add_middleware(XyzPaths)
add_exception_handlers(app, DEFAULT_STATUS_CODES)


@app.exception_handler(CatalogError)
async def catalog_error(request: Request, exc: CatalogError) -> JSONResponse:
    """The catalog's typed errors by their status, as geoplatform.errors does for Django."""
    headers = {"WWW-Authenticate": CHALLENGE} if exc.status == 401 else None
    return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)


@app.get("/tiles/healthz")
def healthz() -> dict:
    """Liveness for the proxy: the GDAL the tile readers use."""
    return {"status": "ok", "gdal": rasterio.__gdal_version__, "rasterio": rasterio.__version__}


def _wmts_response(request: Request) -> Response:
    tokens = readable_collections(request)
    registry.reload()
    datasets = sorted(registry.items.values(), key=lambda d: (d.slug, d.year))
    body = wmts_capabilities(datasets, tokens, str(request.base_url))
    return Response(body, media_type="application/xml", headers={"Cache-Control": "private, no-store"})


@app.get("/tiles/wmts", response_class=Response)
def wmts_kvp(request: Request) -> Response:
    """WMTS KVP: ``?SERVICE=WMTS&REQUEST=GetCapabilities`` (parameter names are case-insensitive). GetTile is RESTful."""
    params = {k.lower(): v for k, v in request.query_params.items()}
    if params.get("service", "WMTS").upper() != "WMTS" or params.get("request", "").lower() != "getcapabilities":
        raise InvalidRequest("this endpoint answers SERVICE=WMTS&REQUEST=GetCapabilities; tiles are fetched "
                             "from the ResourceURL templates of the capabilities (RESTful)")
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
