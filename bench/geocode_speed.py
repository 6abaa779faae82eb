"""Speed of the batch geocoder, side by side with one pg_trgm query per address.

    python bench/geocode_speed.py [--shared ../shared] [--sizes 100000 1000000] [--workers 2]
                                  [--baseline-sample 300] [--skip-4x] [--skip-baseline]

1. The CLI exactly as users run it (`geoplatform geocode batch IN --column address --out OUT
   --gazetteer gazetteer.csv --workers N`) on two input sizes made of the dev queries and the
   business register's addresses; marginal rate = extra rows / extra seconds, so start-up
   (Django, index build) is separated; each size is run --repeat times, medians quoted.
2. Index memory (RSS growth while building) and build time, for the gazetteer and a 4x one
   (three shifted copies with renamed roads), and the marginal rate against the 4x index.
3. The approach a GIS team tries first: one `ORDER BY standard_address <-> query LIMIT 1`
   (pg_trgm) per address against a table of the same gazetteer, on a bounded sample;
   both rates, their ratio and both accuracies on that sample.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from geocode_scoring import is_correct as correct  # noqa: E402
from geocode_scoring import load_city  # noqa: E402

from geoplatform.geocoding.gazetteer_csv import COLUMNS, read_gazetteer_rows  # noqa: E402
from geoplatform.geocoding.index import build_index  # noqa: E402
from geoplatform.geocoding.match import geocode  # noqa: E402

GEOPLATFORM = str(ROOT / ".venv" / "bin" / "geoplatform")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def make_input(path: Path, n: int, data: Path) -> None:
    pool = [r["query"] for r in csv.DictReader(open(data / "queries_dev.csv", encoding="utf-8"))]
    pool += [r["address"] for r in csv.DictReader(open(data / "business_registry_dev.csv", encoding="utf-8"))]
    rnd = random.Random(n)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "address"])
        for i in range(n):
            w.writerow([i, rnd.choice(pool)])


def run_cli(inp: Path, gazetteer: Path, workers: int, timeout: int) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the biggest child process) of one CLI run."""
    out = inp.with_suffix(".out.csv")
    t0 = time.perf_counter()
    subprocess.run([GEOPLATFORM, "geocode", "batch", str(inp), "--column", "address", "--out", str(out),
                    "--gazetteer", str(gazetteer), "--workers", str(workers), "--no-progress"],
                   check=True, timeout=timeout, capture_output=True)
    wall = time.perf_counter() - t0
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def marginal(sizes: list[int], gazetteer: Path, data: Path, workers: int, repeat: int, tmp: Path,
             label: str) -> float:
    walls = {}
    for n in sizes:
        inp = tmp / f"in_{n}.csv"
        if not inp.exists():
            make_input(inp, n, data)
        runs = [run_cli(inp, gazetteer, workers, timeout=600)[0] for _ in range(repeat)]
        walls[n] = statistics.median(runs)
        print(f"  [{label}] {n:>9,} rows: median {walls[n]:.2f} s over {repeat} runs {[round(r, 2) for r in runs]}")
    (n1, n2) = sizes
    rate = (n2 - n1) / (walls[n2] - walls[n1])
    startup = walls[n1] - n1 / rate
    one = tmp / "in_1.csv"
    if not one.exists():
        make_input(one, 1, data)
    measured = statistics.median(run_cli(one, gazetteer, workers, timeout=600)[0] for _ in range(repeat))
    print(f"  [{label}] marginal rate {rate:,.0f} addresses/s; start-up {startup:.1f} s extrapolated, "
          f"{measured:.1f} s measured (a one-row file: Django + index from CSV); "
          f"peak child RSS {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB")
    return rate


def index_memory(gazetteer: Path, label: str) -> None:
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    index = build_index(read_gazetteer_rows(gazetteer))
    built = time.perf_counter() - t0
    gc.collect()
    print(f"  [{label}] index of {len(index):,} rows: built in {built:.1f} s, RSS +{rss_mb() - before:.0f} MB")
    del index
    gc.collect()


