"""Match a parsed address against the gazetteer index: a point, a level and a score.

Order of evidence: exact road names before fuzzy ones (fuzzy only when exact fails),
the district and township the writer gave restrict the roads, the number picks the door,
号院+号楼 the building; a number missing from the gazetteer is interpolated between its
neighbours on the same side of the road. When the evidence does not single out one
place (a road name shared by districts and nothing to choose between them, a landmark
name used twice), the answer is ``none`` with the candidates: a wrong point with a
confident level is worse than no point.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from geoplatform.geocoding.index import GazetteerIndex, Road
from geoplatform.geocoding.parse import ParsedAddress, parse_address

#: Levels from most to least precise; exactly one is reported per address.
LEVELS = ("door", "building", "interpolated", "poi", "road", "township", "district", "none")
#: Score of a clean match at each level, before penalties for doubtful evidence.
BASE_SCORE = {"door": 1.0, "building": 1.0, "interpolated": 0.75, "poi": 0.9, "road": 0.6,
              "township": 0.5, "district": 0.3, "none": 0.0}
# Penalties (multiplied): each names a reason to doubt the match.
UNEXPLAINED_TEXT = 0.9  # words left of the road that are neither district nor township
TOWNSHIP_DISAGREES = 0.85  # the text's township is not the road's
DISTRICT_BY_NUMBER = 0.9  # shared road name, chosen because only one has the number
PREFIX_MISSING = 0.8  # 甲15号 asked, only 15号 known
BUILDING_MISSING = 0.75  # 号楼 asked but not in the gazetteer: the compound gate
ONE_SIDED = 0.7
GLUED_NUMBER = 0.9  # the number ran into the floor/room number (4724层)
DISTRICT_CORRECTED = 0.9  # 山房区 read as 房山区, confirmed by its road or township

_FOREIGN_ADMIN = re.compile(r"^[^\d]{0,8}?(省|市|自治区|自治州|特别行政区)|^[^\d]{1,5}?(?<![小社园校厂矿景城])(区|县)")
_AREA_WORD = re.compile(r"(街道|镇|乡|地区|社区|村|小区|居委会)$")


@dataclass(slots=True)
class Candidate:
    """One possible answer, for the API's candidate list."""

    address_id: str
    matched_address: str
    lon: float
    lat: float
    level: str
    score: float


@dataclass(slots=True)
class Match:
    """The answer for one address; ``level == 'none'`` means no point (lon/lat None)."""

    lon: float | None = None
    lat: float | None = None
    level: str = "none"
    score: float = 0.0
    matched_address: str = ""
    address_id: str = ""
    candidates: list[Candidate] = field(default_factory=list)
    #: Corrections the answer rests on, for clerks to review first: ``district_corrected``
    #: (山房区 → 房山区), ``road_fuzzy`` (a road name one slip away), ``number_reread`` (a
    #: number glued to the floor/room read apart).
    corrections: tuple[str, ...] = ()


def geocode(text: object, index: GazetteerIndex) -> Match:
    """Parse and match one raw address string; a second reading without short names if needed."""
    assert index.vocab is not None
    parsed = parse_address(text, index.vocab)
    found = match_address(parsed, index)
    if found.level == "none" and parsed.short_name:
        reread = parse_address(text, index.vocab, short_names=False)
        if (reread.road or reread.core).startswith(parsed.short_name):  # 太平桥西理: part of the road
            second = match_address(reread, index)
            if second.level != "none":
                return second
    return found


def match_address(p: ParsedAddress, index: GazetteerIndex) -> Match:
    """The best place for a parsed address (see module docstring for the rules)."""
    if not p.normalized:
        return Match()
    if p.number is None and p.core and p.road != p.core:
        found = _match_landmark(p, index)  # 紫光苑: a landmark before any fuzzy road
        if found is not None:
            return found
    candidates = _candidate_roads(p, index)
    if candidates:
        chosen, penalty = _choose_road(candidates, p)
        if chosen is not None and p.district_corrected:
            if not _confirms_corrected_district(chosen, penalty, p):
                return Match(candidates=[_candidate(index, chosen.mid_row, "road", BASE_SCORE["road"] * penalty * 0.5)])
            penalty *= DISTRICT_CORRECTED
        if chosen is not None:
            return _with_corrections(_locate_on_road(chosen, p, index, penalty), p, chosen)
        return Match(candidates=[_candidate(index, r.mid_row, "road", BASE_SCORE["road"] * w)
                                 for r, w in candidates[:5]])
    if p.number is None or p.building is not None:
        found = _match_landmark(p, index)
        if found is not None:
            return found
    if p.number is None and not p.core and not p.landmarks and not (p.district_corrected and not p.townships):
        return _match_area(p, index)
    return Match()


