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
    m = geocode(f"{_swapped(district)}{name}4号", index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(road, 4)
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


def _cn(n: int) -> str:
    digits = "零一二三四五六七八九"
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else "十" if tens == 1 else digits[tens] + "十") + (digits[ones] if ones or not tens else "")


@pytest.mark.parametrize("rid, n", [("R1", 12), ("R2", 17), ("R6", 23), ("R11", 31)])
@pytest.mark.parametrize("after", ["#", "#3层", "座", "B座1503", "(3层)", ""])
def test_chinese_numeral_house_number_without_hao(index, rid, n, after):
    road = ROAD[rid]
    m = geocode(f"{road[2]}{road[1]}{_cn(n)}{after}", index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(road, n)


@pytest.mark.parametrize("prefix_text", ["甲十五#", "甲十五", "甲十五号"])
def test_chinese_numeral_after_jia(index, prefix_text):
    m = geocode(f"东城区美术馆后街{prefix_text}", index)
    assert m.level == "door" and m.matched_address.endswith("美术馆后街甲15号")


def test_number_glued_to_a_two_digit_room_is_read_when_it_is_the_only_door(index):
    m = geocode("朝阳区安华四条3412室", index)  # 3号 412室 does not exist; 34号 12室 does
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R11"], 34) and m.score < 1.0


@pytest.mark.parametrize("district", ["原宣武区", "原宣武", "宣武区"])
def test_former_district_with_yuan_prefix(index, district):
    m = geocode(f"{district}牛街5号", index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R2"], 5)


def test_former_chongwen_with_yuan_prefix(index):
    assert geocode("原崇文区美术馆后街5号", index).level == "door"


@pytest.mark.parametrize("n", [1, 12, 25])
def test_arabic_digit_inside_a_road_name(index, n):
    m = geocode(f"朝阳区安华4条{n}号", index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R11"], n)


def test_arabic_digit_not_making_a_road_name_stays_a_number(index):
    m = geocode("朝阳区朝阳北路4号", index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R6"], 4)


@pytest.mark.parametrize("n", [2, 5, 18])
def test_sound_alike_typo_that_is_a_road_elsewhere_uses_the_stated_district(index, n):
    m = geocode(f"海淀区建国路{n}号", index)  # 建国路 exists only in 朝阳区; 海淀区 has 建果路
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R12"], n) and m.score < 1.0


def test_real_road_in_the_stated_district_still_wins(index):
    m = geocode("朝阳区建国路5号", index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R13"], 5) and m.score == 1.0


@pytest.mark.parametrize("n", [3, 12])
def test_shortened_road_name_outside_the_stated_township_yields_to_the_townships_road(index, n):
    m = geocode(f"东城区景山街道西大街{n}号", index)  # 西大街 of 东华门街道 is another road
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R14"], n) and m.score < 1.0


def test_shortened_road_name_in_the_stated_township_is_that_road(index):
    m = geocode("东城区东华门街道西大街5号", index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R15"], 5) and m.score == 1.0


def _grid_rows(township: str, code: str, road: str, xs: range, ys: range, start: int) -> list:
    from geoplatform.geocoding.gazetteer_csv import GazetteerRow

    rows = []
    for x in xs:
        for y in ys:
            n = start + len(rows) + 1
            rows.append(GazetteerRow(f"G{code}{n}", f"北京市东城区{township}{road}{n}号", "door", "东城区", "110101",
                                     township, code, road, f"{road}{code}", n, "", False, 0, "",
                                     116.4 + x * 10 / 85_000, 39.9 + y * 10 / 111_000))
    return rows


def test_township_point_lies_deep_inside_the_township_not_where_its_labels_spill_over(index):
    from geoplatform.geocoding.index import build_index

    # 甲街道: a 10x10 block of doors (x 0-9), and 80 doors labelled 甲 in 乙街道's block (x 12-15),
    # which pull the mean of 甲's doors towards (and past) the boundary at x = 10.
    rows = (_grid_rows("甲街道", "110101091", "甲路", range(0, 10), range(0, 10), 0)
            + _grid_rows("乙街道", "110101092", "乙路", range(10, 20), range(0, 10), 200)
            + _grid_rows("甲街道", "110101091", "甲北路", range(12, 16), range(0, 20), 400))
    m = geocode("东城区甲街道", build_index(rows))
    assert m.level == "township"
    x = (m.lon - 116.4) * 85_000 / 10
    assert x < 7  # at least 30 m inside 甲's own block, away from 乙's doors


@pytest.mark.parametrize("text", ["密云镇鼓楼街道新中街5号", "密云鼓楼街道新中街5号", "密云区鼓楼街道新中街5号"])
def test_short_district_glued_to_a_township_that_starts_like_a_town(index, text):
    m = geocode(text, index)  # 密云镇 is also a town; 新中街 is also in 朝阳区
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R17"], 5)


def test_the_town_itself_still_reads_as_the_town(index):
    m = geocode("密云镇密云东路5号", index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R19"], 5) and m.score == 1.0


def test_corrections_are_named_on_the_match(index):
    assert geocode("阳朝区榆南街3号", index).corrections == ()  # corrected district + fuzzy road: not confirmed
    assert geocode("阳朝区望京街道榆南街3号", index).corrections == ("district_corrected", "road_fuzzy")
    assert geocode("东城区美术馆后街12号", index).corrections == ()


@pytest.mark.parametrize("n", [3, 14])
def test_arabic_digit_in_the_middle_of_a_road_name(index, n):
    m = geocode(f"朝阳区8里庄北里{n}号", index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R20"], n)


@pytest.mark.parametrize("n, floor", [(7, 9), (5, 6), (9, 5)])
def test_one_digit_number_glued_to_an_impossible_floor_is_read_apart(index, n, floor):
    m = geocode(f"朝阳区朝阳北路{n}{floor}层", index)
    assert m.level == "door" and (m.lon, m.lat) == door_point(ROAD["R6"], n) and m.score < 1.0
    assert m.corrections == ("number_reread",)


def test_a_plausible_floor_alone_is_not_read_as_a_number(index):
    assert geocode("朝阳区朝阳北路23层", index).level == "road"


@pytest.mark.parametrize("road", ROADS, ids=lambda r: r[0])
@pytest.mark.parametrize("char", ["4", "B"])
def test_a_digit_or_letter_in_place_of_a_road_character_never_raises(index, road, char):
    name = road[1]
    for k in range(len(name)):
        m = geocode(f"{road[2]}{name[:k]}{char}{name[k + 1:]}5号", index)  # pinyin has no reading for it
        assert m.level in ("door", "interpolated", "road", "none")
