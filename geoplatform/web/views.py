"""Portal pages and the health check."""

import pyproj
from django.contrib.gis.gdal import gdal_full_version
from django.db import connection
from django.db.models import Count, Sum
from django.db.utils import Error as DatabaseError
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone

from catalog.models import ApiKey, Department, Entry


def home(request):
    """What the platform holds and where to go next."""
    now = timezone.now()
    active_keys = ApiKey.objects.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)
    entries = Entry.objects.exclude(sharing=Entry.Sharing.UNLISTED)
    context = {
        "departments": Department.objects.annotate(entry_count=Count("entries")),
        "active_key_count": active_keys.count(),
        "entry_count": entries.count(),
        "feature_total": entries.aggregate(n=Sum("feature_count"))["n"] or 0,
        "recent": entries.exclude(last_published_at=None).select_related("owner").order_by("-last_published_at")[:6],
    }
    return render(request, "web/home.html", context)


def healthz(request):
    """Liveness for proxies and operators: database reachable, PostGIS, GDAL and PROJ versions."""
    body = {
        "status": "ok",
        "gdal": gdal_full_version().decode(),
        "proj": pyproj.proj_version_str,
    }
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version(), postgis_lib_version(), postgis_proj_version(), postgis_geos_version()")
            pg, postgis, postgis_proj, geos = cursor.fetchone()
        body.update(database="ok", postgresql=pg.split(" on ")[0], postgis=postgis,
                    postgis_proj=postgis_proj, geos=geos)
        status = 200
    except DatabaseError as exc:
        body.update(status="error", database=f"unreachable: {str(exc).strip().splitlines()[0]}")
        status = 503
    return JsonResponse(body, status=status)
