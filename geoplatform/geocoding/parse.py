"""Split a normalised address into its elements (district, township, road, number ...).

The parser reads the administrative part from the left (district 区, township 乡镇/街道)
and the road from the right of the text before the house number, using the gazetteer's
own names (a ``Vocabulary``), so it needs no hand-written road list and an unknown word
between the township and the road (a community name, a typo) stays visible as
``residual`` instead of silently corrupting the road. Floor/unit/room are parsed so they
can be ignored safely: they refine nothing on the map.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from geoplatform.geocoding.normalize import normalize_address

#: Former and informal district names every Beijing gazetteer needs (宣武/崇文 merged in
#: 2010, 密云县/延庆县 became districts in 2015). The gazetteer owner adds more.
BUILTIN_DISTRICT_ALIASES = {"宣武区": "西城区", "宣武": "西城区", "崇文区": "东城区", "崇文": "东城区",
                            "密云县": "密云区", "延庆县": "延庆区"}
_TOWNSHIP_SUFFIXES = ("街道办事处", "地区办事处", "街道", "地区", "满族蒙古族乡", "满族乡", "回族乡",
                      "民族乡", "镇", "乡")

_NUMBER = re.compile(r"(?<!\d)(甲|乙|丙|丁)?(\d+)(号院|号楼|号|院|栋|幢|)")
_GLUED_BEFORE = ("层", "室", "楼", "单元", "F")
_TAIL = re.compile(r"(?P<bld>\d+)(?:号楼|栋|幢|号|座)|(?P<letter>[A-Z]{1,2})(?:座|栋|幢)|(?P<unit>\d+)单元"
                   r"|(?P<floor>\d+)(?:层|楼)|(?P<room>\d+)(?:室|房|号房)?|(?P<sep>[|\-]+)|(?P<text>[^\d|\-]+)")
_BUILDING_UNITS = ("号楼", "栋", "幢")


@dataclass(slots=True)
class Vocabulary:
    """The names the parser recognises, taken from the gazetteer and its alias table."""

    districts: dict[str, str]  # any spelling -> canonical district name
    short_districts: set[str]  # spellings that need the road-prefix guard (海淀 vs 海淀南路)
    townships: dict[str, tuple[str, ...]]  # spelling -> canonical township names
    short_townships: set[str]
    roads: frozenset[str]
    names: frozenset[str]  # roads, landmarks, townships: words a short name must not cut into
    max_district_len: int = 4
    max_township_len: int = 8
    max_road_len: int = 8
    city_prefixes: tuple[str, ...] = ()  # the city's own name (示范市, 示范), longest first

    @classmethod
    def build(cls, districts: Iterable[str], townships: Iterable[str], roads: Iterable[str],
              district_aliases: dict[str, str] | None = None,
              township_aliases: dict[str, str] | None = None,
              landmarks: Iterable[str] = (), cities: Iterable[str] = ()) -> Vocabulary:
        """Vocabulary with derived short names (海淀区 → 海淀, 望京街道 → 望京) and aliases."""
        districts = set(districts)
        spell: dict[str, str] = {d: d for d in districts}
        short: set[str] = set()
        for name in districts:
            if len(name) >= 3 and name[-1] in "区县":
                spell.setdefault(name[:-1], name)
                short.add(name[:-1])
        for alias, canonical in {**BUILTIN_DISTRICT_ALIASES, **(district_aliases or {})}.items():
            if canonical in districts:
                spell[alias] = canonical
                spell.setdefault("原" + alias, canonical)  # 原宣武区: "the former 宣武区"
                if alias[-1] not in "区县":
                    short.add(alias)
        towns: dict[str, set[str]] = {}
        short_towns: set[str] = set()
        townships = set(townships)
        for name in townships:
            towns.setdefault(name, set()).add(name)
            for suffix in _TOWNSHIP_SUFFIXES:
                if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                    towns.setdefault(name[: -len(suffix)], set()).add(name)
                    short_towns.add(name[: -len(suffix)])
                    break
        for alias, canonical in (township_aliases or {}).items():
            towns.setdefault(alias, set()).add(canonical)
        roads = frozenset(roads)
        landmarks = frozenset(landmarks)
        city_names = {c for city in cities for c in (city, city[:-1] if len(city) >= 3 and city.endswith("市") else city)}
        return cls(city_prefixes=tuple(sorted(city_names, key=len, reverse=True)),districts=spell, short_districts=short - set(districts),
                   townships={k: tuple(sorted(v)) for k, v in towns.items()},
                   short_townships=short_towns - set(townships), roads=roads,
                   names=roads | frozenset(landmarks) | frozenset(townships) - set(districts),
                   max_district_len=max(map(len, spell), default=4),
                   max_township_len=max(map(len, towns), default=8),
                   max_road_len=max(map(len, roads | frozenset(landmarks) | townships), default=8))

    def starts_road(self, s: str, i: int) -> bool:
        """Whether a known road or landmark name begins at position ``i`` (海淀南路 is not 海淀 + 南路)."""
        return any(s[i:i + n] in self.names for n in range(2, self.max_road_len + 1))


@dataclass(slots=True)
class ParsedAddress:
    """The elements of one address; ``None`` where the text did not say."""

    normalized: str
    district: str | None = None
    district_text: str | None = None
    townships: tuple[str, ...] = ()
    road: str | None = None  # a gazetteer road name found in the text
    core: str = ""  # text between the administrative part and the number
    residual: str = ""  # unexplained text left of the road
    number: int | None = None
    prefix: str = ""  # 甲 / 乙 ...
    compound: bool = False  # 号院
    building: int | None = None  # 号楼 / 栋 / 幢 / 座
    building_letter: str = ""  # A座: not in the gazetteer, ignored for the point
    unit: int | None = None
    floor: int | None = None
    room: int | None = None
    landmarks: list[str] = field(default_factory=list)
    alt_numbers: tuple[int, ...] = ()  # other readings of a number glued to a floor/room (4724层)
    weak_numbers: tuple[int, ...] = ()  # a last reading of a glued number (two-digit room)
    short_name: str = ""  # the short district/township name taken (海淀 for 海淀区), if any
    district_corrected: bool = False  # 山房区 read as 房山区: the road/township must confirm it


def parse_address(text: object, vocab: Vocabulary, short_names: bool = True) -> ParsedAddress:
    """Parse a raw address string into a ``ParsedAddress`` (never raises).

    ``short_names=False`` ignores short district/township names, for a second reading
    when the first one (海淀 + 南路 ...) found nothing.
    """
    s = _road_digits_to_numerals(_strip_city(normalize_address(text), vocab), vocab)
    p = ParsedAddress(normalized=s)
    if not s:
        return p
    m = _NUMBER.search(s, 1)
    head, tail = (s[: m.start()], s[m.end():]) if m else (s, "")
    _parse_admin(head, vocab, p, short_names)
    if m:
        _read_number(m, tail, p)
    _find_road(p, vocab)
    return p


_DIGIT_IN_NAME = re.compile(r"(?:(?<=[\u4e00-\u9fff])|^)(\d{1,2})(?=[街条巷路里道胡])")
_CN = "零一二三四五六七八九"


def _chinese_numeral(n: int) -> str:
    """1-99 as written in road names: 4 → 四, 10 → 十, 12 → 十二, 20 → 二十."""
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else "十" if tens == 1 else _CN[tens] + "十") + (_CN[ones] if ones or not tens else "")


def _road_digits_to_numerals(s: str, vocab: Vocabulary) -> str:
    """和平4街 → 和平四街, 安华2条 → 安华二条: only where the result is inside a gazetteer road name."""
    for m in reversed(list(_DIGIT_IN_NAME.finditer(s))):
        if m.group(1).startswith("0"):
            continue
        new = s[: m.start()] + _chinese_numeral(int(m.group(1))) + s[m.end():]
        after = m.end() + len(new) - len(s)  # just after the numeral in the new text
        if any(new[k:end] in vocab.roads for end in range(after + 1, min(len(new), m.start() + vocab.max_road_len) + 1)
               for k in range(max(0, end - vocab.max_road_len), m.start() + 1)):
            s = new  # 8里庄北里 → 八里庄北里: the numeral may sit anywhere inside the name
    return s


def _strip_city(s: str, vocab: Vocabulary) -> str:
    """Drop the gazetteer's own city name in front (示范市东城区… → 东城区…), unless a road begins there."""
    for city in vocab.city_prefixes:
        if s.startswith(city) and not vocab.starts_road(s, 0):
            return s[len(city):]
    return s


