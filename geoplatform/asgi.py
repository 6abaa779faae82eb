"""ASGI entry point: one application for `geoplatform serve --interface asgi` (uvicorn) and the web replicas.

``/tiles/...`` goes to the imagery tile service (tiles.app, FastAPI with titiler), everything
else to Django. The tile service also runs alone as its own replicas (``uvicorn tiles.app:app``,
docker-compose.yml), behind a proxy that sends it the same ``/tiles/`` paths.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
django_application = get_asgi_application()

from tiles.app import app as tiles_application  # noqa: E402  (needs Django set up first)


def with_tiles(django_app):
    """An ASGI app sending ``/tiles/`` to the tile service and the rest to ``django_app`` (any ASGI callable).

    The lifespan protocol goes to the tile app: Django's ASGI handler does not speak it.
    """

    async def route(scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "lifespan" or path == "/tiles" or path.startswith("/tiles/"):
            await tiles_application(scope, receive, send)
        else:
            await django_app(scope, receive, send)

    return route


application = with_tiles(django_application)
