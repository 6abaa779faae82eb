"""The demo city's generated imagery: two years over the city, open to every department, loaded once."""

from __future__ import annotations

import pytest

from catalog.models import Department, Entry
from geoplatform.demo import city
from tiles.demo import DEMO_SLUG, load_demo_imagery, synthetic_city_rgb
from tiles.models import ImageryDataset

pytestmark = pytest.mark.django_db


def test_the_city_grows_between_the_two_years():
    first, bounds = synthetic_city_rgb(2024, width=400)
    second, _ = synthetic_city_rgb(2025, width=400)
    assert first.shape == second.shape and first.shape[0] == 3
    west, south, east, north = city.CITY.bounds
    assert bounds[0] < west and bounds[2] > east and bounds[1] < south and bounds[3] > north
    grey = [int(((img.max(axis=0) - img.min(axis=0)) < 20).sum()) for img in (first, second)]
    assert grey[1] > grey[0]


def test_demo_imagery_is_ingested_once_and_shared_openly(imagery_root):
    Department.objects.create(code="ghzrzyw", name_zh="市规划和自然资源委员会")
    messages: list[str] = []
    assert [d.year for d in load_demo_imagery(say=messages.append)] == [2024, 2025]
    assert load_demo_imagery(say=messages.append) == [] and len(messages) == 2
    entry = Entry.objects.get(slug=DEMO_SLUG)
    assert (entry.kind, entry.sharing, entry.owner.code) == ("imagery", "open", "ghzrzyw")
    assert ImageryDataset.objects.filter(entry=entry, compression="JPEG").count() == 2
