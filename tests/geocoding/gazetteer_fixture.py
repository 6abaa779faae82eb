"""A small synthetic gazetteer for the geocoding tests (no dependency on ../shared).

Roads are laid west-east; odd numbers on the north side, even on the south, 10 m apart
per number, so interpolation and 'same side' can be checked with arithmetic.
"""

from __future__ import annotations

import csv
from pathlib import Path

from geoplatform.geocoding.gazetteer_csv import COLUMNS, GazetteerRow

DISTRICTS = {"东城区": "110101", "西城区": "110102", "朝阳区": "110105", "海淀区": "110108", "密云区": "110118"}
# road_id, name, district, township, township code, origin lon, lat, numbers, gaps
ROADS = [
    ("R1", "美术馆后街", "东城区", "东华门街道", "110101001", 116.40, 39.92, 30, {7, 8, 9, 10}),
    ("R2", "牛街", "西城区", "牛街街道", "110102010", 116.36, 39.88, 20, set()),
    ("R3", "振兴南路", "海淀区", "中关村街道", "110108001", 116.30, 39.98, 40, {33}),
    ("R4", "海淀南路", "海淀区", "海淀镇", "110108002", 116.31, 39.97, 10, set()),
    ("R5", "振兴南路", "朝阳区", "望京街道", "110105001", 116.47, 39.99, 10, set()),
    ("R6", "朝阳北路", "朝阳区", "望京街道", "110105001", 116.48, 39.93, 50, set()),
    ("R7", "榆树南街", "朝阳区", "望京街道", "110105001", 116.49, 39.95, 20, set()),
    ("R8", "鼓楼大街", "密云区", "鼓楼街道", "110118001", 116.84, 40.37, 20, set()),
    ("R9", "清风路", "东城区", "景山街道", "110101002", 116.41, 39.93, 20, set()),
    ("R10", "清风路", "西城区", "牛街街道", "110102010", 116.37, 39.89, 20, set()),
    ("R11", "安华四条", "朝阳区", "望京街道", "110105001", 116.46, 39.96, 40, {3}),
    ("R12", "建果路", "海淀区", "中关村街道", "110108001", 116.32, 39.99, 20, set()),  # 建国路 is in 朝阳区
    ("R13", "建国路", "朝阳区", "望京街道", "110105001", 116.47, 39.97, 20, set()),
    ("R14", "南西大街", "东城区", "景山街道", "110101002", 116.42, 39.94, 20, set()),  # 西大街 is elsewhere
    ("R15", "西大街", "东城区", "东华门街道", "110101001", 116.40, 39.91, 6, set()),
    ("R16", "西大街", "西城区", "牛街街道", "110102010", 116.36, 39.87, 20, set()),
    ("R17", "新中街", "密云区", "鼓楼街道", "110118001", 116.85, 40.38, 20, set()),  # also in 朝阳区
    ("R18", "新中街", "朝阳区", "望京街道", "110105001", 116.46, 39.98, 20, set()),
    ("R19", "密云东路", "密云区", "密云镇", "110118100", 116.86, 40.36, 10, set()),  # the town 密云镇
    ("R20", "八里庄北里", "朝阳区", "望京街道", "110105001", 116.45, 39.95, 20, set()),
]
COMPOUNDS = {("R1", 11): ("桃园花园", 3), ("R3", 21): ("紫光苑", 4), ("R6", 17): ("望京花园", 8)}
PREFIXED = {("R1", 15): "甲", ("R8", 6): "甲"}
METRE = 1 / 85_000  # degrees of longitude per metre near 40°N


def door_point(road: tuple, number: int) -> tuple[float, float]:
    _, _, _, _, _, lon0, lat0, *_ = road
    return round(lon0 + number * 10 * METRE, 7), round(lat0 + (0.0002 if number % 2 else -0.0002), 7)


def gazetteer_rows() -> list[GazetteerRow]:
    rows: list[GazetteerRow] = []

    def add(road, number, prefix="", compound=False, building=0, poi="", lon=None, lat=None):
        rid, name, district, township, tcode, *_ = road
        if lon is None:
            lon, lat = door_point(road, number)
        std = f"北京市{district}{township}{name}{prefix}{number}号" + ("院" if compound else "")
        std += f"{building}号楼" if building else ""
        rows.append(GazetteerRow(f"T{len(rows) + 1:05d}", std, "building" if building else "door", district,
                                 DISTRICTS[district], township, tcode, name, rid, number, prefix, compound,
                                 building, poi, lon, lat))

    for road in ROADS:
        rid, *_, count, gaps = road
        for n in range(1, count + 1):
            if n in gaps:
                continue
            poi, buildings = COMPOUNDS.get((rid, n), ("", 0))
            add(road, n, compound=bool(buildings), poi=poi)
            lon, lat = door_point(road, n)
            for b in range(1, buildings + 1):
                add(road, n, compound=True, building=b, poi=poi, lon=lon + b * 3 * METRE, lat=lat + 0.0003)
            if (rid, n) in PREFIXED:
                add(road, n, prefix=PREFIXED[(rid, n)], lon=lon + 4 * METRE, lat=lat)
    return rows


def write_gazetteer_csv(path: Path, rows: list[GazetteerRow] | None = None) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in rows or gazetteer_rows():
            w.writerow([r.address_id, r.standard_address, r.level, r.district, r.district_code, r.township,
                        r.township_code, r.road, r.road_id, r.house_number, r.number_prefix,
                        "1" if r.compound else "", r.building or "", r.poi, r.lon, r.lat])
    return path
