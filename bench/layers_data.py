"""Synthetic benchmark layers: N points with 10 attributes in a GeoPackage, and a monthly update with 1% changed.

Three files: ``points.gpkg`` (the layer), ``points_update.gpkg`` (the whole layer a month later) and
``points_changes.gpkg`` (only that month's changes: changed and added rows, and removed keys
marked in a ``_deleted`` column, for ``geoplatform layer publish --changes``).

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


def split_update(n: int, fraction: float, seed: int) -> list[np.ndarray]:
    """Rows (moved, re-scored, replaced by a new key) of the monthly update."""
    rng = np.random.default_rng(seed)
    return np.array_split(rng.choice(n, int(n * fraction), replace=False), 3)


def change_set(old: tuple[np.ndarray, dict], new: tuple[np.ndarray, dict], fraction: float = 0.01,
               seed: int = 11) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Only what the monthly update changes: the changed and added rows, then the removed keys with _deleted=1."""
    moved, rescored, replaced = split_update(len(old[0]), fraction, seed)
    changed = np.concatenate([moved, rescored, replaced])
    geometry = np.concatenate([new[0][changed], old[0][replaced]])
    columns = {k: np.concatenate([new[1][k][changed], old[1][k][replaced]]) for k in new[1]}
    columns["_deleted"] = np.concatenate([np.zeros(len(changed), np.int32), np.ones(len(replaced), np.int32)])
    return geometry, columns


def monthly_update(geometry: np.ndarray, columns: dict[str, np.ndarray], fraction: float = 0.01,
                   seed: int = 11) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The same layer with ``fraction`` of rows changed: a third moved, a third re-scored, a third replaced."""
    import shapely

    n = len(geometry)
    geometry = geometry.copy()
    columns = {k: v.copy() for k, v in columns.items()}
    moved, rescored, replaced = split_update(n, fraction, seed)
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
    old = make_points(args.rows)
    write_gpkg(args.out / "points.gpkg", *old)
    new = monthly_update(*old)
    write_gpkg(args.out / "points_update.gpkg", *new)
    write_gpkg(args.out / "points_changes.gpkg", *change_set(old, new))
    print(args.out)


if __name__ == "__main__":
    main()