def _with_corrections(m: Match, p: ParsedAddress, road: Road) -> Match:
    if m.level != "none":
        m.corrections = tuple(name for name, applies in (
            ("district_corrected", p.district_corrected), ("road_fuzzy", road.name != p.road),
            ("number_reread", bool(p.alt_numbers or p.weak_numbers) and m.level == "door")) if applies)
    return m


def _confirms_corrected_district(road: Road, weight: float, p: ParsedAddress) -> bool:
    """A corrected district (山房区) stands only on an exact road name, or a township of that road."""
    return weight == 1.0 or bool(p.townships and road.townships.intersection(p.townships))


def _candidate_roads(p: ParsedAddress, index: GazetteerIndex) -> list[tuple[Road, float]]:
    """Roads the text may name, each with a weight: exact, else one slip away, else a suffix.

    An exact name that does not fit the stated place (another district's road, or one outside
    the township given) yields to a road one slip away that lies there and has the number:
    建国路 typed for 建果路 of the district given, 西大街 for the township's 南西大街.
    """
    if p.district is None and p.residual and _FOREIGN_ADMIN.search(p.residual):
        return []  # 天津市和平区南京路: another city's road of the same name
    stages: list[list[tuple[Road, float]]] = []
    exact = bool(p.road) and not p.residual
    if exact:
        roads = _in_district(p, [(r, 1.0) for r in index.roads_by_name.get(p.road, [])])
        if roads and (_in_township(p, roads) or not p.district):
            return roads
        fitting = [(r, w) for r, w in _in_district(p, _similar_roads(p.road, index))
                   if _in_township(p, [(r, w)]) and (not roads or p.number is None or _has_number(r, p))]
        if fitting and p.district:
            return fitting
        stages.append(roads)
    if p.core and not exact:
        stages.append(_similar_roads(p.core, index))
    if p.road and p.residual:
        weight = 0.97 if _AREA_WORD.search(p.residual) else UNEXPLAINED_TEXT
        stages.append([(r, weight) for r in index.roads_by_name.get(p.road, [])])
    for roads in stages:
        roads = _in_district(p, roads)
        if roads:
            return roads
    return []


def _similar_roads(text: str, index: GazetteerIndex) -> list[tuple[Road, float]]:
    return [(r, w) for name, w in index.similar_road_names(text) for r in index.roads_by_name[name]]


def _in_district(p: ParsedAddress, roads: list[tuple[Road, float]]) -> list[tuple[Road, float]]:
    return [(r, w) for r, w in roads if r.district == p.district] if p.district else roads


def _in_township(p: ParsedAddress, roads: list[tuple[Road, float]]) -> bool:
    """Whether some road lies in the township given (true when none is given)."""
    return not p.townships or any(r.townships.intersection(p.townships) for r, _ in roads)


def _choose_road(candidates: list[tuple[Road, float]], p: ParsedAddress) -> tuple[Road | None, float]:
    """One road out of the candidates, or None when the evidence ties (shared names, typos)."""
    if p.townships:
        agreeing = [(r, w) for r, w in candidates if r.townships.intersection(p.townships)]
        candidates = agreeing or [(r, w * TOWNSHIP_DISAGREES) for r, w in candidates]
    if len(candidates) > 1 and p.number is not None:
        having = [(r, w) for r, w in candidates if _has_number(r, p)]
        if having and len(having) < len(candidates):
            candidates = [(r, w * DISTRICT_BY_NUMBER) for r, w in having]
    if len(candidates) == 1:
        return candidates[0]
    ranked = sorted(candidates, key=lambda c: -c[1])
    if ranked[0][1] > ranked[1][1] + 1e-9:
        return ranked[0]
    return None, 0.0


def _has_number(road: Road, p: ParsedAddress) -> bool:
    numbers = (p.number, *p.alt_numbers, *p.weak_numbers)
    return any((p.prefix, n) in road.doors or ("", n) in road.doors for n in numbers) or (
        p.building is not None and (p.number, p.building) in road.buildings)


def _locate_on_road(road: Road, p: ParsedAddress, index: GazetteerIndex, penalty: float) -> Match:
    if p.number is None:
        if p.landmarks:
            found = _match_landmark(p, index, road)
            if found is not None:
                return found
        return _answer(index, road.mid_row, "road", penalty)
    if p.building is not None:
        row = road.buildings.get((p.number, p.building))
        if row is not None:
            return _answer(index, row, "building", penalty)
        penalty *= BUILDING_MISSING
    if p.alt_numbers or p.weak_numbers:
        return _locate_glued(road, p, index, penalty)
    row = road.doors.get((p.prefix, p.number))
    if row is not None:
        return _answer(index, row, "door", penalty)
    if p.prefix:
        row = road.doors.get(("", p.number))
        if row is not None:
            return _answer(index, row, "interpolated", penalty * PREFIX_MISSING)
    return _interpolate(road, p.number, index, penalty)


