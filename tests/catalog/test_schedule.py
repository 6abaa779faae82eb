"""Update cadences: when the next update is due, and who is late."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from catalog.entries import mark_published, overdue_entries
from catalog.errors import InvalidRequest
from catalog.schedule import next_due

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("cadence", "published", "due"), [
    ("monthly:3", datetime(2026, 1, 2, 10, tzinfo=SH), datetime(2026, 1, 3, 23, 59, 59, tzinfo=SH)),
    ("monthly:3", datetime(2026, 1, 3, 10, tzinfo=SH), datetime(2026, 2, 3, 23, 59, 59, tzinfo=SH)),
    ("monthly:31", datetime(2026, 1, 31, 10, tzinfo=SH), datetime(2026, 2, 28, 23, 59, 59, tzinfo=SH)),
    ("quarterly", datetime(2026, 11, 30, 9, tzinfo=SH), datetime(2027, 2, 28, 9, tzinfo=SH)),
    ("yearly", datetime(2024, 2, 29, 9, tzinfo=SH), datetime(2025, 2, 28, 9, tzinfo=SH)),
    ("weekly", datetime(2026, 1, 1, 9, tzinfo=SH), datetime(2026, 1, 8, 9, tzinfo=SH)),
    ("on_change", datetime(2026, 1, 1, 9, tzinfo=SH), None),
])
def test_next_due(cadence, published, due):
    assert next_due(cadence, published) == due


def test_unknown_cadence_is_refused():
    with pytest.raises(InvalidRequest, match="unknown cadence"):
        next_due("fortnightly-ish", timezone.now())


def test_overdue_per_department_and_publishing_resets_the_clock(city):
    entry = city.entries["open"]
    entry.cadence = "monthly:3"
    entry.last_published_at = timezone.now() - timedelta(days=70)
    entry.next_due_at = timezone.now() - timedelta(days=5)
    entry.save()
    assert entry in overdue_entries(city.departments["owner"])
    assert entry not in overdue_entries(city.departments["stranger"])
    mark_published(entry, feature_count=10, extent=(116.0, 39.5, 117.0, 40.5),
                   fields=[{"name": "name", "type": "string"}, {"name": "credit_code", "type": "string"}])
    entry.refresh_from_db()
    assert entry not in overdue_entries()
    assert entry.next_due_at > timezone.now()
    assert entry.sensitivity("credit_code") == "masked", "a new version keeps the fields' sensitivities"
    assert entry.extent.extent == (116.0, 39.5, 117.0, 40.5)