def make_4x(src: Path, dst: Path) -> None:
    """The gazetteer plus three copies with renamed roads and shifted points (a 4x bigger city)."""
    with open(src, encoding="utf-8") as fh, open(dst, "w", encoding="utf-8", newline="") as out:
        rows = list(csv.DictReader(fh))
        w = csv.writer(out)
        w.writerow(COLUMNS)
        for k, mark in enumerate(("", "上", "下", "前")):
            for r in rows:
                road = mark + r["road"]
                std = r["standard_address"].replace(r["road"], road, 1)
                w.writerow([f"{r['address_id']}{mark and k}", std, r["level"], r["district"], r["district_code"],
                            r["township"], r["township_code"], road, f"{r['road_id']}{mark and k}",
                            r["house_number"], r["number_prefix"], r["compound"], r["building"], r["poi"] if not k
                            else "", float(r["lon"]) + 0.3 * k, r["lat"]])


def baseline(data: Path, sample: int, ours_index) -> None:
    """One pg_trgm nearest-neighbour query per address vs the in-memory matcher, same sample."""
    import psycopg

    from geoplatform import localdb

    truth = list(csv.DictReader(open(data / "queries_dev.csv", encoding="utf-8")))
    rnd = random.Random(5)
    picked = rnd.sample(truth, sample)
    with psycopg.connect(localdb.database_url(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        exists = conn.execute("SELECT to_regclass('bench_gazetteer_trgm')").fetchone()[0]
        if not exists:
            print("  loading bench_gazetteer_trgm (once) ...")
            conn.execute("CREATE TABLE bench_gazetteer_trgm (address_id text, standard_address text, lon float8, "
                         "lat float8)")
            with conn.cursor().copy("COPY bench_gazetteer_trgm FROM STDIN") as cp:
                for r in read_gazetteer_rows(data / "gazetteer.csv"):
                    cp.write_row((r.address_id, r.standard_address, r.lon, r.lat))
            conn.execute("CREATE INDEX ON bench_gazetteer_trgm USING gist (standard_address gist_trgm_ops)")
            conn.execute("ANALYZE bench_gazetteer_trgm")
        rows = []
        t0 = time.perf_counter()
        for t in picked:
            rec = conn.execute("SELECT lon, lat FROM bench_gazetteer_trgm ORDER BY standard_address <-> %s LIMIT 1",
                               (t["query"],)).fetchone()
            rows.append({"lon": rec[0], "lat": rec[1], "level": "door"} if rec else {"level": "none"})
        trgm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = [geocode(t["query"], ours_index) for t in picked]
    ours_s = time.perf_counter() - t0
    roads, towns = load_city(data)
    trgm_ok = sum(correct(t, r, roads, towns) for t, r in zip(picked, rows, strict=True))
    ours_ok = sum(correct(t, {"lon": m.lon, "lat": m.lat, "level": m.level}, roads, towns)
                  for t, m in zip(picked, ours, strict=True))
    trgm_rate, ours_rate = sample / trgm_s, sample / ours_s
    print(f"  pg_trgm per address: {trgm_rate:,.1f} addresses/s, {100 * trgm_ok / sample:.1f} % correct "
          f"(sample of {sample})")
    print(f"  our matcher, same sample, one process: {ours_rate:,.0f} addresses/s, "
          f"{100 * ours_ok / sample:.1f} % correct; ratio {ours_rate / trgm_rate:,.0f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--sizes", type=int, nargs=2, default=[100_000, 1_000_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline-sample", type=int, default=300)
    ap.add_argument("--skip-4x", action="store_true")
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args()
    data = args.shared / "data"
    gazetteer = data / "gazetteer.csv"
    with tempfile.TemporaryDirectory(prefix="geocode-speed-") as tmpdir:
        tmp = Path(tmpdir)
        print(f"conditions: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start "
              "(other processes share the cores: quote figures with it)")
        print(f"batch CLI, {args.workers} workers, shared gazetteer:")
        marginal(args.sizes, gazetteer, data, args.workers, args.repeat, tmp, "1x")
        print("index memory:")
        index_memory(gazetteer, "1x")
        if not args.skip_4x:
            big = tmp / "gazetteer_4x.csv"
            make_4x(gazetteer, big)
            index_memory(big, "4x")
            print(f"batch CLI, {args.workers} workers, 4x gazetteer:")
            marginal(args.sizes, big, data, args.workers, args.repeat, tmp, "4x")
        if not args.skip_baseline:
            print("baseline (PostGIS pg_trgm, one query per address):")
            baseline(data, args.baseline_sample, build_index(read_gazetteer_rows(gazetteer)))
    print(f"conditions: load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
