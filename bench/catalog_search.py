"""Catalog search latency with 10,000 entries: p50/p95 of GET /api/catalog/ through the whole Django stack.

Side by side in one run: our search (one lower-cased search document, pg_trgm GIN index) and the
naive approach a team would write first (case-insensitive LIKE over each text column, OR-ed, no
index). Prints both percentiles and the ratio. Target: p95 < 50 ms.

    .venv/bin/python bench/catalog_search.py [--entries 10000] [--queries 300]
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
os.environ["GEOPLATFORM_TEST_DB_SUFFIX"] = "_bench_catalog"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Q  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from geoplatform import localdb  # noqa: E402

DISTRICTS = ["东城", "西城", "朝阳", "海淀", "丰台", "石景山", "门头沟", "房山", "通州", "顺义", "昌平", "大兴"]
THEMES = ["道路中心线", "行政区划", "企业登记", "纳税人", "学校", "医院", "公园绿地", "河湖水系", "地铁站点", "公交线路",
          "建筑物轮廓", "土地利用", "规划用地", "不动产登记", "人口网格", "消防设施", "养老机构", "停车场", "充电桩", "路灯"]
YEARS = [str(y) for y in range(2015, 2027)]


def populate(n: int) -> None:
    from django.contrib.gis.geos import Polygon

    from catalog.models import Department, Entry

    if Entry.objects.count() >= n:
        return
    Entry.objects.all().delete()
    departments = [Department.objects.get_or_create(code=f"d{i:02d}", defaults={"name_zh": f"市第{i}局"})[0]
                   for i in range(40)]
    rng = random.Random(7)
    batch = []
    for i in range(n):
        district, theme, year = rng.choice(DISTRICTS), rng.choice(THEMES), rng.choice(YEARS)
        x, y = 115.5 + rng.random() * 1.8, 39.4 + rng.random() * 1.4
        extent = Polygon.from_bbox((x, y, x + 0.1, y + 0.1))
        extent.srid = 4490
        entry = Entry(slug=f"entry-{i}", owner=rng.choice(departments), kind=rng.choice(["layer", "imagery"]),
                      title_zh=f"{district}区{theme}（{year}年）", title_en=f"{theme} {year}",
                      abstract=f"{district}区范围内的{theme}数据，{year}年更新，供各部门共享使用。",
                      keywords=[theme, district], sharing=rng.choice(["open", "application", "unlisted"]),
                      extent=extent)
        entry.search_text = " ".join([entry.slug, entry.title_zh, entry.title_en, entry.abstract,
                                      " ".join(entry.keywords), entry.owner.name_zh, entry.owner.code]).lower()
        batch.append(entry)
    Entry.objects.bulk_create(batch, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_entry")


def naive_search(q: str):
    """What a team writes first: ILIKE on every text column, OR-ed, counted and paged."""
    from catalog.models import Entry

    entries = Entry.objects.all()
    for word in q.split():
        entries = entries.filter(Q(title_zh__icontains=word) | Q(title_en__icontains=word) |
                                 Q(abstract__icontains=word) | Q(keywords__icontains=word) |
                                 Q(owner__name_zh__icontains=word))
    return entries.count(), list(entries.order_by("-updated_at")[:20])


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    localdb.start(say=lambda m: print(f"[db] {m}", file=sys.stderr))
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, keepdb=True)
    populate(args.entries)

    from catalog.keys import create_api_key
    from catalog.models import Department

    _key, raw = create_api_key(Department.objects.get(code="d01"), "bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    rng = random.Random(11)
    queries = []
    for _ in range(args.queries):
        kind = rng.random()
        if kind < 0.4:
            queries.append({"q": rng.choice(THEMES)})
        elif kind < 0.7:
            queries.append({"q": f"{rng.choice(DISTRICTS)} {rng.choice(THEMES)[:2]}"})
        elif kind < 0.85:
            queries.append({"q": rng.choice(THEMES)[:2], "department": f"d{rng.randrange(40):02d}"})
        else:
            queries.append({"q": rng.choice(YEARS), "bbox": "116.0,39.6,116.6,40.1", "kind": "layer"})
    for q in queries[:20]:  # warm up
        client.get("/api/catalog/", q)
    ours, naive = [], []
    for q in queries:  # A B A B: both under the same machine noise
        t0 = time.perf_counter()
        response = client.get("/api/catalog/", q)
        ours.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.content
        t0 = time.perf_counter()
        naive_search(q["q"])
        naive.append((time.perf_counter() - t0) * 1000)
    print(f"catalog search, {args.entries} entries, {len(queries)} queries (ms)")
    print(f"  ours  (full API request, trigram index): p50 {statistics.median(ours):6.1f}  p95 {percentile(ours, 95):6.1f}")
    print(f"  naive (ORM query only, ILIKE per column): p50 {statistics.median(naive):6.1f}  p95 {percentile(naive, 95):6.1f}")
    print(f"  p95 ratio naive/ours: {percentile(naive, 95) / percentile(ours, 95):.2f}  (target: ours p95 < 50 ms)")


if __name__ == "__main__":
    main()
