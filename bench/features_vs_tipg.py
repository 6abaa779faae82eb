"""OGC API Features items pages of 1,000 features/s: ours vs tipg on the same 1M-point table, 32 clients.

The same seeded list of pages for both (limit=1000 at offsets spread over the first 100,000 rows, GeoJSON,
the ten attributes); each round, A/B alternating, both servers are restarted and one pass asks every page
once. Prints requests/s, medians and the ratio. Note: tipg counts the matching rows for numberMatched on
every page (a COUNT(*) over the table); ours knows the count of an unfiltered page from the version.

    DATABASE_URL=postgresql://postgres@%2F...%2Frun:5432/gp_layers_bench \\
        timeout 1800 python bench/features_vs_tipg.py [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import random
import statistics

import tiles_vector_servers as bench


def main() -> None:
    parser = bench.peer_parser(__doc__)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    url, table, key = bench.prepare(args)
    offsets = [random.Random(3).randrange(0, 100) * 1000 for _ in range(args.pages)]
    props = ",".join(f"a{i}" for i in range(1, 11))
    targets = {
        "ours": ([f"/ogc/collections/{bench.SLUG}/items?limit=1000&offset={o}" for o in offsets],
                 {"Authorization": f"Bearer {key}"}, f"/ogc/collections/{bench.SLUG}"),
        "tipg": ([f"/collections/{table}/items?limit=1000&offset={o}&properties={props}&f=geojson" for o in offsets],
                 {}, "/collections"),
    }
    rates: dict[str, list[float]] = {name: [] for name in targets}
    for round_ in range(args.rounds):
        for name in (list(targets) if round_ % 2 == 0 else list(targets)[::-1]):
            server = bench.start_ours(url, args.workers) if name == "ours" else bench.start_tipg(
                url, table, args.workers, 20000, 64)
            paths, headers, ready = targets[name]
            try:
                server.wait_ready(ready, headers)
                result = bench.load(server, paths, headers, args.concurrency, args.max_seconds)
            finally:
                server.stop()
            if set(result.statuses) != {200}:
                raise SystemExit(f"{name}: unexpected statuses {result.statuses}")
            rates[name].append(result.rate)
            print(f"round {round_ + 1} {name}: {result.rate:.1f} pages/s ({result.requests} in {result.seconds:.1f}s, "
                  f"{result.body_bytes / result.requests / 1024:.0f} KB per page)", flush=True)
    ours, peer = statistics.median(rates["ours"]), statistics.median(rates["tipg"])
    print(f"items pages of 1000: ours {ours:.1f}/s, tipg {peer:.1f}/s, ratio {ours / peer:.2f} (target >= 1.0)")


if __name__ == "__main__":
    main()
