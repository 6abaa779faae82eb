"""Synthetic benchmark layers: N points with 10 attributes in a GeoPackage, and a monthly update with 1% changed.

Deterministic (seeded) so every run and every peer reads the same bytes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyogrio

FIELDS = ("code", "name", "district", "category", "employees", "capital", "area_m2", "score", "founded", "active")


def make_points(n: int, seed: int = 7) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(WKB points around Beijing in EPSG:4490, attribute columns); ``code`` is a unique key."""
    import shapely

    rng = np.random.default_rng(seed)
    x = 115.4 + rng.random(n) * 2.1
    y = 39.4 + rng.random(n) * 1.7
    geometry = shapely.to_wkb(shapely.points(x, y))
    ids = np.arange(n)
    columns = {
        "code": np.array([f"91110000{i:010d}" for i in ids], dtype=object),
        "name": np.array([f"企业{i}有限公司" for i in ids], dtype=object),
        "district": np.array(["东城区", "西城区", "朝阳区", "海淀区", "丰台区"], dtype=object)[ids % 5],
        "category": np.array([f"C{i % 97:02d}" for i in ids], dtype=object),
        "employees": rng.integers(1, 5000, n).astype(np.int32),
        "capital": rng.integers(10_000, 10**10, n).astype(np.int64),
        "area_m2": rng.random(n) * 10_000,
        "score": rng.random(n) * 100,
        "founded": rng.integers(1950, 2025, n).astype(np.int32),
        "active": (ids % 7 != 0).astype(np.int32),
    }
    return geometry, columns


def write_gpkg(path: Path, geometry: np.ndarray, columns: dict[str, np.ndarray]) -> None:
    pyogrio.raw.write(str(path), geometry, list(columns.values()), list(columns), driver="GPKG",
                      geometry_type="Point", crs="EPSG:4490", layer="points")


def monthly_update(geometry: np.ndarray, columns: dict[str, np.ndarray], fraction: float = 0.01,
                   seed: int = 11) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The same layer with ``fraction`` of rows changed: a third moved, a third re-scored, a third replaced."""
    import shapely

    rng = np.random.default_rng(seed)
    n = len(geometry)
    picked = rng.choice(n, int(n * fraction), replace=False)
    geometry = geometry.copy()
    columns = {k: v.copy() for k, v in columns.items()}
    moved, rescored, replaced = np.array_split(picked, 3)
    points = shapely.from_wkb(geometry[moved])
    geometry[moved] = shapely.to_wkb(shapely.transform(points, lambda c: c + 0.001))
    columns["score"][rescored] += 1.0
    columns["code"][replaced] = np.array([f"92110000{i:010d}" for i in replaced], dtype=object)
    return geometry, columns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/layers_bench"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    geometry, columns = make_points(args.rows)
    write_gpkg(args.out / "points.gpkg", geometry, columns)
    geometry, columns = monthly_update(geometry, columns)
    write_gpkg(args.out / "points_update.gpkg", geometry, columns)
    print(args.out)


if __name__ == "__main__":
    main()
