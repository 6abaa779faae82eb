"""ASGI entry point: one application for `geoplatform serve --interface asgi` (uvicorn) and the web replicas.

``/tiles/...`` goes to the imagery tile service (tiles.app, FastAPI with titiler), everything
else to Django. The tile service also runs alone as its own replicas (``uvicorn tiles.app:app``,
docker-compose.yml), behind a proxy that sends it the same ``/tiles/`` paths.
"""

import os
from urllib.parse import parse_qs

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
django_application = get_asgi_application()

from starlette.responses import JSONResponse  # noqa: E402

from geoplatform.limits import nul_parameter, url_too_long  # noqa: E402
from tiles.app import app as tiles_application  # noqa: E402  (needs Django set up first)


def request_line_refusal(scope):
    """The platform's request-line limits (geoplatform.limits) for the tile service, which Django's middleware
    does not see: a JSON 414 or 400 response app, or None."""
    query = scope.get("query_string", b"")
    if reason := url_too_long(len(scope.get("raw_path") or b"") + len(query) + 1):
        return JSONResponse({"detail": reason}, status_code=414)
    if reason := nul_parameter(scope.get("path", ""), parse_qs(query.decode("latin-1"), keep_blank_values=True)):
        return JSONResponse({"detail": reason}, status_code=400)
    return None


def with_tiles(django_app):
    """An ASGI app sending ``/tiles/`` to the tile service and the rest to ``django_app`` (any ASGI callable).

    The lifespan protocol goes to the tile app: Django's ASGI handler does not speak it.
    """

    async def route(scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "lifespan" or path == "/tiles" or path.startswith("/tiles/"):
            if refusal := request_line_refusal(scope):
                await refusal(scope, receive, send)
                return
            await tiles_application(scope, receive, send)
        else:
            await django_app(scope, receive, send)

    return route


application = with_tiles(django_application)