def _locate_glued(road: Road, p: ParsedAddress, index: GazetteerIndex, penalty: float) -> Match:
    """大街1581层177: 158号 1层 or 15号 81层? Only a reading the gazetteer confirms, and only one."""
    rows = [row for n in (p.number, *p.alt_numbers) if (row := road.doors.get((p.prefix, n))) is not None]
    rows = rows or [row for n in p.weak_numbers if (row := road.doors.get((p.prefix, n))) is not None]
    if len(rows) == 1 or (rows and all(_near(index, rows[0], r) for r in rows[1:])):
        return _answer(index, rows[0], "door", penalty * GLUED_NUMBER)
    if rows:
        return Match(candidates=[_candidate(index, r, "door", BASE_SCORE["door"] * penalty * 0.5) for r in rows])
    assert p.number is not None
    return _interpolate(road, p.number, index, penalty * GLUED_NUMBER)


def _near(index: GazetteerIndex, a: int, b: int, metres: float = 20.0) -> bool:
    dy = (index.lats[a] - index.lats[b]) * 111_320
    dx = (index.lons[a] - index.lons[b]) * 111_320 * math.cos(math.radians(index.lats[a]))
    return dx * dx + dy * dy <= metres * metres


def _interpolate(road: Road, number: int, index: GazetteerIndex, penalty: float) -> Match:
    """A missing number: between its neighbours on the same side of the road, by number."""
    lower, higher = road.neighbours(number)
    if lower is None and higher is None:
        return _answer(index, road.mid_row, "road", penalty)
    if lower is None or higher is None:
        row = lower if higher is None else higher
        match = _answer(index, row, "interpolated", penalty * ONE_SIDED)
        match.address_id = ""
        return match
    n_low = _number_of(road, lower)
    n_high = _number_of(road, higher)
    t = (number - n_low) / (n_high - n_low)
    lon = index.lons[lower] + t * (index.lons[higher] - index.lons[lower])
    lat = index.lats[lower] + t * (index.lats[higher] - index.lats[lower])
    matched = f"{index.addresses[lower]} – {index.addresses[higher]}"
    return Match(round(lon, 7), round(lat, 7), "interpolated", round(BASE_SCORE["interpolated"] * penalty, 3),
                 matched, "")


def _number_of(road: Road, row: int) -> int:
    for parity in (0, 1):
        numbers, rows = road.sides[parity]
        if row in rows:
            return numbers[rows.index(row)]
    raise KeyError(row)


def _match_landmark(p: ParsedAddress, index: GazetteerIndex, road: Road | None = None) -> Match | None:
    """A landmark or estate name (POI) that names exactly one place within the given area."""
    for name in ([p.core] if p.core and road is None else []) + p.landmarks:
        rows = index.pois.get(name, [])
        if p.district:
            rows = [r for r in rows if index.row_road[r].district == p.district]
        if road is not None:
            rows = [r for r in rows if index.row_road[r] is road]
        if p.townships and len(rows) > 1:
            rows = [r for r in rows if index.row_road[r].townships.intersection(p.townships)] or rows
        if len(rows) == 1:
            gate = rows[0]
            if p.building is not None:
                r_road = index.row_road[gate]
                number = next((n for (_, n), row in r_road.doors.items() if row == gate), None)
                row = r_road.buildings.get((number, p.building)) if number is not None else None
                if row is not None:
                    return _answer(index, row, "building", 0.9)
            return _answer(index, gate, "poi", 1.0)
        if len(rows) > 1:
            return Match(candidates=[_candidate(index, r, "poi", BASE_SCORE["poi"] * 0.5) for r in rows[:5]])
    return None


def _match_area(p: ParsedAddress, index: GazetteerIndex) -> Match:
    """Only a township (乡镇/街道) or only a district was given."""
    if p.townships:
        areas = [a for name in p.townships for a in index.townships.get(name, [])]
        if p.district:
            areas = [a for a in areas if a.district == p.district]
        if len(areas) == 1 and areas[0].row >= 0:
            return _point(index, areas[0].row, "township", f"{areas[0].district}{areas[0].name}",
                          areas[0].code)
        return Match()
    if p.district and p.district in index.districts:
        area = index.districts[p.district]
        return _point(index, area.row, "district", area.name, area.code)
    return Match()


def _point(index: GazetteerIndex, row: int, level: str, name: str, code: str) -> Match:
    return Match(index.lons[row], index.lats[row], level, BASE_SCORE[level], name, code)


def _answer(index: GazetteerIndex, row: int, level: str, penalty: float) -> Match:
    return Match(index.lons[row], index.lats[row], level, round(BASE_SCORE[level] * penalty, 3),
                 index.addresses[row], index.ids[row])


def _candidate(index: GazetteerIndex, row: int, level: str, score: float) -> Candidate:
    return Candidate(index.ids[row], index.addresses[row], index.lons[row], index.lats[row], level,
                     round(score, 3))
