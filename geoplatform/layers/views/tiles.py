"""Vector tiles: {z}/{x}/{y}.mvt, TileJSON for MapLibre, OGC API - Tiles metadata (WebMercatorQuad)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpResponse

from catalog.access import Action
from catalog.errors import InvalidRequest
from geoplatform.layers.serving.access import open_layer, open_layer_for_tile
from geoplatform.layers.serving.tiles import render_tile
from geoplatform.layers.views.base import LayersView, json_response

MVT = "application/vnd.mapbox-vector-tile"
WEB_MERCATOR_QUAD = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
MAX_ZOOM = 22


def check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM or not 0 <= x < 2**z or not 0 <= y < 2**z:
        raise InvalidRequest(f"tile {z}/{x}/{y} does not exist in WebMercatorQuad (zoom 0-{MAX_ZOOM})")


def passthrough(request) -> str:
    """token and at carried into tile URL templates (a map client cannot add headers to tile requests)."""
    kept = {k: request.query_params[k] for k in ("token", "at") if request.query_params.get(k)}
    return f"?{urlencode(kept)}" if kept else ""


class TileView(LayersView):
    accepts_token_parameter = True

    def perform_authentication(self, request):
        """Lazy: the catalog's tile path reuses a recent decision for the same credential without a key lookup."""

    def get(self, request, slug: str, z: int, x: int, y: int):
        check_tile(z, x, y)
        access = open_layer_for_tile(request, slug, at=request.query_params.get("at"))
        data = render_tile(access, z, x, y)
        response = HttpResponse(data, content_type=MVT)
        response["Cache-Control"] = "private, max-age=60"
        return response


class OgcTileView(TileView):
    """OGC API - Tiles order: {tileMatrix}/{tileRow}/{tileCol} = z/y/x."""

    def get(self, request, slug: str, z: int, row: int, col: int):
        return super().get(request, slug, z, col, row)


class TileJsonView(LayersView):
    accepts_token_parameter = True

    def get(self, request, slug: str):
        access = open_layer(request, slug, Action.READ, at=request.query_params.get("at"), allow_query_token=True)
        url = request.build_absolute_uri(f"/api/layers/{slug}/tiles/") + "{z}/{x}/{y}.mvt" + passthrough(request)
        west, south, east, north = access.version.extent or [-180, -85, 180, 85]
        types = {"text": "String", "boolean": "Boolean", "date": "String", "timestamp": "String"}
        return json_response({
            "tilejson": "3.0.0", "name": access.layer.title, "scheme": "xyz", "tiles": [url],
            "minzoom": 0, "maxzoom": MAX_ZOOM, "bounds": [west, south, east, north],
            "center": [(west + east) / 2, (south + north) / 2, 10],
            "vector_layers": [{"id": slug, "fields": {f.name: types.get(f.type, "Number") for f in access.fields},
                               "minzoom": 0, "maxzoom": MAX_ZOOM}],
        })


class OgcTilesetsView(LayersView):
    accepts_token_parameter = True

    def get(self, request, slug: str):
        open_layer(request, slug, Action.DISCOVER, allow_query_token=True)
        base = request.build_absolute_uri(f"/ogc/collections/{slug}/tiles")
        return json_response({"tilesets": [{
            "title": f"{slug} (WebMercatorQuad)", "dataType": "vector", "tileMatrixSetURI": WEB_MERCATOR_QUAD,
            "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
            "links": [{"rel": "self", "type": "application/json", "href": f"{base}/WebMercatorQuad"},
                      {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                       "href": "https://schemas.opengis.net/tms/2.0/json/examples/tilematrixset/WebMercatorQuad.json"}],
        }], "links": [{"rel": "self", "type": "application/json", "href": base}]})


class OgcTilesetView(LayersView):
    accepts_token_parameter = True

    def get(self, request, slug: str):
        access = open_layer(request, slug, Action.DISCOVER, allow_query_token=True)
        base = request.build_absolute_uri(f"/ogc/collections/{slug}/tiles/WebMercatorQuad")
        return json_response({
            "title": access.layer.title, "dataType": "vector", "tileMatrixSetURI": WEB_MERCATOR_QUAD,
            "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
            "layers": [{"id": slug, "dataType": "vector", "geometryDimension": None}],
            "links": [
                {"rel": "self", "type": "application/json", "href": base},
                {"rel": "item", "type": MVT, "templated": True,
                 "href": base + "/{tileMatrix}/{tileRow}/{tileCol}" + passthrough(request)},
            ],
        })
