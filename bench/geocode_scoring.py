"""Scoring geocoder output against query truth (the rules of ../shared/data/README.md).

Correct: door/building/poi within 30 m of the truth point, interpolated within 60 m,
road within 60 m of the truth road line, township inside the township polygon, none
with no point. "Wrong but confident": a wrong answer whose level is door/building/poi.
Distances in UTM 50N metres, as the reference scorer does, so the figures agree.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

from pyproj import Transformer
from shapely.geometry import Point, shape
from shapely.ops import transform

TO_METRES = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)
CONFIDENT = ("door", "building", "poi")


def _metric(geom):
    return transform(lambda x, y, z=None: TO_METRES.transform(x, y), geom)


def _number(value: str | None) -> float | None:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def load_city(city: Path) -> tuple[dict, dict]:
    """Road lines and township polygons in metres, keyed by road_id / township code."""
    roads = {f["properties"]["road_id"]: _metric(shape(f["geometry"]))
             for f in json.loads((city / "roads.geojson").read_text(encoding="utf-8"))["features"]}
    towns = {f["properties"]["code"]: _metric(shape(f["geometry"])).buffer(1)
             for f in json.loads((city / "townships.geojson").read_text(encoding="utf-8"))["features"]}
    return roads, towns


def is_correct(truth: dict, result: dict, roads: dict, towns: dict) -> bool:
    lon, lat = _number(result.get("lon")), _number(result.get("lat"))
    level = (result.get("level") or "").strip().lower()
    has_point = lon is not None and lat is not None and level not in ("", "none")
    want = truth["truth_level"]
    if want == "none" or not has_point:
        return want == "none" and not has_point
    p = Point(TO_METRES.transform(lon, lat))
    if want in ("door", "building", "poi", "interpolated"):
        t = Point(TO_METRES.transform(float(truth["truth_lon"]), float(truth["truth_lat"])))
        return p.distance(t) <= (60 if want == "interpolated" else 30)
    if want == "road":
        return p.distance(roads[truth["truth_road_id"]]) <= 60
    if want == "township":
        return towns[truth["truth_id"]].contains(p)
    return False


def score(truth_path: Path, result_path: Path, city: Path) -> dict[str, tuple[float, int]]:
    """{"ALL": (percent, n), "level:door": ..., "tag:typo": ..., "wrong_but_confident": (count, n)}."""
    roads, towns = load_city(city)
    with open(truth_path, encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    with open(result_path, encoding="utf-8-sig") as fh:
        results = list(csv.DictReader(fh))
    if results and "qid" in results[0]:
        by_qid = {r["qid"]: r for r in results}
        results = [by_qid.get(t["qid"], {}) for t in truth]
    elif len(results) != len(truth):
        raise SystemExit(f"result has {len(results)} rows, truth {len(truth)}, and no qid column")
    groups: dict[str, list[bool]] = defaultdict(list)
    confident_wrong = 0
    for t, r in zip(truth, results, strict=True):
        good = is_correct(t, r, roads, towns)
        if not good and t["truth_level"] in CONFIDENT and (r.get("level") or "").strip().lower() in CONFIDENT:
            confident_wrong += 1
        groups["ALL"].append(good)
        groups["level:" + t["truth_level"]].append(good)
        for tag in filter(None, t["tags"].split(",")):
            groups["tag:" + tag].append(good)
    report = {k: (round(100 * sum(v) / len(v), 2), len(v)) for k, v in sorted(groups.items())}
    report["wrong_but_confident"] = (confident_wrong, len(truth))
    return report
