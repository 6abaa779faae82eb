"""Parsing into elements, against the small test gazetteer's vocabulary."""

from geoplatform.geocoding.parse import parse_address


def parse(text, index):
    return parse_address(text, index.vocab)


def test_full_address_is_split_into_elements(index):
    p = parse("北京市朝阳区望京街道朝阳北路17号院3号楼2单元1701室", index)
    assert (p.district, p.townships, p.road, p.number) == ("朝阳区", ("望京街道",), "朝阳北路", 17)
    assert (p.compound, p.building, p.unit, p.room) == (True, 3, 2, 1701)


def test_short_district_name_is_expanded(index):
    assert parse("海淀振兴南路3号", index).district == "海淀区"


def test_former_district_names_map_to_their_successors(index):
    assert parse("宣武区牛街5号", index).district == "西城区"
    assert parse("崇文区美术馆后街1号", index).district == "东城区"
    assert parse("密云县鼓楼大街5号", index).district == "密云区"


def test_owner_alias_table_is_used():
    from geoplatform.geocoding.index import build_index

    from .gazetteer_fixture import gazetteer_rows

    idx = build_index(gazetteer_rows(), district_aliases={"东城": "东城区", "老东城": "东城区"},
                      township_aliases={"东华门": "东华门街道"}, road_aliases={"美术馆后大街": "美术馆后街"})
    p = parse_address("老东城东华门美术馆后大街3号", idx.vocab)
    assert (p.district, p.townships, p.road) == ("东城区", ("东华门街道",), "美术馆后大街")


def test_short_name_that_begins_a_road_is_not_a_district(index):
    p = parse("海淀南路5号", index)
    assert p.road == "海淀南路" and p.district is None


def test_prefix_jia_is_kept_apart_from_the_number(index):
    p = parse("东城区美术馆后街甲15号", index)
    assert (p.prefix, p.number) == ("甲", 15)


def test_building_words_are_all_buildings(index):
    for word in ("号楼", "栋", "幢", "座"):
        assert parse(f"朝阳北路17号院3{word}", index).building == 3


def test_floor_and_room_do_not_disturb_the_number(index):
    p = parse("牛街5号4层401室", index)
    assert (p.number, p.floor, p.room) == (5, 4, 401)
    p = parse("牛街5号B座1203", index)
    assert (p.number, p.building_letter, p.room) == (5, "B", 1203)


def test_dash_form_of_building_unit_room(index):
    p = parse("朝阳北路17号院3-2-1701", index)
    assert (p.building, p.unit, p.room) == (3, 2, 1701)


def test_number_without_hao(index):
    assert parse("东城区美术馆后街一百二十", index).number == 120
    assert parse("西城 牛街 12 2130室", index).number == 12


def test_number_run_into_the_floor_has_two_readings(index):
    p = parse("牛街123层", index)
    assert {p.number, *p.alt_numbers} == {1, 12}


def test_landmark_after_the_number(index):
    assert parse("海淀区振兴南路21号院紫光苑", index).landmarks == ["紫光苑"]


def test_unknown_words_before_the_road_are_residual(index):
    p = parse("朝阳区某某社区朝阳北路5号", index)
    assert (p.road, p.residual) == ("朝阳北路", "某某社区")
