"""ASGI entry point: the Django application (uvicorn, `geoplatform serve`)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
application = get_asgi_application()
