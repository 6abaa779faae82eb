"""Reverse geocoding: the nearest standard addresses to a point, by PostGIS KNN.

``ORDER BY point <-> query`` walks the GiST index, so the nearest address comes back in
milliseconds whatever the gazetteer's size; the distance is then measured on the
spheroid (metres), not in degrees.
"""

from __future__ import annotations

from django.db import connection

from geoplatform.geocoding.models import GazetteerVersion

_SQL = """
SELECT address_id, standard_address, level, ST_X(point), ST_Y(point),
       ST_Distance(point::geography, q.g::geography) AS metres
FROM geocoding_address, (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4490) AS g) AS q
WHERE version_id = %s
ORDER BY point <-> q.g
LIMIT %s
"""


def reverse_geocode(lon: float, lat: float, limit: int = 1) -> list[dict]:
    """Nearest addresses of the active version, nearest first, each with ``distance_m``."""
    version = GazetteerVersion.objects.filter(is_active=True).values_list("pk", flat=True).first()
    if version is None:
        return []
    with connection.cursor() as cur:
        cur.execute(_SQL, [lon, lat, version, limit])
        return [{"address_id": a, "standard_address": s, "level": lvl, "lon": x, "lat": y,
                 "distance_m": round(d, 1)} for a, s, lvl, x, y, d in cur.fetchall()]
