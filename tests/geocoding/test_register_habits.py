"""Habits of real registers the dev set under-represents (issue 15), one class per test group.

Variants are generated from the fixture gazetteer, so each test checks the class, not one example.
"""

import pytest

from geoplatform.geocoding.match import geocode

from .gazetteer_fixture import ROADS, door_point

ROAD = {r[0]: r for r in ROADS}
# Roads whose name is unique in the city (a shared name needs its district anyway).
UNIQUE = [r for r in ROADS if sum(o[1] == r[1] for o in ROADS) == 1]


def _swapped(district: str) -> str:
    stem = district[:-1]
    return stem[::-1] + district[-1]


@pytest.mark.parametrize("road", UNIQUE + [ROAD["R5"], ROAD["R10"]], ids=lambda r: r[0])
def test_district_with_two_characters_swapped_is_corrected(index, road):
    rid, name, district, *_ = road
    m = geocode(f"{_swapped(district)}{name}3号", index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(road, 3)
    assert m.score < 1.0


@pytest.mark.parametrize("typed, road", [("海靛区振兴南路5号", "R3"), ("朝杨区振兴南路5号", "R5"),
                                         ("密芸区鼓楼大街5号", "R8")])
def test_district_with_one_wrong_character_is_corrected(index, typed, road):
    m = geocode(typed, index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD[road], 5) and m.score < 1.0


def test_corrected_district_with_the_township_is_confirmed(index):
    m = geocode("阳朝区望京街道榆树南街4号", index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R7"], 4)


def test_corrected_district_alone_is_not_an_answer(index):
    assert geocode("阳朝区", index).level == "none"


def test_district_one_slip_from_two_districts_is_not_guessed(index):
    m = geocode("南城区清风路5号", index)  # 东城区 and 西城区 both one character away
    assert m.level == "none" and m.lon is None


def test_corrected_district_without_its_road_is_none(index):
    assert geocode("城东区牛街5号", index).level == "none"  # 牛街 is in 西城区, not 东城区
