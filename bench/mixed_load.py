"""Mixed load (issue #11): 8 department apps at once against one real ``geoplatform serve``, for 30 s.

What it sets up (idempotent, all in its own places):

- a database of its own, ``gp_mixed_bench`` on the local cluster (created from template1, which has
  PostGIS), migrated and loaded with the demo city (``geoplatform migrate`` + ``geoplatform demo``), and a
  data folder of its own, ``.data/bench-mixed/`` (GEOPLATFORM_DATA_DIR: demo credentials, COGs, the
  geocoding index cache, the server log), so the checkout's own database and files are not touched;
- the demo's waiting application (税务局 swj asks for 市场主体登记信息 businesses) checked by the data
  authority and approved by the owner with the credit code masked, through the HTTP API, so one client
  reads a layer under a masking grant;
- one fresh API key per client, in the client's demo department (earlier runs' keys are revoked);
- ``geoplatform serve --host 127.0.0.1 --port 18660 --workers 2``, its output in
  ``.data/bench-mixed/server.log``; it is stopped at the end, also on an error or Ctrl-C.

The load: one asyncio process, one keep-alive connection per client, closed loop (a client sends its next
request when the previous one has been read). Each client draws the kind of its next request from the mix
(default: vector tiles 40%, imagery tiles 30%, OGC API items pages 15%, single geocoding 15% — a map-heavy
portal: a map view asks for many tiles, a search or a lookup for one request):

- ``mvt``: ``/api/layers/SLUG/tiles/z/x/y.mvt`` from the URL template of the layer's TileJSON, z10–z16
  over the demo city, for each layer the client's department may read (Bearer key, as an app sends it);
- ``imagery``: tile URLs exactly as the TileJSON of ``aerial-imagery`` 2024/2025 hands them out (a signed
  tile token in the URL, no key), its zoom levels within its bounds;
- ``items``: ``/ogc/collections/SLUG/items`` pages (limit 10–100, bbox, CQL2 filters, offset paging);
- ``geocode``: ``GET /api/geocode?q=`` with addresses of the demo gazetteer (full, without the city, road
  and number only, and some that are not in it); each client stays under its key's rate limit
  (GEOPLATFORM_GEOCODE_RATE, default 600/min), as a well-behaved app does, so 429s are errors.

Any non-2xx answer, connection error or timeout is an error; the script prints per kind requests, errors,
p50/p95/p99 latency and throughput, the CPU the client, the web server and PostgreSQL used, and exits 1 if
any error occurred (samples and the server log's tracebacks are printed).

    python bench/mixed_load.py [--seconds 30] [--clients 8] [--repeat 3] [--port 18660] [--workers 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import load_client as lc
import morecantile
import psycopg

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DBNAME = "gp_mixed_bench"
WORK = ROOT / ".data" / "bench-mixed"
KEY_NAME = "mixed-load"
#: The demo departments the clients belong to, in order (more clients than departments: two apps each
#: for the transport commission and market regulation, the busiest map users).
CLIENT_DEPARTMENTS = ["jtw", "mzj", "ghzrzyw", "scjgj", "swj", "zsj", "jtw", "scjgj"]
OPEN_LAYERS = ["roads", "townships", "districts"]
BUSINESS_READERS = {"scjgj", "swj"}  # the owner and, after set-up, the holder of the masked grant
IMAGERY, IMAGERY_YEARS = "aerial-imagery", (2024, 2025)
DEFAULT_MIX = "mvt=40,imagery=30,items=15,geocode=15"
KIND_TITLES = {"mvt": "vector tiles (MVT)", "imagery": "imagery tiles", "items": "OGC API items pages",
               "geocode": "geocode (GET)"}
CITY_BBOX = (116.17, 39.75, 116.66, 40.08)
FILTERS = {"roads": ["grade = '主干路'", "grade = '次干路' AND name LIKE '%路%'"],
           "townships": ["district = '东城区'", "name LIKE '%街道%'"],
           "districts": ["code IN ('110191', '110193')"],
           # only fields swj's grant includes (credit_code, name, address, status): scjgj and swj share the list
           "businesses": ["name LIKE '%餐饮%'", "status = '存续' AND address LIKE '%路%'", "status IN ('注销')"]}


# --- set-up -----------------------------------------------------------------------------------------------

#: The venv's command next to this interpreter (`.venv/bin/python bench/mixed_load.py` needs no PATH), else PATH's.
_VENV_GEOPLATFORM = Path(sys.executable).parent / "geoplatform"
GEOPLATFORM = str(_VENV_GEOPLATFORM) if _VENV_GEOPLATFORM.exists() else "geoplatform"


def gp(env: dict, *args: str, timeout: float = 1800) -> str:
    done = subprocess.run([GEOPLATFORM, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    if done.returncode:
        raise SystemExit(f"geoplatform {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def database_url(explicit: str | None) -> str:
    """``--database-url``, else gp_mixed_bench on the local cluster (created when missing). DATABASE_URL in
    the environment is ignored on purpose: it may name another benchmark's or the checkout's database."""
    if explicit:
        return explicit
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    gp(env, "db", "start")  # a no-op when the local cluster runs
    base = gp(env, "db", "url").strip()
    with psycopg.connect(base, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DBNAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DBNAME}" TEMPLATE template1')
    return base.rsplit("/", 1)[0] + "/" + DBNAME


def load_demo(env: dict) -> None:
    started = time.monotonic()
    gp(env, "migrate")
    gp(env, "demo")
    print(f"set-up: migrate + demo in {time.monotonic() - started:.1f} s", flush=True)


def fresh_keys(env: dict, departments: list[str]) -> list[str]:
    """One new key per client (earlier runs' keys revoked, so no rate-limit window carries over)."""
    code = (
        "from django.utils import timezone\n"
        "from catalog.keys import create_api_key\n"
        "from catalog.models import ApiKey, Department\n"
        f"ApiKey.objects.filter(name={KEY_NAME!r}, revoked_at__isnull=True).update(revoked_at=timezone.now())\n"
        f"for code in {departments!r}:\n"
        f"    print('KEY', create_api_key(Department.objects.get(code=code), {KEY_NAME!r})[1])\n")
    out = gp(env, "manage", "shell", "-c", code)
    keys = [line.split()[1] for line in out.splitlines() if line.startswith("KEY ")]
    if len(keys) != len(departments):
        raise SystemExit(f"expected {len(departments)} keys, got:\n{out}")
    return keys


def demo_addresses(url: str, count: int, rng: random.Random) -> list[str]:
    """Queries as people type them: full gazetteer addresses, without the city, road + number only, and a
    few that are in no gazetteer (they must answer 200 with level none, not an error)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT a.standard_address, a.district, a.road, a.house_number FROM geocoding_address a "
            "JOIN geocoding_gazetteerversion v ON v.id = a.version_id WHERE v.is_active "
            "ORDER BY md5(a.address_id) LIMIT %s", [count]).fetchall()
    if not rows:
        raise SystemExit("the demo gazetteer is empty: did `geoplatform demo` load it?")
    queries = []
    for full, district, road, number in rows:
        form = rng.random()
        if form < 0.5 or not road or not number:
            queries.append(full)
        elif form < 0.75:
            queries.append(full.removeprefix("示范市"))
        elif form < 0.95:
            queries.append(f"{district or ''}{road}{number}号")
        else:
            queries.append(f"火星市{rng.randint(1, 99)}区无名路{rng.randint(1, 999)}号")
    return queries


# --- the server -------------------------------------------------------------------------------------------

class ServerExited(RuntimeError):
    """The server stopped by itself before answering /healthz."""


class Server:
    """``geoplatform serve`` in a process group of its own, stopped with the whole group."""

    def __init__(self, env: dict, port: int, workers: int, log: Path) -> None:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError as exc:
                raise SystemExit(f"port {port} on {HOST} is in use ({exc.strerror}): stop what listens there "
                                 "or pass --port") from None
        self.port, self.log, self.log_offset = port, log, 0
        self.log_file = log.open("w")
        self.process = subprocess.Popen(
            [GEOPLATFORM, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)],
            env=env, cwd=ROOT, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, seconds: float = 180) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerExited(f"the server exited with {self.process.returncode} while starting:\n"
                                   f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/healthz", timeout=5):
                    return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"the server did not answer /healthz within {seconds:.0f} s:\n{self.log_tail()}")

    def pids(self) -> list[int]:
        return lc.descendants(self.process.pid)

    def new_log(self) -> str:
        """What the server wrote since the last call."""
        self.log_file.flush()
        with self.log.open(errors="replace") as fh:
            fh.seek(self.log_offset)
            text = fh.read()
            self.log_offset = fh.tell()
        return text

    def log_tail(self, lines: int = 60) -> str:
        self.log_file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        try:  # workers left behind by a killed parent
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log_file.close()


def start_server(env: dict, port: int, workers: int, attempts: int = 3) -> Server:
    """A ready server. On this shared machine a start was seen to end at once with status 0 and nothing
    logged (its workers stopped by a signal from outside): such a start is tried again, and said so."""
    for attempt in range(1, attempts + 1):
        server = Server(env, port, workers, WORK / "server.log")
        try:
            server.wait_ready()
            return server
        except ServerExited as exc:
            server.stop()
            if attempt == attempts:
                raise SystemExit(str(exc)) from None
            print(f"start {attempt}: {str(exc).splitlines()[0]}; starting again", flush=True)
        except BaseException:
            server.stop()
            raise
    raise AssertionError("unreachable")


def api(port: int, method: str, path: str, key: str, body: dict | None = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{HOST}:{port}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")[:500]


def ensure_business_grant(port: int, keys: dict[str, str]) -> None:
    """swj's demo application for businesses: checked by zsj (data authority), approved by scjgj with the
    credit code masked to its last 4 characters. Nothing to do when swj already holds that grant."""
    status, grants = api(port, "GET", "/api/grants/", keys["swj"])
    if status != 200:
        raise SystemExit(f"GET /api/grants/ as swj: {status} {grants}")
    now = dt.datetime.now(dt.UTC)
    if any(g["department"] == "swj" and g["entry"] == "businesses" and g["revoked_at"] is None
           and (g["valid_to"] is None or dt.datetime.fromisoformat(g["valid_to"]) > now) for g in grants):
        return
    status, applications = api(port, "GET", "/api/applications/", keys["swj"])
    waiting = [a for a in applications if a["status"] in ("submitted", "checked")
               and any(i["entry"] == "businesses" for i in a["items"])] if status == 200 else []
    if not waiting:
        raise SystemExit(f"swj holds no grant on businesses and has no application waiting for one "
                         f"({status} {applications}); drop the database {DBNAME} and run again")
    application = waiting[0]
    steps = [("check", keys["zsj"], {"conforming": True})] if application["status"] == "submitted" else []
    steps.append(("approve", keys["scjgj"], {"fields": ["credit_code", "name", "address", "status"], "days": 365,
                                             "transforms": {"credit_code": {"kind": "mask", "keep_last": 4}}}))
    for step, key, body in steps:
        status, answer = api(port, "POST", f"/api/applications/{application['id']}/{step}", key, body)
        if status >= 300:
            raise SystemExit(f"POST /api/applications/{application['id']}/{step}: {status} {answer}")
    print(f"set-up: application {application['id']} (swj -> businesses) approved, credit_code masked", flush=True)


# --- what each client asks for -----------------------------------------------------------------------------

def tiles_in(bounds: tuple[float, float, float, float], zooms: range, per_zoom: int,
             rng: random.Random) -> list[tuple[int, int, int]]:
    tms, picked = morecantile.tms.get("WebMercatorQuad"), []
    for z in zooms:
        tiles = list(tms.tiles(*bounds, [z]))
        picked += [(t.z, t.x, t.y) for t in rng.sample(tiles, min(per_zoom, len(tiles)))]
    return picked


def path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def client_requests(port: int, department: str, key: str, addresses: list[str], rng: random.Random,
                    notes: set[str]) -> dict:
    """The request lists of one client: {kind: [(path, headers)]}, from the TileJSONs it is handed; what
    they hold is added to ``notes``."""
    bearer = {"Authorization": f"Bearer {key}"}
    layers = OPEN_LAYERS + (["businesses"] if department in BUSINESS_READERS else [])
    out: dict[str, list[tuple[str, dict]]] = {"mvt": [], "imagery": [], "items": [], "geocode": []}
    for slug in layers:
        status, tilejson = api(port, "GET", f"/api/layers/{slug}/tilejson.json", key)
        if status != 200:
            raise SystemExit(f"TileJSON of {slug} as {department}: {status} {tilejson}")
        template = path_of(tilejson["tiles"][0])
        for z, x, y in tiles_in(CITY_BBOX, range(10, 17), 40, rng):
            out["mvt"].append((template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y)),
                               bearer))
        base = f"/ogc/collections/{slug}/items"
        for _ in range(40):
            w, s = rng.uniform(CITY_BBOX[0], CITY_BBOX[2] - 0.15), rng.uniform(CITY_BBOX[1], CITY_BBOX[3] - 0.1)
            size = rng.uniform(0.03, 0.15)
            query = {"limit": rng.choice([10, 50, 100])}
            form = rng.random()
            if form < 0.35:
                query["bbox"] = f"{w:.4f},{s:.4f},{w + size:.4f},{s + size * 0.75:.4f}"
            elif form < 0.7:
                query["filter"] = rng.choice(FILTERS[slug])
            elif form < 0.85:
                query["offset"] = rng.choice([0, 50, 100, 200])
            out["items"].append((f"{base}?{urllib.parse.urlencode(query)}", bearer))
    for year in IMAGERY_YEARS:
        status, tilejson = api(port, "GET", f"/tiles/{IMAGERY}/{year}/tilejson.json", key)
        if status != 200:
            raise SystemExit(f"imagery TileJSON {IMAGERY}/{year} as {department}: {status} {tilejson}")
        template = path_of(tilejson["tiles"][0])
        zooms = range(tilejson["minzoom"], tilejson["maxzoom"] + 1)  # what a map client asks for
        notes.add(f"imagery: {IMAGERY} {'/'.join(map(str, IMAGERY_YEARS))} z{zooms.start}-z{zooms.stop - 1} "
                  f"within its TileJSON bounds, signed tile token in the URL")
        for z, x, y in tiles_in(tuple(tilejson["bounds"]), zooms, 60, rng):
            out["imagery"].append((template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y)),
                                   {}))
    notes.add(f"{department}: mvt and items of {', '.join(layers)}")
    out["geocode"] = [(f"/api/geocode?q={urllib.parse.quote(q)}", bearer) for q in rng.sample(addresses, 400)]
    return out


def geocode_rate_per_minute() -> float:
    """The server's per-key geocoding limit (DRF syntax, e.g. 600/min) in requests per minute."""
    count, _, period = os.environ.get("GEOPLATFORM_GEOCODE_RATE", "600/min").partition("/")
    return int(count) * 60 / {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[:1]]


def make_pickers(lists: list[dict], weights: dict[str, float], seed: int, geocode_share: float) -> list:
    """One seeded picker per client over its request lists; geocoding paced to ``geocode_share`` of the
    key's limit."""
    pickers = []
    for i, kinds in enumerate(lists):
        pacer = lc.Pacer(geocode_rate_per_minute() * geocode_share)

        def chooser(kind: str, kinds=kinds, pacer=pacer):
            def choose(rng: random.Random) -> lc.Request | None:
                if kind == "geocode" and not pacer.ready():
                    return None
                path, headers = rng.choice(kinds[kind])
                return kind, path, headers
            return choose

        pickers.append(lc.weighted_picker(random.Random(seed * 1000 + i), {k: chooser(k) for k in kinds}, weights))
    return pickers


# --- measuring and reporting --------------------------------------------------------------------------------

def backend_pids(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                           "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")]


