"""Publish 1M points from GeoPackage: `geoplatform layer publish` vs `ogr2ogr -f PostgreSQL` (COPY), same database.

Each round, A/B alternating: ogr2ogr loads points.gpkg into a fresh table (PK + GiST), we publish it as a
fresh keyed layer (PK, GiST, unique key index); then the monthly update (1% of rows changed) is published
onto that layer twice over, as the whole file (points_update.gpkg: rows compared by hash, only changes
staged) and as a change set (points_changes.gpkg with --changes: only the changed rows and _deleted keys;
applied to a second copy of the layer so both updates start from the same version). Then the same full
publish and change set through the HTTP API of a running `geoplatform serve` (curl uploads the files), where
neither pays the command line's start-up (~0.8 s: Python, Django, numpy/pandas/pyarrow imports), which alone
is more than 10% of a full publish. Prints medians and ratios. Needs DATABASE_URL pointing at a scratch database (it creates tables and catalog rows there); the
data comes from bench/layers_data.py.

    DATABASE_URL=postgresql://postgres@%2F...%2Frun:5432/gp_layers_bench timeout 1200 python bench/layers_publish.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

SLUGS = ("bench-points", "bench-points-changes", "bench-points-api")


def timed(cmd: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def drop_bench_layers(url: str) -> None:
    """Forget the layers of an earlier round (tables, versions); their catalog entries are reused."""
    with psycopg.connect(url, autocommit=True) as conn:
        for layer_id, in conn.execute("SELECT id FROM layers_layer WHERE slug = ANY(%s)", [list(SLUGS)]).fetchall():
            conn.execute(f"DROP TABLE IF EXISTS layer_data.l{int(layer_id)}")
            conn.execute("DELETE FROM layers_layerversion WHERE layer_id = %s", [layer_id])
            conn.execute("DELETE FROM layers_layer WHERE id = %s", [layer_id])
        conn.execute("DROP TABLE IF EXISTS public.ogr_points")
        conn.execute("CHECKPOINT")


def publish(slug: str, path: Path, *extra: str) -> list[str]:
    return ["geoplatform", "layer", "publish", "--owner", "bench", "--name", slug, "--no-progress", *extra, str(path)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("/tmp/layers_bench"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--api-rounds", type=int, help="rounds over HTTP (default: --rounds; 0 skips them)")
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    if not (args.data / "points_changes.gpkg").exists():
        subprocess.run(["python", "bench/layers_data.py", "--out", str(args.data)], check=True)
    subprocess.run(["geoplatform", "migrate"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    info = psycopg.conninfo.conninfo_to_dict(url)
    pg = f"PG:host={info['host']} port={info.get('port', 5432)} user={info['user']} dbname={info['dbname']}"
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT count(*) FROM catalog_department WHERE code = 'bench'").fetchone()[0] == 0:
            subprocess.run(["geoplatform", "department", "add", "bench", "基准测试"], check=True,
                           stdout=subprocess.DEVNULL)
    peer, ours, full_updates, change_updates = [], [], [], []
    for i in range(args.rounds):
        drop_bench_layers(url)
        ogr = ["ogr2ogr", "-f", "PostgreSQL", pg, str(args.data / "points.gpkg"), "-nln", "ogr_points",
               "-overwrite", "--config", "PG_USE_COPY", "YES", "-lco", "SPATIAL_INDEX=GIST"]
        pair = [("ogr2ogr", ogr), ("publish", publish(SLUGS[0], args.data / "points.gpkg", "--key", "code"))]
        for name, cmd in (pair if i % 2 == 0 else pair[::-1]):
            (peer if name == "ogr2ogr" else ours).append(timed(cmd))
        subprocess.run(publish(SLUGS[1], args.data / "points.gpkg", "--key", "code"), check=True)
        full_updates.append(timed(publish(SLUGS[0], args.data / "points_update.gpkg")))
        change_updates.append(timed(publish(SLUGS[1], args.data / "points_changes.gpkg", "--changes")))
        print(f"round {i + 1}: ogr2ogr {peer[-1]:.2f}s  publish {ours[-1]:.2f}s ({ours[-1] / peer[-1]:.2f})  "
              f"update full file {full_updates[-1]:.2f}s  update change set {change_updates[-1]:.2f}s", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        diffs = conn.execute("SELECT l.slug, v.report->'diff' FROM layers_layerversion v JOIN layers_layer l "
                             "ON l.id = v.layer_id WHERE v.number = 2 AND l.slug = ANY(%s) ORDER BY 1", [list(SLUGS)]).fetchall()
    api = over_http(url, args.data, args.rounds if args.api_rounds is None else args.api_rounds)
    drop_bench_layers(url)
    if peer:
        summary(peer, ours, full_updates, change_updates, diffs)
    if api:
        full, changes, late = (statistics.median(times) for times in api)
        print(f"over HTTP: full publish {full:.2f}s, change set {changes:.2f}s = {changes / full:.1%} of a full publish "
              f"(target <= 10%), after a checkpoint {late:.2f}s = {late / full:.1%}")


def summary(peer: list[float], ours: list[float], full_updates: list[float], change_updates: list[float],
            diffs: list) -> None:
    p, o = statistics.median(peer), statistics.median(ours)
    fu, cu = statistics.median(full_updates), statistics.median(change_updates)
    print(f"diffs of the last round: {diffs}")
    print(f"median ogr2ogr {p:.2f}s, publish {o:.2f}s, ratio {o / p:.2f} (target <= 1.0); "
          f"ratio of medians of pairs {statistics.median(a / b for a, b in zip(ours, peer, strict=True)):.2f}")
    print(f"monthly update, 1% changed: whole file {fu:.2f}s = {fu / o:.0%} of a full publish; "
          f"change set {cu:.2f}s = {cu / o:.0%} (target <= 10%)")


def over_http(url: str, data: Path, rounds: int) -> tuple[list[float], list[float], list[float]] | None:
    """(full publish, change set, change set after a checkpoint) times through POST /api/layers/SLUG/versions."""
    if rounds <= 0:
        return None
    sys.path.insert(0, str(Path(__file__).parent))
    import tiles_vector_servers as servers

    key = servers.api_key()
    server = servers.start_ours(url, 1)
    full, changes, after_checkpoint = [], [], []
    try:
        server.wait_ready("/healthz", {})
        for i in range(rounds):
            drop_bench_layers(url)
            full.append(post(server.base, key, data / "points.gpkg", "key=code"))
            changes.append(post(server.base, key, data / "points_changes.gpkg", "changes=true"))
            # The same change set onto a fresh copy after a CHECKPOINT, as a month later: the first change of each
            # page after a checkpoint writes the whole page to the WAL (full_page_writes), ~4 pages per changed row.
            drop_bench_layers(url)
            post(server.base, key, data / "points.gpkg", "key=code")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CHECKPOINT")
            after_checkpoint.append(post(server.base, key, data / "points_changes.gpkg", "changes=true"))
            print(f"over HTTP, round {i + 1}: full publish {full[-1]:.2f}s  change set {changes[-1]:.2f}s "
                  f"({changes[-1] / full[-1]:.1%}), after a checkpoint {after_checkpoint[-1]:.2f}s "
                  f"({after_checkpoint[-1] / full[-1]:.1%})", flush=True)
    finally:
        server.stop()
    return full, changes, after_checkpoint


def post(base: str, key: str, path: Path, field: str) -> float:
    """Seconds for curl to upload ``path`` as a new version of the API layer and get the 201 back."""
    cmd = ["curl", "-sS", "--fail-with-body", "-o", "/dev/null", "-H", f"Authorization: Bearer {key}",
           "-F", f"file=@{path}", "-F", field, f"{base}/api/layers/{SLUGS[2]}/versions"]
    return timed(cmd)


if __name__ == "__main__":
    main()
