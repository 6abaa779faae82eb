"""Each match level, on the small test gazetteer (see gazetteer_fixture for its layout)."""

import pytest

from geoplatform.geocoding.match import LEVELS, geocode

from .gazetteer_fixture import ROADS, door_point

ROAD = {r[0]: r for r in ROADS}


def test_door(index):
    m = geocode("北京市东城区美术馆后街12号", index)
    assert (m.level, m.matched_address) == ("door", "北京市东城区东华门街道美术馆后街12号")
    assert (m.lon, m.lat) == door_point(ROAD["R1"], 12) and m.score == 1.0 and m.address_id


def test_building_in_a_compound(index):
    m = geocode("朝阳区朝阳北路17号院3号楼2单元1701室", index)
    assert m.level == "building" and m.matched_address.endswith("朝阳北路17号院3号楼")


def test_unknown_building_falls_back_to_the_compound_gate_with_lower_score(index):
    m = geocode("朝阳区朝阳北路17号院30号楼", index)
    assert m.level == "door" and m.matched_address.endswith("17号院") and m.score < 1.0


def test_missing_number_is_interpolated_on_the_same_side(index):
    m = geocode("东城区美术馆后街9号", index)  # 7-10 missing: 9 lies between 5 and 11 (odd side)
    low, high = door_point(ROAD["R1"], 5), door_point(ROAD["R1"], 11)
    assert m.level == "interpolated" and m.address_id == ""
    assert low[0] < m.lon < high[0] and m.lat == pytest.approx(low[1])


def test_prefixed_number(index):
    assert geocode("东城区美术馆后街甲15号", index).matched_address.endswith("甲15号")
    m = geocode("东城区美术馆后街乙15号", index)
    assert m.level == "interpolated" and m.score < 0.75


def test_landmark_alone(index):
    m = geocode("海淀区紫光苑", index)
    assert m.level == "poi" and m.matched_address.endswith("振兴南路21号院")


def test_landmark_with_building(index):
    assert geocode("海淀区紫光苑2号楼", index).level == "building"


def test_road_only(index):
    m = geocode("北京市西城区牛街", index)
    assert m.level == "road" and "牛街" in m.matched_address


def test_township_only(index):
    m = geocode("东城区东华门街道", index)
    assert m.level == "township" and m.address_id == "110101001"


def test_district_only(index):
    assert geocode("北京市朝阳区", index).level == "district"


@pytest.mark.parametrize("junk", ["", "同上", "请联系客服", "xxxxx", "北京市", "天津市和平区朝阳北路5号",
                                  "东城区不存在大道34号", "Baker Street 221B", "\x00\x01\x02", "牛" * 10000, None])
def test_garbage_and_other_places_are_none(index, junk):
    m = geocode(junk, index)
    assert (m.level, m.lon, m.lat, m.score) == ("none", None, None, 0.0)


def test_confusable_character_in_road_name(index):
    m = geocode("朝阳区朝杨北路5号", index)  # 杨 for 阳, same sound
    assert m.level == "door" and "朝阳北路5号" in m.matched_address and m.score < 1.0


def test_dropped_character_in_road_name(index):
    m = geocode("朝阳区榆南街3号", index)
    assert m.level == "door" and "榆树南街3号" in m.matched_address


def test_shared_road_name_resolved_by_district(index):
    assert "朝阳区" in geocode("朝阳区振兴南路3号", index).matched_address
    assert "海淀区" in geocode("海淀区振兴南路3号", index).matched_address


def test_shared_road_name_resolved_by_the_only_road_with_that_number(index):
    m = geocode("振兴南路35号", index)  # only 海淀's has 35
    assert "海淀区" in m.matched_address and m.score < 1.0


def test_shared_road_name_without_anything_to_choose_is_none_with_candidates(index):
    m = geocode("清风路5号", index)
    assert m.level == "none" and len(m.candidates) == 2


def test_road_named_in_another_district_only_is_none(index):
    assert geocode("密云区牛街5号", index).level == "none"


def test_old_district_name_matches(index):
    assert geocode("宣武区牛街5号", index).level == "door"


def test_short_township_that_begins_a_misspelt_road_is_retried(index):
    m = geocode("海淀南洛5号", index)  # 海淀 could be the district; it is the road 海淀南路
    assert m.level == "door" and "海淀南路5号" in m.matched_address


def test_number_run_into_floor_matches_only_when_one_reading_exists(index):
    m = geocode("美术馆后街253层", index)  # 25号 3层 (253号 does not exist; 2号 53层 too high)
    assert m.level == "door" and m.matched_address.endswith("美术馆后街25号")


def test_levels_are_from_the_documented_list(index):
    for text in ("东城区美术馆后街12号", "东城区美术馆后街9号", "海淀区紫光苑", "北京市西城区牛街", "同上"):
        assert geocode(text, index).level in LEVELS