def measured_run(server: Server, url: str, pickers: list, seconds: float) -> tuple[lc.RunStats, dict]:
    server_before, pg_before = lc.cpu_seconds(server.pids()), lc.cpu_seconds(backend_pids(url))
    own_before, (busy_before, total_before) = resource.getrusage(resource.RUSAGE_SELF), lc.machine_busy_seconds()
    stats = lc.run_load(HOST, server.port, pickers, seconds)
    own_after, (busy_after, total_after) = resource.getrusage(resource.RUSAGE_SELF), lc.machine_busy_seconds()
    server_after, pg_after = lc.cpu_seconds(server.pids()), lc.cpu_seconds(backend_pids(url))
    cpu = {"client": (own_after.ru_utime + own_after.ru_stime) - (own_before.ru_utime + own_before.ru_stime),
           "server": sum(v - server_before.get(p, 0.0) for p, v in server_after.items()),
           "postgres": sum(v - pg_before.get(p, 0.0) for p, v in pg_after.items()),
           "machine": busy_after - busy_before, "cores": (total_after - total_before) / stats.seconds}
    return stats, cpu


def report_errors(stats: lc.RunStats, server: Server) -> None:
    """Samples of the failed requests, then what the server logged since the last report: each kind of
    error line with its count, and the first traceback in full."""
    print(f"\n{stats.errors} errors; first samples:")
    for s in stats.samples:
        print(f"  {s.kind} {s.status} {s.path[:160]}\n      {s.detail[:240]!r}")
    log = server.new_log()
    lines = [line for line in log.splitlines() if line.startswith(("Internal Server Error", "Bad Request",
                                                                    "Not Found", "Forbidden", "Unauthorized"))]
    for line in sorted(set(lines)):
        print(f"  server log: {lines.count(line)} x {line}")
    if "Traceback" in log:
        print("\nserver log, first traceback:\n" + lc.first_traceback(log))


