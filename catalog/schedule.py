"""Update cadences and who is late: when is an entry's next update due?"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta

from django.utils import timezone

from catalog.errors import InvalidRequest

CADENCE_RE = re.compile(r"^(on_change|weekly|quarterly|yearly|monthly(?::([1-9]|[12][0-9]|3[01]))?)$")


def validate_cadence(cadence: str) -> str:
    if not CADENCE_RE.match(cadence):
        raise InvalidRequest(f"unknown cadence {cadence!r}: use monthly:DAY, monthly, quarterly, yearly, weekly "
                             "or on_change")
    return cadence


def _add_months(moment: datetime, months: int, day: int | None = None) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return moment.replace(year=year, month=month, day=min(day or moment.day, last))


def next_due(cadence: str, published_at: datetime) -> datetime | None:
    """When the update after one published at ``published_at`` is due; None for on_change."""
    validate_cadence(cadence)
    local = timezone.localtime(published_at)
    if cadence == "on_change":
        return None
    if cadence == "weekly":
        return published_at + timedelta(days=7)
    if cadence == "quarterly":
        return _add_months(local, 3)
    if cadence == "yearly":
        return _add_months(local, 12)
    day = int(cadence.split(":")[1]) if ":" in cadence else None
    if day is None:
        return _add_months(local, 1)
    # monthly on day N: the next N-th strictly after the publication day
    candidate = _add_months(local, 0, day).replace(hour=23, minute=59, second=59, microsecond=0)
    if candidate.date() <= local.date():
        candidate = _add_months(candidate, 1, day)
    return candidate
