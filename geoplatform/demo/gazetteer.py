"""The demo city's address gazetteer (地名地址库), generated along its roads: doors every 30 m,
odd numbers on the left, even on the right, some compounds (号院) with buildings and estate names."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

from pyproj import Geod
from shapely.geometry import Point, shape

from geoplatform.demo import city
from geoplatform.geocoding.gazetteer_csv import COLUMNS

GEOD = Geod(ellps="GRS80")
SPACING_M = 30.0
OFFSET_DEG = 0.00015  # about 15 m from the centre line
ESTATES = ["和平小区", "光明家园", "幸福里", "阳光花园", "翠湖苑", "金色家园", "书香园", "枫林小区"]


def _township_of(point: Point, townships: list[tuple]) -> tuple:
    return next((t for t in townships if t[0].contains(point)), townships[0])


def gazetteer_rows() -> list[list]:
    _districts, townships_fc = city.districts_and_townships()
    townships = [(shape(f["geometry"]), f["properties"]) for f in townships_fc["features"]]
    rows: list[list] = []
    estates = itertools.cycle(ESTATES)
    for road in city.roads()["features"]:
        line = shape(road["geometry"])
        name, road_id = road["properties"]["name"], road["properties"]["road_id"]
        (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
        length_m = GEOD.inv(x0, y0, x1, y1)[2]
        dx, dy = (x1 - x0), (y1 - y0)
        norm = (dx * dx + dy * dy) ** 0.5
        left = (-dy / norm * OFFSET_DEG, dx / norm * OFFSET_DEG)
        doors = int(length_m // SPACING_M)
        for number in range(1, doors * 2 + 1):
            along = ((number + 1) // 2) * SPACING_M / length_m
            if along >= 1:
                break
            side = 1 if number % 2 else -1
            x = x0 + dx * along + side * left[0]
            y = y0 + dy * along + side * left[1]
            props = _township_of(Point(x, y), townships)[1]
            base = f"示范市{props['district']}{props['name']}{name}{number}号"
            compound = number % 20 == 1
            estate = next(estates) if compound else ""
            segment = f"{road_id}-{props['district_code']}"  # a road's stretch in one district, as gazetteers keep it
            rows.append([f"D{len(rows) + 1:06d}", base + ("院" if compound else ""), "door", props["district"],
                         props["district_code"], props["name"], props["code"], name, segment, number, "",
                         "1" if compound else "", "", estate, round(x, 7), round(y, 7)])
            for building in range(1, 4 if compound else 0):
                rows.append([f"D{len(rows) + 1:06d}", f"{base}院{building}号楼", "building", props["district"],
                             props["district_code"], props["name"], props["code"], name, segment, number, "", "1",
                             building, estate, round(x + side * left[0] * building, 7),
                             round(y + side * left[1] * building, 7)])
    return rows


def write_gazetteer_csv(path: Path) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        writer.writerows(gazetteer_rows())
    return path
