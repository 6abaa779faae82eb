"""Accuracy of the geocoder on the dev queries, per level and per tag (variant).

    python bench/geocode_accuracy.py [--shared ../shared] [--queries Q.csv] [--result OUT.csv] [--reference]

Builds the index from the shared gazetteer, geocodes queries_dev.csv, writes RESULT
(qid, lon, lat, level, score, matched_address, address_id), scores it with
bench/geocode_scoring.py and, with --reference, also runs the reference scorer
(../shared/tools/geocode_score.py) and checks that every figure agrees.
Targets (issue #5): >= 97 % overall, >= 99 % of negatives answered none, <= 0.5 %
wrong answers with a confident level (door/building/poi).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from geocode_scoring import CONFIDENT, score  # noqa: E402

from geoplatform.geocoding.gazetteer_csv import read_gazetteer_rows  # noqa: E402
from geoplatform.geocoding.index import build_index  # noqa: E402
from geoplatform.geocoding.match import geocode  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--result", type=Path, default=Path("/tmp/geocode_dev_result.csv"))
    ap.add_argument("--queries", type=Path, help="another query file of the same shape (e.g. from "
                    "bench/geocode_variants.py); default: the dev queries")
    ap.add_argument("--score-only", action="store_true", help="score an existing --result file")
    ap.add_argument("--reference", action="store_true", help="compare with the reference scorer")
    args = ap.parse_args()
    data = args.shared / "data"
    truth_path = args.queries or data / "queries_dev.csv"
    with open(truth_path, encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    if not args.score_only:
        t0 = time.perf_counter()
        index = build_index(read_gazetteer_rows(data / "gazetteer.csv"))
        t1 = time.perf_counter()
        with open(args.result, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["qid", "lon", "lat", "level", "score", "matched_address", "address_id"])
            for t in truth:
                m = geocode(t["query"], index)
                w.writerow([t["qid"], "" if m.lon is None else m.lon, "" if m.lat is None else m.lat, m.level,
                            m.score, m.matched_address, m.address_id])
        t2 = time.perf_counter()
        print(f"index {len(index):,} rows in {t1 - t0:.1f} s; {len(truth):,} queries in {t2 - t1:.2f} s "
              f"({len(truth) / (t2 - t1):,.0f}/s, one process)")
    report = score(truth_path, args.result, data)
    _print(report)
    _print_strict(truth, args.result)
    ok = (report["ALL"][0] >= 97 and report.get("level:none", (100.0, 0))[0] >= 99
          and report["wrong_but_confident"][0] <= 0.005 * len(truth))
    print(f"targets (>=97 % overall, >=99 % negatives none, <=0.5 % confident-wrong): {'MET' if ok else 'NOT MET'}")
    if args.reference:
        ref_tool = args.shared / "tools" / "geocode_score.py"
        out = subprocess.run([sys.executable, str(ref_tool), str(truth_path), str(args.result), str(data), "--json"],
                             check=True, capture_output=True, text=True).stdout
        ref = {k: tuple(v) for k, v in json.loads(out).items()}
        diff = {k: (report.get(k), v) for k, v in ref.items() if report.get(k) != v}
        print("reference scorer agrees on every figure" if not diff and len(ref) == len(report)
              else f"DISAGREES with reference scorer: {diff}")
        return 1 if diff else 0
    return 0 if ok else 1


def _print(report: dict) -> None:
    print(f"{'group':28s} {'correct %':>9s} {'n':>7s}")
    for key, (pct, n) in report.items():
        if key != "wrong_but_confident":
            print(f"{key:28s} {pct:9.2f} {n:7d}")
    wrong, n = report["wrong_but_confident"]
    print(f"{'wrong_but_confident':28s} {wrong:9d} {n:7d}  ({100 * wrong / n:.3f} %, "
          f"{10_000 * wrong / n:.1f} per 10,000)")


def _print_strict(truth: list[dict], result_path: Path) -> None:
    """Stricter than the reference: a confident level on a road/township/none truth counts too."""
    with open(result_path, encoding="utf-8") as fh:
        by_qid = {r["qid"]: r for r in csv.DictReader(fh)}
    confident = sum(1 for t in truth if t["truth_level"] not in CONFIDENT + ("interpolated",)
                    and by_qid[t["qid"]]["level"] in CONFIDENT)
    print(f"{'confident level on a road/township/none truth':46s} {confident}")


if __name__ == "__main__":
    sys.exit(main())
