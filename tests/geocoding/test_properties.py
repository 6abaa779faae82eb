"""Property tests (hypothesis) for address normalisation and parsing, the gazetteer-independent steps.

``normalize_address`` promises never to raise and to map every spelling onto one form: so any input
gives a compact string, normalising twice changes nothing, and the spellings people write for the same
address (full-width digits, spaces, traditional characters, Chinese numerals) normalise alike.
``parse_address`` never raises either. Seeds fixed (derandomize), examples bounded.
"""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoplatform.geocoding.match import geocode
from geoplatform.geocoding.normalize import MAX_INPUT_CHARS, chinese_numeral_to_int, normalize_address
from geoplatform.geocoding.parse import parse_address

PROPERTY_SETTINGS = settings(max_examples=400, derandomize=True, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture])

ADDRESS_CHARS = "东城区西海淀朝阳街道路号院楼单元层室栋幢座门胡同里条巷甲乙一二三四五六七八九十百千零〇两號樓區" \
                "0123456789０１２３４５６７８９ -#,，.。/_~（）()北京市中国邮编:"
addressy = st.text(alphabet=ADDRESS_CHARS, max_size=40)
anything = st.one_of(addressy, st.text(max_size=MAX_INPUT_CHARS + 20), st.none(), st.integers(), st.binary(max_size=8))
DIGITS = "零一二三四五六七八九"


def to_chinese(n: int) -> str:
    """A number 1..9999 as written in Chinese (一千零五, 二百一十, 十五), the spelling under test."""
    units = [(1000, "千"), (100, "百"), (10, "十")]
    out, zero = "", False
    for value, unit in units:
        digit, n = divmod(n, value)
        if digit:
            if zero:
                out += "零"
            out += ("" if (value == 10 and digit == 1 and not out) else DIGITS[digit]) + unit
            zero = False
        elif out:
            zero = True
    if n:
        out += ("零" if zero else "") + DIGITS[n]
    return out


@PROPERTY_SETTINGS
@given(text=anything)
def test_normalising_never_raises_and_gives_a_compact_string(text):
    out = normalize_address(text)
    assert isinstance(out, str)
    assert not any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in out)


@PROPERTY_SETTINGS
@given(text=anything)
def test_normalising_twice_changes_nothing(text):
    once = normalize_address(text)
    assert normalize_address(once) == once


@PROPERTY_SETTINGS
@given(number=st.integers(1, 9999))
def test_chinese_numerals_read_as_their_value(number):
    assert chinese_numeral_to_int(to_chinese(number)) == number
    assert chinese_numeral_to_int("".join(DIGITS[int(d)] for d in str(number))) == number


@PROPERTY_SETTINGS
@given(number=st.integers(1, 999), building=st.integers(1, 99), spaces=st.sampled_from(["", " ", "  "]))
def test_spellings_of_one_address_normalise_alike(number, building, spaces):
    plain = f"东城区美术馆后街{number}号院{building}号楼"
    full_width = plain.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    chinese = f"东城区美术馆后街{to_chinese(number)}号院{to_chinese(building)}号楼"
    spaced = f"北京市{spaces}东城區{spaces}美术馆后街{spaces}{number}號院{building}號樓"
    assert normalize_address(full_width) == normalize_address(chinese) == normalize_address(spaced) \
        == normalize_address(plain)


@PROPERTY_SETTINGS
@given(text=anything)
def test_parsing_and_matching_never_raise(index, text):
    parsed = parse_address(text, index.vocab)
    assert parsed.normalized == parsed.normalized.strip()
    match = geocode(text, index)
    assert 0.0 <= match.score <= 1.0
