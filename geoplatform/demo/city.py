"""The demo city 示范市, generated (deterministic, no external data): districts, townships, roads and
a small business register, as GeoJSON FeatureCollections in CGCS2000 lon/lat."""

from __future__ import annotations

import random

from shapely.geometry import LineString, Point, Polygon, mapping
from shapely.ops import split

CITY = Polygon([(116.20, 39.78), (116.42, 39.75), (116.62, 39.80), (116.66, 39.92), (116.60, 40.04),
                (116.40, 40.08), (116.22, 40.03), (116.17, 39.90)])
DISTRICTS = [("110191", "东城区"), ("110192", "西城区"), ("110193", "南湖区"), ("110194", "北苑区")]
TOWNSHIP_NAMES = ["和平里街道", "安定门街道", "交道口街道", "景山街道", "德胜街道", "新街口街道", "金融街街道",
                  "月坛街道", "南湖街道", "湖光街道", "清河镇", "北苑街道", "望京街道", "来广营乡", "花园路街道",
                  "学院路街道"]
EAST_WEST = ["长安街", "平安大街", "北苑路", "南湖大道", "清河路", "望京大街"]
NORTH_SOUTH = ["中关村大街", "学院路", "和平街", "安定路", "东湖路", "朝阳北路"]
INDUSTRIES = ["批发和零售业", "住宿和餐饮业", "信息传输、软件和信息技术服务业", "制造业", "租赁和商务服务业"]


def _wiggly(points: list[tuple[float, float]], rng: random.Random, amount: float) -> LineString:
    """A boundary line with some bends, so districts do not look like a spreadsheet."""
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        for t in (0.25, 0.5, 0.75):
            out.append((x0 + (x1 - x0) * t + rng.uniform(-amount, amount),
                        y0 + (y1 - y0) * t + rng.uniform(-amount, amount)))
        out.append((x1, y1))
    return LineString(out)


def _split_in_two(poly: Polygon, vertical: bool, rng: random.Random, amount: float) -> list[Polygon]:
    minx, miny, maxx, maxy = poly.bounds
    if vertical:
        x = (minx + maxx) / 2 + rng.uniform(-0.01, 0.01)
        line = _wiggly([(x, miny - 0.05), (x, maxy + 0.05)], rng, amount)
    else:
        y = (miny + maxy) / 2 + rng.uniform(-0.01, 0.01)
        line = _wiggly([(minx - 0.05, y), (maxx + 0.05, y)], rng, amount)
    parts = sorted(split(poly, line).geoms, key=lambda g: (g.centroid.x, g.centroid.y))
    return [p for p in parts if p.area > 0]


def _feature(geometry, **properties) -> dict:
    return {"type": "Feature", "geometry": mapping(geometry), "properties": properties}


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def districts_and_townships() -> tuple[dict, dict]:
    rng = random.Random(2026)
    halves = _split_in_two(CITY, vertical=True, rng=rng, amount=0.008)
    quarters = [q for half in halves for q in _split_in_two(half, vertical=False, rng=rng, amount=0.008)]
    districts, townships = [], []
    names = iter(TOWNSHIP_NAMES)
    for (code, name), district in zip(DISTRICTS, quarters, strict=True):
        districts.append(_feature(district, code=code, name=name))
        for half in _split_in_two(district, vertical=False, rng=rng, amount=0.004):
            for part in _split_in_two(half, vertical=True, rng=rng, amount=0.004):
                seq = len(townships) + 1
                townships.append(_feature(part, code=f"{code}{seq:03d}", name=next(names),
                                          district=name, district_code=code))
    return _collection(districts), _collection(townships)


def roads() -> dict:
    minx, miny, maxx, maxy = CITY.bounds
    features = []
    for i, name in enumerate(EAST_WEST):
        y = miny + (maxy - miny) * (i + 1) / (len(EAST_WEST) + 1)
        line = CITY.intersection(LineString([(minx, y), (maxx, y + 0.004)]))
        features.append(_feature(line, road_id=f"R{i + 1:03d}", name=name, grade="主干路" if i % 2 == 0 else "次干路"))
    for i, name in enumerate(NORTH_SOUTH):
        x = minx + (maxx - minx) * (i + 1) / (len(NORTH_SOUTH) + 1)
        line = CITY.intersection(LineString([(x, miny), (x - 0.005, maxy)]))
        features.append(_feature(line, road_id=f"R{i + 101:03d}", name=name, grade="主干路" if i % 2 else "次干路"))
    return _collection(features)


def credit_code(rng: random.Random) -> str:
    """An 18-character unified social credit code (统一社会信用代码) with a valid check character."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    body = "91110000" + "".join(rng.choice(alphabet) for _ in range(9))
    check = (31 - sum(alphabet.index(c) * w for c, w in zip(body, weights, strict=True)) % 31) % 31
    return body + alphabet[check]


def businesses(count: int = 300) -> dict:
    rng = random.Random(7)
    minx, miny, maxx, maxy = CITY.bounds
    road_names = EAST_WEST + NORTH_SOUTH
    features = []
    while len(features) < count:
        point = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if not CITY.contains(point):
            continue
        n = len(features) + 1
        features.append(_feature(
            point, credit_code=credit_code(rng), name=f"示范市{rng.choice(['华信', '恒达', '联创', '新源', '博远'])}"
            f"{rng.choice(['科技', '商贸', '餐饮', '物流', '咨询'])}有限公司{n}号",
            address=f"示范市{rng.choice(road_names)}{rng.randint(1, 200)}号",
            industry=rng.choice(INDUSTRIES), registered_capital=rng.choice([10, 50, 100, 500, 1000, 5000]),
            status=rng.choice(["存续", "存续", "存续", "注销"])))
    return _collection(features)
