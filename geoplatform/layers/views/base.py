"""What every layers endpoint shares: DRF's authentication and error mapping, the catalog deciding access."""

from __future__ import annotations

import json

from django.http import HttpResponse
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


class LayersView(APIView):
    """Anonymous callers reach the view so that the catalog's ``authorize`` answers (401 with the reason)."""

    permission_classes = [AllowAny]
    schema = None


def json_response(data: dict, status: int = 200, content_type: str = "application/json") -> HttpResponse:
    return HttpResponse(json.dumps(data, ensure_ascii=False), status=status, content_type=content_type)


