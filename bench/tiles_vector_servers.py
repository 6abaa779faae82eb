"""What the vector tile and OGC Features benchmarks share: the benchmark layer, our server and tipg, a load loop.

- The layer: ``bench-tiles``, 1M points with 10 attributes published once (one version, so tipg, which
  reads the table as it is, serves exactly the rows we serve) from bench/layers_data.py's points.gpkg.
- Our server: ``geoplatform serve --workers N`` (one SO_REUSEPORT socket with TCP_NODELAY per process).
- tipg 1.6.1, installed from PyPI into its own venv under /tmp (never into the project's lock), started as
  N uvicorn processes on SO_REUSEPORT sockets with TCP_NODELAY too, reading the same table through the
  same unix socket. Both listen on 127.0.0.1 only and are stopped at the end.
- The load: an asyncio HTTP/1.1 keep-alive client on raw sockets (little CPU per request, so it steals
  little from the servers on this 2-core machine); every loop is bounded in requests and seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

TIPG_VENV = Path("/tmp/tipg-venv")
TIPG_VERSION = "1.6.1"
SLUG = "bench-tiles"
HOST = "127.0.0.1"

# One uvicorn process of tipg on its own SO_REUSEPORT socket with TCP_NODELAY (the same as ours).
TIPG_PROCESS = """
import socket, sys, uvicorn
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
sock.listen(2048)
uvicorn.Server(uvicorn.Config("tipg.main:app", log_level="warning")).run(sockets=[sock])
"""


def peer_parser(description: str) -> argparse.ArgumentParser:
    """The options every ours-vs-tipg script shares."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/tmp/layers_bench"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="processes of each server (the same for both)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=120, help="bound of each pass")
    return parser


def prepare(args: argparse.Namespace) -> tuple[str, str, str]:
    """(database URL, benchmark table, API key), creating the layer and key on first use."""
    url = database_url()
    return url, ensure_layer(url, args.data), api_key()


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("set DATABASE_URL to a scratch database, e.g. the local cluster's gp_layers_bench")
    return url


def geoplatform(*args: str) -> str:
    return subprocess.run(["geoplatform", *args], check=True, capture_output=True, text=True).stdout


def ensure_layer(url: str, data: Path) -> str:
    """The benchmark layer's table (published once when missing) and a key of its owner."""
    geoplatform("migrate")
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT count(*) FROM catalog_department WHERE code = 'bench'").fetchone()[0] == 0:
            geoplatform("department", "add", "bench", "基准测试")
        row = conn.execute("SELECT id, current_version FROM layers_layer WHERE slug = %s", [SLUG]).fetchone()
    if row is None:
        if not (data / "points.gpkg").exists():
            subprocess.run([sys.executable, "bench/layers_data.py", "--out", str(data)], check=True)
        geoplatform("layer", "publish", "--owner", "bench", "--name", SLUG, "--key", "code", "--no-progress",
                    str(data / "points.gpkg"))
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT id, current_version FROM layers_layer WHERE slug = %s", [SLUG]).fetchone()
    if row[1] != 1:
        sys.exit(f"{SLUG} has {row[1]} versions; tipg would serve closed rows too. Drop it and run again.")
    return f"layer_data.l{row[0]}"


def api_key() -> str:
    return geoplatform("apikey", "create", "bench", "--name", "bench-load").strip().splitlines()[-1]


def ensure_tipg() -> Path:
    python = TIPG_VENV / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import tipg; print(tipg.__version__)"], capture_output=True, text=True) \
        if python.exists() else None
    if probe is None or probe.returncode != 0:
        print(f"installing tipg {TIPG_VERSION} into {TIPG_VENV} (PyPI) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"tipg=={TIPG_VERSION}", "uvicorn"], check=True,
                       timeout=600)
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def wait_ready(self, path: str, headers: dict[str, str], seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f"{self.name} exited while starting")
            try:
                with urllib.request.urlopen(urllib.request.Request(self.base + path, headers=headers), timeout=5):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer {path} within {seconds} s")

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def start_ours(url: str, workers: int) -> Server:
    server = Server("geoplatform", free_port())
    env = {**os.environ, "DATABASE_URL": url, "GEOPLATFORM_LOG_LEVEL": "WARNING"}
    server.processes.append(subprocess.Popen(
        ["geoplatform", "serve", "--host", HOST, "--port", str(server.port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, start_new_session=True))
    return server


def start_tipg(url: str, table: str, workers: int, max_features_per_tile: int, tile_buffer: int) -> Server:
    python = ensure_tipg()
    server = Server("tipg", free_port())
    env = {**os.environ, "DATABASE_URL": url, "TIPG_DB_SCHEMAS": '["layer_data"]', "TIPG_DB_TABLES": f'["{table}"]',
           "TIPG_DB_FUNCTIONS": "[]", "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": '["public", "pg_temp"]',
           "TIPG_MAX_FEATURES_PER_TILE": str(max_features_per_tile), "TIPG_TILE_BUFFER": str(tile_buffer),
           "TIPG_MAX_FEATURES_PER_QUERY": "10000", "TIPG_DB_MAX_CONN_SIZE": "10",
           # the feature id: our row id, as ours uses (tipg would otherwise pick the geometry: no single-column
           # unique index on this table, and ordering pages by geometry is no fair comparison)
           f"TIPG_TABLE_CONFIG__{table.replace('.', '_')}__PK": "gp_fid"}
    for _ in range(workers):
        server.processes.append(subprocess.Popen([str(python), "-c", TIPG_PROCESS, str(server.port)], env=env,
                                                 stdout=subprocess.DEVNULL, start_new_session=True))
    return server


@dataclass
class LoadResult:
    requests: int
    seconds: float
    statuses: dict[int, int]
    body_bytes: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _fetch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, int]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
        return status, len(body)
    size = 0  # chunked
    while True:
        length = int((await reader.readuntil(b"\r\n")).strip(), 16)
        await reader.readexactly(length + 2)
        size += length
        if length == 0:
            return status, size


async def _load(port: int, paths: list[str], headers: dict[str, str], concurrency: int, max_seconds: float,
                max_requests: int) -> LoadResult:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    requests = [f"GET {p} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{extra}\r\n".encode() for p in paths]
    statuses: dict[int, int] = {}
    state = {"next": 0, "bytes": 0}
    total = min(max_requests, len(requests))
    start = time.perf_counter()
    deadline = start + max_seconds

    async def client() -> None:
        reader, writer = await asyncio.open_connection(HOST, port, limit=2**24)
        writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while state["next"] < total and time.perf_counter() < deadline:
                i = state["next"]
                state["next"] += 1
                status, size = await _fetch(reader, writer, requests[i])
                statuses[status] = statuses.get(status, 0) + 1
                state["bytes"] += size
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(concurrency))), max_seconds + 60)
    elapsed = time.perf_counter() - start
    return LoadResult(sum(statuses.values()), elapsed, statuses, state["bytes"])


def load(server: Server, paths: list[str], headers: dict[str, str], concurrency: int = 32,
         max_seconds: float = 120, max_requests: int = 100_000) -> LoadResult:
    """Send ``paths`` in order over ``concurrency`` keep-alive connections; stop at the end, the count or time."""
    return asyncio.run(_load(server.port, paths, headers, concurrency, max_seconds, max_requests))
