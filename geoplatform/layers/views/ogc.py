"""OGC API - Features (Part 1 core + GeoJSON + OpenAPI, Part 2 CRS, Part 3 CQL2-text filter) under /ogc/."""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpResponse
from django.utils import timezone

from catalog.access import Action
from catalog.api.params import int_param
from catalog.audit import record_result
from catalog.errors import EntryNotFound, InvalidRequest
from geoplatform.layers import conf
from geoplatform.layers.serving.access import LayerAccess, listable_layers, open_layer
from geoplatform.layers.serving.features import CRS84, CRS_URIS, Selection, crs_uri, geojson_query, parse_crs
from geoplatform.layers.views.base import LayersView, json_response

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
]
RESERVED = {"limit", "offset", "bbox", "bbox-crs", "crs", "filter", "filter-lang", "filter-crs", "sortby",
            "datetime", "f", "token", "properties"}
GEOJSON = "application/geo+json"


def base_url(request) -> str:
    return request.build_absolute_uri("/ogc")


def collection_doc(request, access_layer, version) -> dict:
    base = f"{base_url(request)}/collections/{access_layer.slug}"
    doc = {
        "id": access_layer.slug,
        "title": access_layer.title,
        "itemType": "feature",
        "crs": [CRS84, *[u for u in CRS_URIS if u != CRS84]],
        "storageCrs": crs_uri(4490),
        "links": [
            {"rel": "self", "type": "application/json", "href": base},
            {"rel": "items", "type": GEOJSON, "href": f"{base}/items"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json",
             "href": f"{base}/queryables"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "type": "application/json",
             "href": f"{base}/tiles"},
        ],
    }
    if version.extent:
        doc["extent"] = {"spatial": {"bbox": [version.extent], "crs": CRS84}}
    return doc


class LandingView(LayersView):
    def get(self, request):
        base = base_url(request)
        return json_response({
            "title": "Geoplatform shared layers",
            "description": "OGC API - Features and Tiles over the city's shared vector layers",
            "links": [
                {"rel": "self", "type": "application/json", "href": f"{base}/"},
                {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "href": f"{base}/api"},
                {"rel": "conformance", "type": "application/json", "href": f"{base}/conformance"},
                {"rel": "data", "type": "application/json", "href": f"{base}/collections"},
            ],
        })


class ConformanceView(LayersView):
    def get(self, request):
        return json_response({"conformsTo": CONFORMANCE})


class OpenApiView(LayersView):
    """A small OpenAPI 3.0 description of the OGC endpoints (clients read it to learn the parameters)."""

    def get(self, request):
        def op(summary: str, params: list[str]) -> dict:
            return {"get": {"summary": summary, "parameters": [{"name": p, "in": "query", "required": False,
                                                              "schema": {"type": "string"}} for p in params],
                            "responses": {"200": {"description": "OK"}}}}

        collection = {"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string"}}
        paths = {
            "/": op("landing page", []), "/conformance": op("conformance classes", []),
            "/collections": op("collections", []),
            "/collections/{collectionId}": op("collection", []),
            "/collections/{collectionId}/items": op("features", sorted(RESERVED - {"f", "token"})),
            "/collections/{collectionId}/items/{featureId}": op("feature", ["crs", "datetime"]),
        }
        for path, item in paths.items():
            if "{collectionId}" in path:
                item["get"]["parameters"].append(collection)
            if "{featureId}" in path:
                item["get"]["parameters"].append({"name": "featureId", "in": "path", "required": True,
                                                  "schema": {"type": "integer"}})
        return json_response({"openapi": "3.0.3", "info": {"title": "Geoplatform OGC API", "version": "1.0"},
                              "servers": [{"url": base_url(request)}], "paths": paths},
                             content_type="application/vnd.oai.openapi+json;version=3.0")


class CollectionsView(LayersView):
    def get(self, request):
        layers = listable_layers(request)
        versions = {v.layer_id: v for layer in layers for v in [layer.versions.get(number=layer.current_version)]}
        return json_response({
            "links": [{"rel": "self", "type": "application/json", "href": f"{base_url(request)}/collections"}],
            "collections": [collection_doc(request, la, versions[la.pk]) for la in layers],
        })