def git_state() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return head.strip() + (" + uncommitted changes" if dirty else "")


def parse_mix(text: str) -> dict[str, float]:
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in KIND_TITLES:
            raise SystemExit(f"--mix: unknown kind {name!r}; kinds: {', '.join(KIND_TITLES)}")
        mix[name.strip()] = float(weight)
    return mix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of one measured run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="measured runs against the same server (medians)")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds of the same load first, not counted")
    parser.add_argument("--port", type=int, default=18660)
    parser.add_argument("--workers", type=int, default=2, help="processes of geoplatform serve")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"kind=weight,... (default {DEFAULT_MIX})")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep-geocoding-cache", action="store_true",
                        help="keep the geocoding index cached on disk by an earlier run (default: remove it, so the "
                             "workers build the index under load, as after a gazetteer update)")
    parser.add_argument("--database-url", help=f"default: {DBNAME} on the local cluster, created when missing")
    args = parser.parse_args()
    weights = parse_mix(args.mix)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the server is stopped on the way out
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    WORK.mkdir(parents=True, exist_ok=True)
    url = database_url(args.database_url)
    env = {**os.environ, "DATABASE_URL": url, "GEOPLATFORM_DATA_DIR": str(WORK), "GEOPLATFORM_LOG_LEVEL": "WARNING"}
    load_demo(env)
    departments = [CLIENT_DEPARTMENTS[i % len(CLIENT_DEPARTMENTS)] for i in range(args.clients)]
    keys = fresh_keys(env, departments)
    rng = random.Random(args.seed)
    addresses = demo_addresses(url, 2000, rng)
    if not args.keep_geocoding_cache:  # start like a server after a gazetteer update: every worker builds it
        shutil.rmtree(WORK / "geocoding", ignore_errors=True)
    server = start_server(env, args.port, args.workers)
    failed = 0
    try:
        first_key = {d: k for d, k in reversed(list(zip(departments, keys, strict=True)))}
        ensure_business_grant(args.port, first_key)
        notes: set[str] = set()
        lists = [client_requests(args.port, d, k, addresses, rng, notes)
                 for d, k in zip(departments, keys, strict=True)]
        # Each client keeps to 90% of its key's geocoding limit; a closed loop never goes faster anyway.
        pickers = make_pickers(lists, weights, args.seed, geocode_share=0.9)
        when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        print(f"\nmixed load {when}, commit {git_state()}: {args.clients} clients ({', '.join(departments)}), "
              f"each with its own key, one keep-alive connection each, closed loop; geoplatform serve --workers "
              f"{args.workers} on {HOST}:{args.port}; {args.repeat} x {args.seconds:.0f} s after {args.warmup:.0f} s "
              f"of warm-up; load average at start {os.getloadavg()[0]:.2f}", flush=True)
        print("mix drawn per request: " + ", ".join(f"{KIND_TITLES[k]} {100 * w / sum(weights.values()):.0f}%"
                                                     for k, w in weights.items()), flush=True)
        print("vector tiles z10-z16 over the demo city (Bearer key); items pages limit 10-100 with bbox, CQL2 "
              "filter or offset; geocode: demo gazetteer addresses (full, no city, road + number, 5% unknown)\n"
              + "\n".join(sorted(notes)), flush=True)
        warm = lc.run_load(HOST, args.port, pickers, args.warmup)
        print(f"warm-up: {sum(len(k.latencies) for k in warm.kinds.values())} requests, {warm.errors} errors",
              flush=True)
        if warm.errors:
            failed += warm.errors
            report_errors(warm, server)
        runs = []
        for number in range(args.repeat):
            stats, cpu = measured_run(server, url, pickers, args.seconds)
            if server.process.poll() is not None:
                print(f"the server exited with {server.process.returncode} during run {number + 1}", flush=True)
            rows = lc.kind_rows(stats)
            runs.append(rows)
            lc.print_table(rows, f"run {number + 1} of {args.repeat}", KIND_TITLES)
            lc.print_cpu(cpu, stats)
            if stats.errors:
                failed += stats.errors
                report_errors(stats, server)
        if args.repeat > 1:
            median = {name: {field: (sum if field in ("requests", "errors") else statistics.median)(
                [r[name][field] for r in runs]) for field in runs[0][name]} for name in runs[0]}
            lc.print_table(median, f"median of {args.repeat} runs (requests and errors: totals)", KIND_TITLES)
    finally:
        server.stop()
    print(f"\n{'FAILED: ' + str(failed) + ' errors' if failed else 'no errors'}; server log {server.log}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
