"""Geocoding HTTP API: single and list geocoding, reverse geocoding.

Thin views: parameters are checked here, the matching is ``match.geocode`` on the index
of the active gazetteer version, and every call goes through the catalog's one access
check (entry "gazetteer", action read), which also writes the audit row.
"""

from __future__ import annotations

import dataclasses
import os

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from catalog.access import Action, authorize
from geoplatform.geocoding.loading import ENTRY_SLUG
from geoplatform.geocoding.match import Match, geocode
from geoplatform.geocoding.reverse import reverse_geocode
from geoplatform.geocoding.services import NoGazetteer, active_index

#: Most addresses one POST may carry (larger sets go through the batch command / jobs).
MAX_LIST = int(os.environ.get("GEOPLATFORM_GEOCODE_MAX_LIST", "1000"))
#: Requests per API key (DRF rate syntax), for GET and POST alike.
RATE = os.environ.get("GEOPLATFORM_GEOCODE_RATE", "600/min")


class PerKeyThrottle(SimpleRateThrottle):
    """Rate limit per API key (or per staff user): one noisy client cannot starve the others."""

    scope = "geocode"

    def get_rate(self) -> str:
        return RATE

    def get_cache_key(self, request, view) -> str | None:
        user = getattr(request, "user", None)
        return f"throttle_geocode_{user.pk}" if user is not None and getattr(user, "pk", None) else None


def match_to_dict(m: Match, with_candidates: bool = True) -> dict:
    """The JSON form of a match (lon/lat EPSG:4490, null when level is none)."""
    out = {"lon": m.lon, "lat": m.lat, "level": m.level, "score": m.score, "matched_address": m.matched_address,
           "address_id": m.address_id, "corrections": list(m.corrections)}
    if with_candidates:
        out["candidates"] = [dataclasses.asdict(c) for c in m.candidates]
    return out


class _GeocodingView(APIView):
    throttle_classes = [PerKeyThrottle]

    def index(self):
        try:
            return active_index()
        except NoGazetteer as exc:
            raise ValidationError({"detail": str(exc)}) from None


class GeocodeView(_GeocodingView):
    """GET ?q=ADDRESS: the best match and the top candidates. POST a JSON list of addresses."""

    @extend_schema(parameters=[OpenApiParameter("q", str, required=True)], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        q = request.query_params.get("q", "")
        if not q.strip():
            raise ValidationError({"q": "give the address to geocode: ?q=北京市东城区美术馆后街1号"})
        authorize(request, ENTRY_SLUG, Action.READ, purpose="geocode")
        m = geocode(q, self.index())
        return Response({"query": q, **match_to_dict(m)})

    @extend_schema(request={"application/json": {"type": "array", "items": {"type": "string"}}},
                   responses={200: {"type": "array", "items": {"type": "object"}}})
    def post(self, request):
        items = request.data
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise ValidationError({"detail": 'send a JSON list of address strings: ["地址1", "地址2"]'})
        if len(items) > MAX_LIST:
            raise ValidationError({"detail": f"{len(items)} addresses; at most {MAX_LIST} per request, "
                                             "use `geoplatform geocode batch` for files"})
        with_nul = [i + 1 for i, x in enumerate(items) if "\x00" in x]
        if with_nul:
            raise ValidationError({"detail": f"address {with_nul[0]} contains a NUL character (\\u0000); "
                                             "remove it"})
        authorize(request, ENTRY_SLUG, Action.READ, purpose="geocode")
        index = self.index()
        return Response([{"query": q, **match_to_dict(geocode(q, index), with_candidates=False)} for q in items])


class _ReverseParams(serializers.Serializer):
    lon = serializers.FloatField(min_value=-180, max_value=180)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    limit = serializers.IntegerField(min_value=1, max_value=20, default=1)


class ReverseView(_GeocodingView):
    """GET ?lon=&lat=[&limit=]: the nearest standard addresses (KNN), with distance in metres."""

    @extend_schema(parameters=[_ReverseParams], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        params = _ReverseParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        authorize(request, ENTRY_SLUG, Action.READ, purpose="reverse geocode")
        found = reverse_geocode(params.validated_data["lon"], params.validated_data["lat"],
                                params.validated_data["limit"])
        return Response({"lon": params.validated_data["lon"], "lat": params.validated_data["lat"],
                         "results": found})
