"""What every layers endpoint shares: DRF's authentication and error mapping, the catalog deciding access."""

from __future__ import annotations

import json
import re

from django.http import HttpResponse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


class LayersSchema(AutoSchema):
    """In /api/docs/: each endpoint with its docstring; the bodies are GeoJSON, MVT, files or OGC documents
    (described in detail by the OGC API's own OpenAPI at /ogc/api)."""

    def get_request_serializer(self):
        return {"multipart/form-data": OpenApiTypes.OBJECT} if self.method == "POST" else None

    def get_response_serializers(self):
        return OpenApiTypes.OBJECT

    def get_operation_id(self) -> str:
        """From the view's name (ItemsView -> ogc_items_get), unique where paths alone collide."""
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(self.view).__name__.removesuffix("View")).lower()
        alias = "_alias" if self.path == "/ogc" else ""
        return f"{self.get_tags()[0]}_{name}_{self.method.lower()}{alias}"

    def get_tags(self) -> list[str]:
        return ["ogc"] if self.path.startswith("/ogc") else ["layers"]


class LayersView(APIView):
    """Anonymous callers reach the view so that the catalog's ``authorize`` answers (401 with the reason)."""

    permission_classes = [AllowAny]
    schema = LayersSchema()


def json_response(data: dict, status: int = 200, content_type: str = "application/json") -> HttpResponse:
    return HttpResponse(json.dumps(data, ensure_ascii=False), status=status, content_type=content_type)


