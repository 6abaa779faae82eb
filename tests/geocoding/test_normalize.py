"""Normalisation rules, one test per rule."""

import time

import pytest

from geoplatform.geocoding.normalize import chinese_numeral_to_int, normalize_address


@pytest.mark.parametrize(("text", "value"), [("十五", 15), ("十", 10), ("一百二十五", 125), ("二百零一", 201),
                                             ("三十", 30), ("两千零八", 2008), ("一零五", 105), ("七", 7)])
def test_chinese_numerals_have_their_value(text, value):
    assert chinese_numeral_to_int(text) == value


def test_chinese_numeral_rejects_other_text():
    assert chinese_numeral_to_int("三里") is None


def test_full_width_digits_and_letters_become_half_width():
    assert normalize_address("美术馆后街１５号Ａ座") == "美术馆后街15号A座"


def test_numerals_before_a_unit_become_digits():
    assert normalize_address("牛街十五号院三号楼二单元") == "牛街15号院3号楼2单元"


def test_trailing_numeral_after_a_road_word_is_a_number():
    assert normalize_address("长青胡同一百二十五") == "长青胡同125"


def test_numerals_inside_names_stay():
    assert normalize_address("三里河路十九号") == "三里河路19号"
    assert normalize_address("明光二条五十五号院") == "明光二条55号院"


def test_spaces_and_punctuation_go_but_separate_numbers():
    assert normalize_address(" 北京市 朝阳区，朝阳北路（17号院） ") == "朝阳区朝阳北路17号院"
    assert normalize_address("南礼士路 25 2130室") == "南礼士路25|2130室"


def test_postal_codes_are_removed():
    assert normalize_address("100010 北京市东城区美术馆后街1号") == "东城区美术馆后街1号"
    assert normalize_address("东城区美术馆后街1号 邮编：100010") == "东城区美术馆后街1号"


def test_city_prefix_is_removed_but_not_from_a_road_named_after_the_city():
    assert normalize_address("中国北京市海淀区") == "海淀区"
    assert normalize_address("北京海淀区") == "海淀区"
    assert normalize_address("北京路5号") == "北京路5号"


def test_hash_means_number():
    assert normalize_address("清风路3号院5#楼") == "清风路3号院5号楼"


def test_control_characters_are_dropped():
    assert normalize_address("牛街\x00\x07５号\u200b") == "牛街5号"


@pytest.mark.parametrize("junk", [None, 42, "", "   ", "!!!"])
def test_non_text_and_empty_give_empty(junk):
    assert normalize_address(junk) == ""


def test_very_long_input_is_cut_not_slow():
    start = time.perf_counter()
    out = normalize_address("牛街" * 5000)
    assert len(out) <= 300 and time.perf_counter() - start < 1.0


def test_numeral_followed_by_digits_is_two_numbers():
    assert normalize_address("榆树东路一百五十六1202室") == "榆树东路156|1202室"
