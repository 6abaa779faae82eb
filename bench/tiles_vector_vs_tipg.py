"""Vector tiles/s: ours (`geoplatform serve`) vs tipg on the same 1M-point table, 32 clients on loopback.

A fixed list of 500+ tiles at z10-z14 over the layer (every tile of the layer's extent at z10 and z11,
a seeded sample at z12-z14). Each round, A/B alternating (the order flips every round): both servers are
restarted (empty caches), then a cold pass asks every tile once, then a warm pass asks the list twice more.
Both cap tiles at the same number of features (ours: GEOPLATFORM_LAYERS_TILE_MAX_FEATURES, default 20000)
and use a 64-pixel buffer; tipg is asked for the same ten attributes. Prints tiles/s, medians and ratios.

    DATABASE_URL=postgresql://postgres@%2F...%2Frun:5432/gp_layers_bench \\
        timeout 1800 python bench/tiles_vector_vs_tipg.py [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import math
import random
import statistics

import tiles_vector_servers as bench

EXTENT = (115.4, 39.4, 117.5, 41.1)  # the benchmark layer's (bench/layers_data.py)
MAX_FEATURES = 20000
BUFFER = 64
ATTRIBUTES = ("code", "name", "district", "category", "employees", "capital", "area_m2", "score", "founded",
              "active")


def tile_range(z: int) -> tuple[range, range]:
    west, south, east, north = EXTENT
    n = 2**z

    def x(lon: float) -> int:
        return int((lon + 180) / 360 * n)

    def y(lat: float) -> int:
        return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    return range(x(west), x(east) + 1), range(y(north), y(south) + 1)


def tile_list(per_zoom: int = 120, seed: int = 5) -> list[tuple[int, int, int]]:
    rng = random.Random(seed)
    tiles = []
    for z in range(10, 15):
        xs, ys = tile_range(z)
        every = [(z, x, y) for x in xs for y in ys]
        tiles.extend(every if z <= 11 else rng.sample(every, min(per_zoom, len(every))))
    rng.shuffle(tiles)
    return tiles


def main() -> None:
    parser = bench.peer_parser(__doc__)
    args = parser.parse_args()
    url, table, key = bench.prepare(args)
    tiles = tile_list()
    print(f"{len(tiles)} tiles z10-z14 ({', '.join(f'z{z}: {sum(t[0] == z for t in tiles)}' for z in range(10, 15))}),"
          f" {args.concurrency} clients, {args.workers} processes per server", flush=True)
    props = ",".join(f"a{i}" for i in range(1, len(ATTRIBUTES) + 1))
    targets = {
        "ours": ([f"/api/layers/{bench.SLUG}/tiles/{z}/{x}/{y}.mvt" for z, x, y in tiles],
                 {"Authorization": f"Bearer {key}"}, f"/api/layers/{bench.SLUG}/tilejson.json"),
        "tipg": ([f"/collections/{table}/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={props}" for z, x, y in tiles],
                 {}, "/collections"),
    }
    results: dict[str, dict[str, list[float]]] = {name: {"cold": [], "warm": []} for name in targets}
    for round_ in range(args.rounds):
        order = list(targets) if round_ % 2 == 0 else list(targets)[::-1]
        for name in order:
            server = (bench.start_ours(url, args.workers) if name == "ours" else
                      bench.start_tipg(url, table, args.workers, MAX_FEATURES, BUFFER))
            paths, headers, ready = targets[name]
            try:
                server.wait_ready(ready, headers)
                cold = bench.load(server, paths, headers, args.concurrency, args.max_seconds)
                warm = bench.load(server, paths * 2, headers, args.concurrency, args.max_seconds)
            finally:
                server.stop()
            if set(cold.statuses) != {200} or set(warm.statuses) != {200}:
                raise SystemExit(f"{name}: unexpected statuses {cold.statuses} {warm.statuses}")
            results[name]["cold"].append(cold.rate)
            results[name]["warm"].append(warm.rate)
            print(f"round {round_ + 1} {name}: cold {cold.rate:.1f} tiles/s ({cold.requests} in {cold.seconds:.1f}s, "
                  f"{cold.body_bytes / 2**20:.0f} MB), warm {warm.rate:.1f} tiles/s ({warm.requests} in "
                  f"{warm.seconds:.1f}s)", flush=True)
    for phase in ("cold", "warm"):
        ours, peer = statistics.median(results["ours"][phase]), statistics.median(results["tipg"][phase])
        print(f"{phase}: ours {ours:.1f} tiles/s, tipg {peer:.1f} tiles/s, ratio {ours / peer:.2f} (target >= 1.5)")


if __name__ == "__main__":
    main()
