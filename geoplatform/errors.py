"""Domain errors -> HTTP, in one place."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from catalog.auth import CHALLENGE
from catalog.errors import CatalogError
from catalog.redact import redact


def exception_handler(exc, context):
    """DRF's handler, plus the catalog's typed errors mapped by their ``status``; no message repeats a credential."""
    if isinstance(exc, CatalogError):
        response = Response({"detail": redact(str(exc))}, status=exc.status)
        if exc.status == status.HTTP_401_UNAUTHORIZED:
            response["WWW-Authenticate"] = CHALLENGE
        return response
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and isinstance(response.data.get("detail"), str):
        response.data["detail"] = redact(response.data["detail"])
    return response
