"""Address string normalisation: the first, gazetteer-independent step of geocoding.

People and registers write the same address in many ways (full-width digits, Chinese
numerals, spaces, punctuation, postal codes, the city name). ``normalize_address``
maps them onto one compact form so the parser only has to handle one spelling. It never
raises: garbage in gives a (possibly empty) string out.
"""

from __future__ import annotations

import re
import unicodedata

#: Longest input we look at; real addresses are far shorter, so a 10,000-character
#: string costs no more than a normal one.
MAX_INPUT_CHARS = 300
#: Separator kept between two digit runs that the writer separated ("25 2130室"),
#: so removing spaces does not glue two numbers into one.
SEP = "|"

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_CHARS = "零〇一二两三四五六七八九十百千"

# Characters that stand for 号 or separate numbers; variant forms of common address words.
_CHAR_MAP = str.maketrans({"號": "号", "樓": "楼", "單": "单", "區": "区", "縣": "县", "鎮": "镇",
                           "衚": "胡", "衕": "同", "—": "-", "－": "-", "~": "-", "～": "-",
                           "_": "-", "/": "-"})

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\ufeff]")
# A run of Chinese numerals used as a number: before a unit word, or at the very end
# right after a road word (胡同一百二十五). Numerals inside names (三里河路, 明光二条) stay.
_NUMERAL_BEFORE_UNIT = re.compile(rf"[{_CN_CHARS}]+(?=号|#|单元|层|楼|室|栋|幢|座|门|-|\||\d|[A-Z]座|$)")
# 甲/乙 before a trailing numeral make it a house number too (东四巷乙二十三).
_WORD_BEFORE_TRAILING_NUMERAL = set("街路里条巷同道弄院甲乙丙丁")
_POSTCODE = re.compile(r"(?:邮编|邮政编码)[:：]?\d{6}|^1\d{5}(?=\D|$)|(?<=\D)1\d{5}$")
_DIGIT_GAP = re.compile(r"(?<=\d)[\s,，.。;；、|]+(?=\d)")
_HASH_BUILDING = re.compile(rf"(?<=[\d{_CN_CHARS}])#")  # 57# / 五十七#: the house number
_DROP = re.compile(r"[^\w\-|]")
_CITY_PREFIX = re.compile(r"^(?:中国|中华人民共和国)?(?:北京市|北京)?(?:市辖区)?")
_ROAD_START = set("路街道里巷")


def chinese_numeral_to_int(text: str) -> int | None:
    """Value of a Chinese numeral: 一百二十五 → 125, 十五 → 15, 二零一 → 201 (digit by digit)."""
    if not text or any(ch not in _CN_DIGITS and ch not in _CN_UNITS for ch in text):
        return None
    if not any(ch in _CN_UNITS for ch in text):
        value = 0
        for ch in text:
            value = value * 10 + _CN_DIGITS[ch]
        return value
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            unit = _CN_UNITS[ch]
            total += (1 if digit is None else digit) * unit
            digit = None
    return total + (digit or 0)


def _numerals_to_digits(text: str) -> str:
    def before_unit(m: re.Match[str]) -> str:
        run = m.group(0)
        if m.end() == len(text) and m.start() > 0 and text[m.start() - 1] not in _WORD_BEFORE_TRAILING_NUMERAL:
            return run
        value = chinese_numeral_to_int(run)
        if value is None:
            return run
        # 一百五十六1202室: the numeral and the digits are two numbers
        return f"{value}{SEP}" if text[m.end():m.end() + 1].isdigit() else str(value)

    return _NUMERAL_BEFORE_UNIT.sub(before_unit, text)


def normalize_address(text: object) -> str:
    """Canonical compact form of an address string (see module docstring); '' for non-text."""
    if not isinstance(text, str):
        return ""
    s = unicodedata.normalize("NFKC", text[:MAX_INPUT_CHARS])
    s = _CONTROL.sub(" ", s).translate(_CHAR_MAP).upper()
    s = _POSTCODE.sub(" ", s.strip())
    s = _DIGIT_GAP.sub(SEP, s)
    s = _HASH_BUILDING.sub("号", s)
    s = _DROP.sub("", s)
    s = s.strip(SEP + "-")
    s = _numerals_to_digits(s)
    return strip_city_prefix(s)


def strip_city_prefix(s: str) -> str:
    """Drop 中国/北京市/北京 at the start, unless 北京 begins a road name (北京路)."""
    m = _CITY_PREFIX.match(s)
    rest = s[m.end():]
    if m.group(0).endswith("北京") and rest[:1] in _ROAD_START:
        return s[m.end() - 2:]
    return rest
