"""Query parameters checked once, with messages a caller can act on (400, never 500)."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from catalog.errors import InvalidRequest

TRUE_WORDS = ("true", "1")
FALSE_WORDS = ("false", "0")
#: Longitude and latitude limits, for a bbox that must be in degrees.
LONLAT_LIMITS = (-180.0, -90.0, 180.0, 90.0)
#: Real UTC offsets run from -12:00 to +14:00 (PostgreSQL refuses displacements past ±15:59).
MAX_UTC_OFFSET = timedelta(hours=14)
DATE_ONLY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
MOMENT_FORMS = "YYYY-MM-DD or an RFC 3339 date-time such as 2026-02-28T12:00:00+08:00"


def int_param(request, name: str, default: int, low: int, high: int) -> int:
    """The integer query parameter ``name`` within [low, high], or ``default`` when absent."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer, not {raw!r}") from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high}")
    return value


def parse_datetime_value(text: str, name: str, *, end_of_day: bool = False) -> datetime:
    """An aware date-time from ``YYYY-MM-DD`` (its start, or its last microsecond with ``end_of_day``)
    or an RFC 3339 date-time (the server's time zone when it has no offset).

    Well-formed but impossible values (2026-02-30, month 13, hour 99, offset +25:00) are a 400 naming
    the parameter ``name``: Python would raise ValueError and PostgreSQL refuse an offset past ±15:59.
    """
    try:
        if DATE_ONLY.fullmatch(text):
            day = parse_date(text)
            moment = datetime(day.year, day.month, day.day, *((23, 59, 59, 999999) if end_of_day else ()))
        else:
            moment = parse_datetime(text)
    except ValueError as exc:
        reason = "the UTC offset must be within ±14:00" if "offset" in str(exc) else str(exc)
        raise InvalidRequest(f"{name} {text!r} is not a real date or time ({reason}); expected {MOMENT_FORMS}") from None
    if moment is None:
        raise InvalidRequest(f"{name} {text!r} cannot be read as a date or date-time; expected {MOMENT_FORMS}")
    if timezone.is_naive(moment):
        return timezone.make_aware(moment)
    if abs(moment.utcoffset()) > MAX_UTC_OFFSET:
        raise InvalidRequest(f"{name} {text!r} is not a real date or time (the UTC offset must be within ±14:00); "
                             f"expected {MOMENT_FORMS}")
    return moment


def parse_bool(raw: str, name: str) -> bool:
    """``true``/``false``/``1``/``0`` in any case. Anything else is refused: read as false, ``maybe`` or a
    typo such as ``ture`` would silently do the opposite of what the caller meant."""
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidRequest(f"{name} must be true or false (or 1 / 0), not {raw!r}")


def bool_param(request, name: str, default: bool) -> bool:
    """The boolean query parameter ``name`` (see :func:`parse_bool`), or ``default`` when absent."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    return parse_bool(raw, name)


def _number(text: str, name: str, whole: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidRequest(f"{name} {whole!r}: {text.strip()!r} is not a number; "
                             "expected four numbers minx,miny,maxx,maxy") from None
    if not math.isfinite(value):
        raise InvalidRequest(f"{name} {whole!r}: {text.strip()!r} is not a finite number")
    return value


def parse_bbox(text: str, name: str = "bbox", *, lat_first: bool = False, degrees: bool = False,
               limits: tuple[float, float, float, float] | None = None) -> tuple[float, float, float, float]:
    """``minx,miny,maxx,maxy`` (or six numbers with heights, ignored) as (west, south, east, north).

    ``lat_first``: the numbers come in latitude/longitude order (a bbox-crs of EPSG 4490 or 4326).
    Corners must be finite and in order: a west edge east of the east edge would be a box crossing the
    antimeridian, which the platform's extent never needs, so it is refused rather than read as the whole
    world minus the box. ``degrees``: latitudes beyond ±90 are refused (usually swapped axes); longitudes
    are left alone, as map clients send boxes past ±180 when the map wraps. ``limits`` (west, south, east,
    north) bounds every edge.
    """
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise InvalidRequest(f"{name} {text!r}: expected four numbers minx,miny,maxx,maxy, not {len(parts)}")
    numbers = [_number(p, name, text) for p in parts]
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if lat_first:
        numbers = [numbers[1], numbers[0], numbers[3], numbers[2]]
    west, south, east, north = numbers
    order = "minlat,minlon,maxlat,maxlon" if lat_first else "minx,miny,maxx,maxy"
    outside = [lat for lat in (south, north) if not -90 <= lat <= 90]
    if degrees and outside:
        bad = outside[0]
        raise InvalidRequest(f"{name} {text!r}: latitude {bad:g} is outside -90..90; "
                             f"the order is {order}" + (" with this bbox-crs" if lat_first else ""))
    if south > north:
        raise InvalidRequest(f"{name} {text!r}: the south edge {south:g} is north of the north edge {north:g}; "
                             f"give the lower-left corner first ({order})")
    if west > east:
        raise InvalidRequest(f"{name} {text!r}: the west edge {west:g} is east of the east edge {east:g}; give the "
                             f"lower-left corner first ({order}; boxes crossing the antimeridian are not supported)")
    if limits is not None:
        low_x, low_y, high_x, high_y = limits
        if not (low_x <= west and east <= high_x and low_y <= south and north <= high_y):
            raise InvalidRequest(f"{name} {text!r}: outside {low_x:g}..{high_x:g}, {low_y:g}..{high_y:g} "
                                 "(minlon,minlat,maxlon,maxlat in degrees)")
    return west, south, east, north