def _read_number(m: re.Match[str], tail: str, p: ParsedAddress) -> None:
    prefix, digits, unit = m.group(1) or "", m.group(2), m.group(3)
    if unit in _BUILDING_UNITS:  # 某小区5号楼: a building of a named compound
        p.building = int(digits)
        _parse_tail(tail, p)
        return
    if not unit and tail.startswith(_GLUED_BEFORE) and len(digits) >= 3:
        # 大街4724层 / 甲132201室: the house number runs into the floor or room number.
        splits = _glued_splits(digits, tail)
        p.alt_numbers = tuple(n for n, _ in splits[1:])
        if not tail.startswith(("层", "楼", "F")) and len(digits) >= 3:
            p.weak_numbers = (int(digits[:-2]),)  # 3812室: 38号 12室, if no other reading is a door
        digits, rest = str(splits[0][0]), splits[0][1]
        tail = rest + tail
    elif not unit and len(digits) == 2 and tail.startswith("层") and int(digits) > 40:
        tail = digits[1] + tail  # 官道79层: no building here has 79 storeys; 7号 9层
        digits = digits[0]
        p.weak_numbers = (int(digits),)  # a reread number: scored as glued, named number_reread
    elif not unit and tail.startswith(_GLUED_BEFORE):
        p.prefix = prefix
        _parse_tail(digits + tail, p)
        return
    if len(digits) > 5:
        return
    p.number, p.prefix = int(digits), prefix
    p.compound = unit in ("号院", "院") or tail.startswith("院")
    _parse_tail(tail, p)


