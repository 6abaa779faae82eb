"""The in-memory gazetteer index the matcher reads: plain dicts keyed by what addresses say.

Matching at tens of thousands of addresses per second rules out a database round trip
per address, so the gazetteer is held as: roads by name (each road with its doors keyed
by (prefix, number), its buildings keyed by (number, building) and, per side of the
street (odd/even), the sorted numbers for interpolation); landmarks by name; townships
and districts with a representative point; and a deletion index over road names
(SymSpell, distance 1) so a typo costs a few dict lookups, used only when exact lookups
fail. Rows themselves are parallel arrays (id, standard address, lon, lat).
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from geoplatform.geocoding.fuzzy import WEIGHTS, edit_weight
from geoplatform.geocoding.gazetteer_csv import GazetteerRow
from geoplatform.geocoding.parse import Vocabulary


class Road:
    """One gazetteer road (a name in one district: 道路), with its numbered doors."""

    __slots__ = ("road_id", "name", "district", "townships", "doors", "buildings", "sides", "mid_row")

    def __init__(self, road_id: str, name: str, district: str) -> None:
        self.road_id, self.name, self.district = road_id, name, district
        self.townships: set[str] = set()
        self.doors: dict[tuple[str, int], int] = {}
        self.buildings: dict[tuple[int, int], int] = {}
        self.sides: dict[int, tuple[list[int], list[int]]] = {}
        self.mid_row = -1

    def neighbours(self, number: int) -> tuple[int | None, int | None]:
        """Rows of the nearest lower and higher numbers on the same side (odd/even) of the road."""
        numbers, rows = self.sides.get(number % 2, ([], []))
        low, high = bisect.bisect_left(numbers, number), bisect.bisect_right(numbers, number)
        return (rows[low - 1] if low > 0 else None), (rows[high] if high < len(numbers) else None)


@dataclass(slots=True)
class Area:
    """A district or township (乡镇/街道) with a representative address point inside it."""

    name: str
    code: str
    district: str
    row: int = -1


@dataclass(slots=True)
class GazetteerIndex:
    """Everything the matcher needs, built once from gazetteer rows (see module docstring)."""

    ids: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    lons: array = field(default_factory=lambda: array("d"))
    lats: array = field(default_factory=lambda: array("d"))
    row_road: list[Road] = field(default_factory=list)
    roads_by_name: dict[str, list[Road]] = field(default_factory=dict)
    road_deletes: dict[str, list[str]] = field(default_factory=dict)
    pois: dict[str, list[int]] = field(default_factory=dict)
    townships: dict[str, list[Area]] = field(default_factory=dict)
    districts: dict[str, Area] = field(default_factory=dict)
    vocab: Vocabulary | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def similar_road_names(self, text: str) -> list[tuple[str, float]]:
        """Road names one slip away from ``text``, with the slip's weight (see ``fuzzy``).

        Short names allow fewer slips: in a two-character name only a homophone, in a
        three-character one no unrelated substitution, or every 南街 would match every 东街.
        """
        if len(text) < 2:
            return []
        found: set[str] = set(self.road_deletes.get(text, ()))  # the writer dropped a character
        for i in range(len(text)):
            shorter = text[:i] + text[i + 1:]
            if shorter in self.roads_by_name:  # the writer added a character
                found.add(shorter)
            found.update(self.road_deletes.get(shorter, ()))  # a substitution or a swap
        found.discard(text)
        out = []
        for name in sorted(found):
            weight = edit_weight(text, name)
            if weight is None or (len(text) <= 3 and weight == WEIGHTS["other"]):
                continue
            if len(text) == 2 and weight != WEIGHTS["homophone"]:
                continue
            out.append((name, weight))
        return out


def build_index(rows: Iterable[GazetteerRow], district_aliases: dict[str, str] | None = None,
                township_aliases: dict[str, str] | None = None,
                road_aliases: dict[str, str] | None = None) -> GazetteerIndex:
    """Index gazetteer rows (any iterable: a CSV reader or a database cursor)."""
    idx = GazetteerIndex()
    roads: dict[str, Road] = {}
    poi_places: dict[tuple[str, str, str, int], int] = {}
    sums: dict[tuple[str, str], list[float]] = {}
    town_areas: dict[tuple[str, str], Area] = {}
    row_township: list[str] = []
    row_district: list[str] = []
    cities: set[str] = set()
    for r in rows:
        row = len(idx.ids)
        idx.ids.append(r.address_id)
        idx.addresses.append(r.standard_address)
        idx.lons.append(r.lon)
        idx.lats.append(r.lat)
        road = roads.get(r.road_id)
        if road is None:
            road = roads[r.road_id] = Road(r.road_id, r.road, r.district)
        road.townships.add(r.township)
        idx.row_road.append(road)
        row_township.append(r.township)
        row_district.append(r.district)
        if r.district and not cities:
            at = r.standard_address.find(r.district)
            if at > 1 and r.standard_address[at - 1] == "市":
                cities.add(r.standard_address[:at])
        if r.building:
            road.buildings.setdefault((r.house_number, r.building), row)
        else:
            road.doors.setdefault((r.number_prefix, r.house_number), row)
        if r.poi:
            key = (r.poi, r.road_id, r.number_prefix, r.house_number)
            if key not in poi_places or not r.building:  # the compound gate stands for the place
                poi_places[key] = row
        if r.township and (r.district, r.township) not in town_areas:
            town_areas[(r.district, r.township)] = Area(r.township, r.township_code, r.district)
        if r.district not in idx.districts:
            idx.districts[r.district] = Area(r.district, r.district_code, r.district)
        for key in ((r.district, ""), (r.district, r.township)):
            acc = sums.setdefault(key, [0.0, 0.0, 0])
            acc[0] += r.lon
            acc[1] += r.lat
            acc[2] += 1
    for road in roads.values():
        idx.roads_by_name.setdefault(road.name, []).append(road)
        _index_sides(road)
    for alias, canonical in (road_aliases or {}).items():
        if canonical in idx.roads_by_name:
            idx.roads_by_name.setdefault(alias, []).extend(idx.roads_by_name[canonical])
    for name in idx.roads_by_name:
        for i in range(len(name)):
            idx.road_deletes.setdefault(name[:i] + name[i + 1:], []).append(name)
    for (poi, _road, _prefix, _number), row in poi_places.items():
        idx.pois.setdefault(poi, []).append(row)
    for area in town_areas.values():
        idx.townships.setdefault(area.name, []).append(area)
    _place_areas(idx, sums, town_areas, row_district, row_township)
    idx.vocab = Vocabulary.build(idx.districts, idx.townships, idx.roads_by_name,
                                 district_aliases, township_aliases, landmarks=idx.pois, cities=cities)
    return idx


def _index_sides(road: Road) -> None:
    by_number = sorted((n, row) for (prefix, n), row in road.doors.items() if not prefix)
    for parity in (0, 1):
        side = [(n, row) for n, row in by_number if n % 2 == parity]
        road.sides[parity] = ([n for n, _ in side], [row for _, row in side])
    if by_number:
        road.mid_row = by_number[len(by_number) // 2][1]
    elif road.buildings:
        road.mid_row = next(iter(road.buildings.values()))


def _place_areas(idx: GazetteerIndex, sums: dict[tuple[str, str], list[float]],
                 town_areas: dict[tuple[str, str], Area], row_district: list[str],
                 row_township: list[str]) -> None:
    """Give each district and township an address point near its middle that lies inside it.

    1-4 % of the addresses labelled with a township lie outside its polygon (a road crossing
    the boundary keeps one label), so a township's point is chosen among the doors of roads
    that run in that township only, when it has any: the one nearest their mean.
    """
    core_sums: dict[tuple[str, str], list[float]] = {}
    for row, (district, township) in enumerate(zip(row_district, row_township, strict=True)):
        if (district, township) in town_areas and len(idx.row_road[row].townships) == 1:
            acc = core_sums.setdefault((district, township), [0.0, 0.0, 0])
            acc[0] += idx.lons[row]
            acc[1] += idx.lats[row]
            acc[2] += 1
    means = {key: (acc[0] / acc[2], acc[1] / acc[2]) for key, acc in {**sums, **core_sums}.items()}
    best: dict[tuple[str, str], tuple[float, int]] = {}
    for row, (district, township) in enumerate(zip(row_district, row_township, strict=True)):
        lon, lat = idx.lons[row], idx.lats[row]
        for key in ((district, ""), (district, township)):
            if key in core_sums and len(idx.row_road[row].townships) != 1:
                continue
            mx, my = means[key]
            d = (lon - mx) ** 2 + (lat - my) ** 2
            if key not in best or d < best[key][0]:
                best[key] = (d, row)
    for (district, township), (_, row) in best.items():
        area = town_areas.get((district, township)) if township else idx.districts.get(district)
        if area is not None:
            area.row = row
    _deepen_township_points(idx, town_areas, row_district, row_township, means)


def _deepen_township_points(idx: GazetteerIndex, town_areas: dict[tuple[str, str], Area],
                            row_district: list[str], row_township: list[str],
                            means: dict[tuple[str, str], tuple[float, float]]) -> None:
    """Move each township's point to the one, among its doors nearest the middle, farthest
    from any door labelled with another township: a point deep inside the township, which
    the nearest-to-mean door is not when the township is concave or its labels spill over."""
    labels: dict[tuple[str, str], int] = {}
    label = np.fromiter((labels.setdefault(k, len(labels)) for k in zip(row_district, row_township, strict=True)),
                        dtype=np.int32, count=len(row_district))
    lons = np.frombuffer(idx.lons, dtype=np.float64)
    lats = np.frombuffer(idx.lats, dtype=np.float64)
    order = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[order], np.arange(len(labels) + 1))
    scale = math.cos(math.radians(float(lats.mean()))) if len(lats) else 1.0
    for key, area in town_areas.items():
        k = labels.get(key)
        if k is None:
            continue
        own = order[bounds[k]:bounds[k + 1]]
        mx, my = means[key]
        near_mean = own[np.argsort(((lons[own] - mx) * scale) ** 2 + (lats[own] - my) ** 2)[:64]]
        x0, x1 = lons[near_mean].min() - 0.01, lons[near_mean].max() + 0.01
        y0, y1 = lats[near_mean].min() - 0.01, lats[near_mean].max() + 0.01
        box = (lons >= x0) & (lons <= x1) & (lats >= y0) & (lats <= y1) & (label != k)
        fx, fy = lons[box], lats[box]
        if not len(fx):
            continue
        gap = np.array([(((fx - lons[r]) * scale) ** 2 + (fy - lats[r]) ** 2).min() for r in near_mean])
        area.row = int(near_mean[int(gap.argmax())])