class CollectionView(LayersView):
    def get(self, request, slug: str):
        access = open_layer(request, slug, Action.DISCOVER)
        return json_response(collection_doc(request, access.layer, access.version))


class QueryablesView(LayersView):
    def get(self, request, slug: str):
        access = open_layer(request, slug, Action.DISCOVER)
        types = {"integer": "integer", "bigint": "integer", "double precision": "number", "boolean": "boolean",
                 "date": "string", "timestamp": "string", "text": "string"}
        props = {f.name: {"type": types[f.type]} for f in access.fields}
        props["geometry"] = {"$ref": "https://geojson.org/schema/Geometry.json"}
        return json_response({"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object",
                              "$id": f"{base_url(request)}/collections/{slug}/queryables",
                              "title": access.layer.title, "properties": props},
                             content_type="application/schema+json")


def selection_from_request(request, access: LayerAccess) -> tuple[Selection, int | None]:
    """The rows a request asks for (bbox, CQL2 filter, property filters, sortby) and its output CRS."""
    params = request.query_params
    lang = params.get("filter-lang", "cql2-text")
    if lang != "cql2-text":
        raise InvalidRequest(f"filter-lang {lang!r} is not supported; use cql2-text")
    sel = Selection(access)
    sel.bbox(params.get("bbox"), parse_crs(params.get("bbox-crs")))
    sel.cql2(params.get("filter"))
    for name in params:
        if name not in RESERVED:
            sel.equals(name, params[name])
    sel.sortby(params.get("sortby"))
    return sel, parse_crs(params.get("crs"))


class ItemsView(LayersView):
    def get(self, request, slug: str):
        access = open_layer(request, slug, Action.READ, at=request.query_params.get("datetime"),
                            at_name="datetime")
        sel, srid = selection_from_request(request, access)
        limit = int_param(request, "limit", conf.ITEMS_DEFAULT_LIMIT, 1, conf.ITEMS_MAX_LIMIT)
        offset = int_param(request, "offset", 0, 0, 10**12)
        sql, params = geojson_query(sel, srid, limit + 1, offset)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = [r[0] for r in cursor.fetchall()]
        more = len(rows) > limit
        rows = rows[:limit]
        links = [{"rel": "self", "type": GEOJSON, "href": request.build_absolute_uri()}]
        if more:
            query = request.query_params.copy()
            query["offset"] = str(offset + limit)
            query["limit"] = str(limit)
            url = f"{base_url(request)}/collections/{slug}/items?{query.urlencode()}"
            links.append({"rel": "next", "type": GEOJSON, "href": url})
        doc = {"type": "FeatureCollection", "numberReturned": len(rows)}
        if sel.unfiltered:  # known without counting; a filtered count would cost a scan, so it is left out
            doc["numberMatched"] = access.version.feature_count
        doc.update({"timeStamp": timezone.now().isoformat(timespec="seconds"), "links": links})
        meta = json.dumps(doc, ensure_ascii=False)
        head = meta[:-1] + ',"features":['
        body = (head + ",".join(rows) + "]}").encode()
        record_result(access.decision, rows=len(rows), bytes=len(body))
        response = HttpResponse(body, content_type=GEOJSON)
        response["Content-Crs"] = f"<{crs_uri(srid)}>"
        return response


class ItemView(LayersView):
    def get(self, request, slug: str, fid: int):
        access = open_layer(request, slug, Action.READ, at=request.query_params.get("datetime"),
                            at_name="datetime")
        sel = Selection(access)
        sel.where.append("t.gp_fid = %s")
        sel.params.append(fid)
        srid = parse_crs(request.query_params.get("crs"))
        sql, params = geojson_query(sel, srid, 1)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            raise EntryNotFound(f"{slug} has no feature {fid} in version {access.version.number}")
        collection = f"{base_url(request)}/collections/{slug}"
        links = json.dumps([{"rel": "self", "type": GEOJSON, "href": request.build_absolute_uri()},
                            {"rel": "collection", "type": "application/json", "href": collection}])
        body = f'{row[0][:-1]},"links":{links}}}'.encode()
        record_result(access.decision, rows=1, bytes=len(body))
        response = HttpResponse(body, content_type=GEOJSON)
        response["Content-Crs"] = f"<{crs_uri(srid)}>"
        return response
