"""Held-out-style address variants, one set per failure class of issue 15, from the gazetteer.

    python bench/geocode_variants.py [--shared ../shared] [--out /tmp/geocode_variants.csv] [--per-class 300]
    python bench/geocode_accuracy.py --queries /tmp/geocode_variants.csv

Writes a file shaped like queries_dev.csv (qid, query, truth_level, truth_id, truth_lon,
truth_lat, truth_road_id, tags) with the class as the tag, drawn with a fixed seed from
gazetteer.csv, so bench/geocode_accuracy.py scores it per class. It is a measuring set, not
a tuning set: the geocoder is tuned on the dev queries and measured on this once.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geoplatform.geocoding.fuzzy import same_sound  # noqa: E402

SEED = 15
_CN = "零一二三四五六七八九"
_FIELDS = ["qid", "query", "truth_level", "truth_id", "truth_lon", "truth_lat", "truth_road_id", "tags"]


def cn_numeral(n: int) -> str:
    """1-999 as people write it (五十七, 一百零三)."""
    if n >= 100:
        h, rest = divmod(n, 100)
        return _CN[h] + "百" + ("" if rest == 0 else ("零" + _CN[rest] if rest < 10 else cn_numeral(rest)
                                                      if rest >= 20 else "一" + cn_numeral(rest)))
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else "十" if tens == 1 else _CN[tens] + "十") + (_CN[ones] if ones or not tens else "")


def _one_slip(a: str, b: str) -> bool:
    diff = [k for k, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                              and a[diff[1]] == b[diff[0]])


def build_variants(rows: list[dict], per_class: int, rng: random.Random) -> list[tuple[str, dict, str, str]]:
    """(query, truth row, truth level, class) tuples, ``per_class`` of each class at most."""
    doors = [r for r in rows if r["level"] == "door" and not r["number_prefix"] and r["compound"] != "1"]
    districts = sorted({r["district"] for r in rows})
    roads_by_name: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        roads_by_name[r["road"]].add(r["district"])
    out: list[tuple[str, dict, str, str]] = []

    def take(cls: str, make) -> None:
        found, tries = 0, 0
        while found < per_class and tries < per_class * 200:
            tries += 1
            made = make()
            if made:
                out.append((made[0], made[1], made[2] if len(made) > 2 else "door", cls))
                found += 1

    def district_slip():
        r = rng.choice(doors)
        stem = r["district"][:-1]
        if rng.random() < 0.6:
            bad = stem[::-1]
        else:
            k = rng.randrange(len(stem))
            other = rng.choice([c for d in districts for c in d[:-1] if c not in stem])
            bad = stem[:k] + other + stem[k + 1:]
        bad += r["district"][-1]
        close = [d for d in districts if len(d) == len(bad) and d != bad and _one_slip(bad[:-1], d[:-1])]
        if bad in districts or len(close) != 1:
            return None
        town = r["township"] if rng.random() < 0.5 else ""
        return f"{bad}{town}{r['road']}{r['house_number']}号", r

    names = set(roads_by_name)
    shortened = [(r, r["road"][:k] + r["road"][k + 1:]) for r in doors for k in range(len(r["road"]))
                 if len(r["road"]) >= 4 and r["road"][:k] + r["road"][k + 1:] in names]

    def road_shortened():
        if not shortened:
            return None
        r, short = rng.choice(shortened)
        return f"{r['district']}{r['township']}{short}{r['house_number']}号", r

    by_len: dict[int, list[str]] = defaultdict(list)
    for name in names:
        by_len[len(name)].append(name)
    pairs = []
    for group in by_len.values():
        index: dict[str, list[str]] = defaultdict(list)
        for name in group:
            for k in range(len(name)):
                index[name[:k] + "?" + name[k + 1:]].append(name)
        for key, same in index.items():
            k = key.index("?")
            for a in same:
                for b in same:
                    if a != b and same_sound(a[k], b[k]):
                        pairs.append((a, b))
    soundalike_doors = defaultdict(list)
    for r in doors:
        soundalike_doors[r["road"]].append(r)
    soundalike = [(a, b) for a, b in pairs if soundalike_doors[a]
                  and not (roads_by_name[b] & {d["district"] for d in soundalike_doors[a]})]

    def sound_alike():
        if not soundalike:
            return None
        a, typo = rng.choice(soundalike)
        r = rng.choice(soundalike_doors[a])
        if r["district"] in roads_by_name[typo]:
            return None
        return f"{r['district']}{typo}{r['house_number']}号", r

    def chinese_number():
        r = rng.choice(doors)
        n = int(r["house_number"])
        tail = rng.choice(["#", "#3层", "座", "B座1503", "(2层)", ""])
        return f"{r['district']}{r['road']}{cn_numeral(n)}{tail}", r

    prefixed = [r for r in rows if r["level"] == "door" and r["number_prefix"] and r["compound"] != "1"]

    def prefix_number():
        r = rng.choice(prefixed)
        return f"{r['district']}{r['road']}{r['number_prefix']}{cn_numeral(int(r['house_number']))}#", r

    def glued_number():
        r = rng.choice(doors)
        if rng.random() < 0.5:
            tail = f"{rng.randint(2, 9)}层"
        else:
            tail = f"{rng.randint(1, 20)}{rng.randint(1, 30):02d}室"
        return f"{r['district']}{r['road']}{r['house_number']}{tail}", r

    towns_of: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        towns_of[r["district"]].add(r["township"])
    glue_districts = [d for d in districts if d[:-1] + "镇" in towns_of[d]]
    glue_doors = [r for r in doors if r["district"] in glue_districts and r["township"] != r["district"][:-1] + "镇"]

    def glued_township():
        if not glue_doors:
            return None
        r = rng.choice(glue_doors)
        short = r["district"][:-1]
        glue = rng.choice([short, short + "镇"])
        return f"{glue}{r['township']}{r['road']}{r['house_number']}号", r

    former = [r for r in doors if r["district"] in ("西城区", "东城区")]
    former_names = {"西城区": "宣武", "东城区": "崇文"}
    with_numeral = [r for r in doors if re.search(f"[{_CN[1:]}十](?=[街条巷路里])", r["road"])]

    def old_district_or_digit():
        if rng.random() < 0.5 and former:
            r = rng.choice(former)
            old = "原" + former_names[r["district"]] + rng.choice(["区", ""])
            return f"{old}{r['township']}{r['road']}{r['house_number']}号", r
        if not with_numeral:
            return None
        r = rng.choice(with_numeral)
        digits = {c: str(i) for i, c in enumerate(_CN)} | {"十": "10"}
        road = re.sub(f"[{_CN[1:]}十](?=[街条巷路里])", lambda m: digits[m.group(0)], r["road"], count=1)
        return f"{r['district']}{road}{r['house_number']}号", r

    towns = {(r["district"], r["township"]): r for r in rows}

    def township_only():
        (district, township), r = rng.choice(sorted(towns.items()))
        district_text = rng.choice([district, district[:-1], ""])
        truth = dict(r, address_id=r["township_code"])
        return f"{district_text}{township}", truth, "township"

    take("c1_district_slip", district_slip)
    take("c2_road_shortened", road_shortened)
    take("c3_sound_alike", sound_alike)
    take("c4_chinese_number", chinese_number)
    take("c4_prefix_number", prefix_number)
    take("c4_glued_number", glued_number)
    take("c5_glued_township", glued_township)
    take("c6_old_district_or_digit", old_district_or_digit)
    take("c7_township_only", township_only)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--out", type=Path, default=Path("/tmp/geocode_variants.csv"))
    ap.add_argument("--per-class", type=int, default=300)
    ap.add_argument("--seed", type=int, default=SEED, help="another seed gives a fresh set of the same classes")
    args = ap.parse_args()
    with open(args.shared / "data" / "gazetteer.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    variants = build_variants(rows, args.per_class, random.Random(args.seed))
    with open(args.out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(_FIELDS)
        for i, (query, r, level, cls) in enumerate(variants, 1):
            w.writerow([f"V{i:06d}", query, level, r["address_id"], r["lon"], r["lat"], r["road_id"], cls])
    counts: dict[str, int] = defaultdict(int)
    for *_, cls in variants:
        counts[cls] += 1
    print(f"{len(variants)} variants written to {args.out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
