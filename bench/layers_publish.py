"""Publish 1M points from GeoPackage: `geoplatform layer publish` vs `ogr2ogr -f PostgreSQL` (COPY), same database.

Runs A B A B ... (each a fresh table, both with primary key and GiST index), then a monthly update with 1%
changed onto the published layer (keyed diff). Prints medians and ratios. Needs DATABASE_URL pointing at a
scratch database (it creates tables and catalog rows there); the data comes from bench/layers_data.py.

    DATABASE_URL=postgresql://postgres@%2F...%2Frun:5432/gp_layers_bench timeout 900 python bench/layers_publish.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

import psycopg


def timed(cmd: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("/tmp/layers_bench"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    if not (args.data / "points.gpkg").exists():
        subprocess.run(["python", "bench/layers_data.py", "--out", str(args.data)], check=True)
    subprocess.run(["geoplatform", "migrate"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    info = psycopg.conninfo.conninfo_to_dict(url)
    pg = f"PG:host={info['host']} port={info.get('port', 5432)} user={info['user']} dbname={info['dbname']}"
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT count(*) FROM catalog_department WHERE code = 'bench'").fetchone()[0] == 0:
            subprocess.run(["geoplatform", "department", "add", "bench", "基准测试"], check=True,
                           stdout=subprocess.DEVNULL)
    ours, peer, updates = [], [], []
    for i in range(args.rounds):
        peer.append(timed(["ogr2ogr", "-f", "PostgreSQL", pg, str(args.data / "points.gpkg"), "-nln", "ogr_points",
                           "-overwrite", "--config", "PG_USE_COPY", "YES", "-lco", "SPATIAL_INDEX=GIST"]))
        slug = f"bench-points-{i}"
        ours.append(timed(["geoplatform", "layer", "publish", "--owner", "bench", "--name", slug, "--key", "code",
                           "--no-progress", str(args.data / "points.gpkg")]))
        updates.append(timed(["geoplatform", "layer", "publish", "--owner", "bench", "--name", slug,
                              "--no-progress", str(args.data / "points_update.gpkg")]))
        print(f"round {i + 1}: ogr2ogr {peer[-1]:.2f}s  publish {ours[-1]:.2f}s  update(1%) {updates[-1]:.2f}s",
              flush=True)
    p, o, u = statistics.median(peer), statistics.median(ours), statistics.median(updates)
    print(f"median ogr2ogr {p:.2f}s, publish {o:.2f}s, ratio {o / p:.2f} (target <= 1.0)")
    print(f"median monthly update (1% changed, full file diffed by key) {u:.2f}s = {u / o:.0%} of a full publish")


if __name__ == "__main__":
    main()