def _glued_splits(digits: str, tail: str) -> list[tuple[int, str]]:
    """Plausible readings of house number + floor/room (floor 1-40), likeliest first."""
    floor = tail.startswith(("层", "楼", "F"))
    out = []
    for k in ((2, 1) if floor else (4, 3)):
        number, rest = digits[: len(digits) - k], digits[len(digits) - k:]
        storey = int(rest) if floor else int(rest[:-2] or 0)
        if number and len(number) <= 4 and not rest.startswith("0") and 1 <= storey <= 40:
            out.append((int(number), rest))
    return out or [(int(digits[:4]), digits[4:])]


def _parse_admin(head: str, vocab: Vocabulary, p: ParsedAddress, short_names: bool) -> None:
    i = 0
    for n in range(min(vocab.max_district_len, len(head)), 1, -1):
        word = head[i:i + n]
        if word in vocab.districts and not (word in vocab.short_districts and vocab.starts_road(head, i)):
            if word in vocab.short_districts:
                if not short_names:
                    continue
                p.short_name = word
            p.district, p.district_text = vocab.districts[word], word
            i += n
            break
    if p.district is None:
        i = _correct_district(head, vocab, p)
    for n in range(min(vocab.max_township_len, len(head) - i), 1, -1):
        word = head[i:i + n]
        if word in vocab.townships and not (word in vocab.short_townships and vocab.starts_road(head, i)):
            if word in vocab.short_townships:
                if not short_names:
                    continue
                p.short_name = word
            p.townships = vocab.townships[word]
            i += n
            if head.startswith("办事处", i):
                i += 3
            i = _second_township(head, i, word, vocab, p)
            break
    p.core = head[i:]


def _second_township(head: str, i: int, first: str, vocab: Vocabulary, p: ParsedAddress) -> int:
    """密云镇溪翁庄镇: a short district glued to a township, read first as the town 密云镇.

    When a full township name follows the one just read, that one is the township, and the
    first names the district if it begins with one (the other split of the same text).
    """
    for n in range(min(vocab.max_township_len, len(head) - i), 2, -1):
        word = head[i:i + n]
        if word in vocab.townships and word not in vocab.short_townships:
            if p.district is None:
                district = next((first[:k] for k in range(len(first) - 1, 1, -1) if first[:k] in vocab.districts), None)
                if district is None:
                    return i
                p.district, p.district_text = vocab.districts[district], district
            p.townships = vocab.townships[word]
            return i + n
    return i


def _correct_district(head: str, vocab: Vocabulary, p: ParsedAddress) -> int:
    """An unknown 'XX区/县' at the start one slip (a swap or one other character) from exactly
    one of the city's districts is read as that district (山房区 → 房山区), flagged so the
    matcher accepts it only when a road or township of that district confirms it."""
    for n in range(min(vocab.max_district_len, len(head)), 2, -1):
        word = head[:n]
        if word[-1] not in "区县":
            continue
        close = {canonical for name, canonical in vocab.districts.items()
                 if len(name) == n and name[-1] == word[-1] and _one_slip(word[:-1], name[:-1])}
        if len(close) == 1:
            p.district, p.district_text, p.district_corrected = close.pop(), word, True
            return n
        return 0
    return 0


def _one_slip(typed: str, name: str) -> bool:
    """Same length, and one character differs or two neighbours are swapped."""
    diff = [k for k, (a, b) in enumerate(zip(typed, name, strict=True)) if a != b]
    if len(diff) == 1:
        return len(typed) >= 2
    return len(diff) == 2 and diff[1] == diff[0] + 1 and typed[diff[0]] == name[diff[1]] and typed[diff[1]] == name[diff[0]]


def _find_road(p: ParsedAddress, vocab: Vocabulary) -> None:
    core = p.core
    if core in vocab.roads:
        p.road = core
        return
    for n in range(min(vocab.max_road_len, len(core) - 1), 1, -1):
        if core[-n:] in vocab.roads:
            p.road, p.residual = core[-n:], core[:-n]
            return


def _parse_tail(tail: str, p: ParsedAddress) -> None:
    bare: list[int] = []
    for m in _TAIL.finditer(tail):
        kind = m.lastgroup
        if kind == "bld" and p.building is None:
            p.building = int(m.group("bld"))
        elif kind == "letter":
            p.building_letter = m.group("letter")
        elif kind == "unit":
            p.unit = int(m.group("unit"))
        elif kind == "floor":
            p.floor = int(m.group("floor"))
        elif kind == "room":
            bare.append(int(m.group("room")))
        elif kind == "text":
            word = m.group("text").strip("院")
            if len(word) >= 2:
                p.landmarks.append(word)
    if p.compound and p.building is None and len(bare) >= 2:
        p.building = bare.pop(0)  # 17号院 8-1-1701: building-unit-room
        if len(bare) == 2:
            p.unit = bare.pop(0)
    if bare:
        p.room = bare[-1]
